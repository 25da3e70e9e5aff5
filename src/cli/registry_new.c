/*
 * ipm registry new NAME (--git URL [--tag TAG] | --url URL) [--version V]
 *     [--description TEXT] [--license SPDX] [--homepage URL] [--dir REGISTRY_DIR]
 * ipm registry new --from-installed NAME [--dir REGISTRY_DIR]
 *
 * Writes REGISTRY_DIR/packages/NAME.json with the source pinned and a recipe
 * guessed (src/scaffold.c), then says what it found and what is left to fill in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/scaffold.h"
#include "ipm/xalloc.h"

/* Writes the entry ipm guessed when it installed `name` from a repository
 * that no registry knew: the recipe that worked, for a pull request. */
static int from_installed(struct cli *cli, const char *name, const char *dir_opt)
{
	struct ipm_package_row row = { 0 };
	char *dir = NULL, *path = NULL;
	int rc;

	cli->needs |= IPM_NEED_DB_READ;
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_db_package_get(&row, cli->ctx.db, name, 0)) < 0) {
		ipm_error_hint("install it first: ipm install OWNER/REPO --trust-guess");
		goto done;
	}
	if (!row.guessed_entry) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' was installed from registry '%s', not from a guessed entry", name,
				   row.registry ? row.registry : "?");
		ipm_error_hint("its entry is in that registry already");
		goto done;
	}
	if ((rc = ipm_scaffold_registry_dir(&dir, dir_opt)) < 0)
		goto done;
	path = strcmp(dir, ".") == 0 ? xasprintf("packages/%s.json", name)
				     : xasprintf("%s/packages/%s.json", dir, name);
	if ((rc = ipm_scaffold_write(path, row.guessed_entry)) < 0)
		goto done;
	printf("%s\n", path);
	if (!cli->quiet)
		fprintf(stderr, "wrote the entry that installed '%s' %s; next: review it, then run "
			"'ipm registry check %s'\n", name, row.version, path);
done:
	ipm_package_row_release(&row);
	free(path);
	free(dir);
	return rc;
}

int cmd_registry_new(struct cli *cli, int argc, char **argv)
{
	struct ipm_scaffold_opts opts = { 0 };
	struct ipm_scaffold made = { 0 };
	const char *opt, *value, *dir_opt = NULL, *installed = NULL;
	char *dir = NULL, *path = NULL;
	int idx = 1, r, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx,
				    "--git --tag --url --version --description --license --homepage --dir --from-installed",
				    &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0) {
			if (opts.name)
				return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
			opts.name = argv[idx++];
			continue;
		}
		if (!strcmp(opt, "--git"))
			opts.git = value;
		else if (!strcmp(opt, "--tag"))
			opts.tag = value;
		else if (!strcmp(opt, "--url"))
			opts.url = value;
		else if (!strcmp(opt, "--version"))
			opts.version = value;
		else if (!strcmp(opt, "--description"))
			opts.description = value;
		else if (!strcmp(opt, "--license"))
			opts.license = value;
		else if (!strcmp(opt, "--homepage"))
			opts.homepage = value;
		else if (!strcmp(opt, "--dir"))
			dir_opt = value;
		else if (!strcmp(opt, "--from-installed"))
			installed = value;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	if (installed) {
		if (opts.name || opts.git || opts.url || opts.tag || opts.version || opts.description ||
		    opts.license || opts.homepage)
			return cli_usage_error(cli, "--from-installed NAME takes only --dir");
		return from_installed(cli, installed, dir_opt);
	}
	if (!opts.name)
		return cli_usage_error(cli, "'registry new' needs the package's NAME");
	if (opts.git && opts.url)
		return cli_usage_error(cli, "give either --git or --url, not both");
	if (!opts.git && !opts.url)
		return cli_usage_error(cli, "'registry new' needs the source: --git URL or --url ARCHIVE_URL");
	if (opts.tag && !opts.git)
		return cli_usage_error(cli, "--tag goes with --git (an archive is one release already)");

	rc = cli_open(cli);
	if (rc < 0)
		goto done;
	if ((rc = ipm_scaffold_registry_dir(&dir, dir_opt)) < 0)
		goto done;
	path = strcmp(dir, ".") == 0 ? xasprintf("packages/%s.json", opts.name)
				     : xasprintf("%s/packages/%s.json", dir, opts.name);
	opts.path = path;
	if ((rc = ipm_scaffold_make(&made, &cli->ctx.fetch, &opts)) < 0)
		goto done;
	if ((rc = ipm_scaffold_write(path, made.json)) < 0)
		goto done;

	printf("%s\n", path);
	if (!cli->quiet) {
		if (made.commit)
			fprintf(stderr, "pinned '%s' %s at commit %s%s%s%s\n", opts.git, made.version,
				made.commit, made.tag ? " (tag '" : "", made.tag ? made.tag : "",
				made.tag ? "')" : "");
		else
			fprintf(stderr, "pinned '%s' %s with sha256 %s\n", opts.url, made.version, made.sha256);
		fprintf(stderr, "version %s: from %s\n", made.version, made.version_from);
		if (*made.methods)
			fprintf(stderr, "found %s: wrote methods %s\n", made.found, made.methods);
		else
			fprintf(stderr, "found no build file (CMakeLists.txt, meson.build, configure, "
				"configure.ac, Makefile) at the top of the source: wrote no method\n");
		fprintf(stderr, "next: fill in %s in %s, then run 'ipm registry check %s'\n", made.missing,
			path, path);
	}
done:
	ipm_scaffold_release(&made);
	free(path);
	free(dir);
	return rc;
}
