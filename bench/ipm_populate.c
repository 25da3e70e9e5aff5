/*
 * ipm_populate: fills an ipm database with N installed packages (each with a
 * few files and a dependency on its predecessor) through the engine's own
 * db API, for the list/info benchmarks.
 *   ipm_populate DB N [NAMES]
 * With NAMES, a file of "name version registry" lines (at least N), the
 * packages are those (for the outdated benchmark: names of registry
 * entries, at versions older than or equal to their latest), and each
 * dependency carries a constraint, as installs record them.
 */
#include <stdio.h>
#include <stdlib.h>
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/xalloc.h"

int main(int argc, char **argv)
{
	struct ipm_db *db = NULL;
	FILE *names = NULL;
	char **name_of = NULL, **version_of = NULL, **registry_of = NULL;
	int n;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: ipm_populate DB N [NAMES]\n");
		return 2;
	}
	n = atoi(argv[2]);
	if (argc == 4) {
		char name[256], version[128], registry[128];
		if (!(names = fopen(argv[3], "r"))) {
			perror(argv[3]);
			return 1;
		}
		name_of = xcalloc((size_t)n, sizeof(*name_of));
		version_of = xcalloc((size_t)n, sizeof(*version_of));
		registry_of = xcalloc((size_t)n, sizeof(*registry_of));
		for (int i = 0; i < n; i++) {
			if (fscanf(names, "%255s %127s %127s", name, version, registry) != 3) {
				fprintf(stderr, "ipm_populate: '%s' has fewer than %d lines\n", argv[3], n);
				return 1;
			}
			name_of[i] = xstrdup(name);
			version_of[i] = xstrdup(version);
			registry_of[i] = xstrdup(registry);
		}
		fclose(names);
	}
	if (ipm_db_open(&db, argv[1], IPM_DB_WRITE) < 0) {
		fprintf(stderr, "ipm_populate: %s\n", ipm_error_message());
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct ipm_file_row files[4];
		char *deps[1], *constraints[1] = { ">=0.1" };
		struct ipm_package_row p = { 0 };

		p.name = name_of ? xstrdup(name_of[i]) : xasprintf("installed-%05d", i);
		p.version = version_of ? xstrdup(version_of[i]) : xasprintf("1.%d.0", i % 40);
		p.registry = registry_of ? registry_of[i] : "bundled";
		p.source = xasprintf("git https://example.org/installed-%05d.git @ %040d", i, i);
		p.resolved = xasprintf("%040d", i);
		p.method = "make";
		p.store_dir = xasprintf("/nonexistent/store/%s/%s", p.name, p.version);
		/* the prefix of the home, as ipm records it: one home, one prefix */
		p.prefix = getenv("IPM_PREFIX") ? getenv("IPM_PREFIX") : "/nonexistent/prefix";
		p.explicit_install = i % 3 == 0;
		p.installed_at = 1790000000 + i;
		files[0] = (struct ipm_file_row){ xasprintf("include/installed-%05d.h", i), 'f', xasprintf("%064d", i) };
		files[1] = (struct ipm_file_row){ xasprintf("lib/libinstalled-%05d.a", i), 'f', xasprintf("%064d", i + 1) };
		files[2] = (struct ipm_file_row){ xasprintf("lib/pkgconfig/installed-%05d.pc", i), 'f', xasprintf("%064d", i + 2) };
		files[3] = (struct ipm_file_row){ xasprintf("share/doc/installed-%05d", i), 'd', NULL };
		p.files = files;
		p.nfiles = 4;
		if (i > 0) {
			deps[0] = name_of ? xstrdup(name_of[i - 1]) : xasprintf("installed-%05d", i - 1);
			p.depends = deps;
			p.depend_constraints = name_of ? constraints : NULL;
			p.ndepends = 1;
		}
		if (ipm_db_package_add(db, &p) < 0) {
			fprintf(stderr, "ipm_populate: %s\n", ipm_error_message());
			return 1;
		}
		for (int f = 0; f < 4; f++) {
			free(files[f].path);
			free(files[f].sha256);
		}
		if (p.ndepends)
			free(deps[0]);
		free(p.name);
		free(p.version);
		free(p.source);
		free(p.resolved);
		free(p.store_dir);
	}
	ipm_db_free(db);
	return 0;
}
