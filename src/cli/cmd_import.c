/*
 * ipm import FILE: install exactly the packages of a lock file, at their
 * versions and commits (or checksums), as one plan run by the install code
 * path. A release that no registry offers any more is built from the entry
 * the lock file carries, and the plan says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/install.h"
#include "ipm/lockfile.h"
#include "ipm/xalloc.h"

int cmd_import(struct cli *cli, int argc, char **argv)
{
	struct ipm_lockfile lf = { 0 };
	struct ipm_plan_want *wants = NULL;
	struct ipm_plan plan = { 0 };
	const char *opt, *value, *file = NULL;
	char *text = NULL;
	size_t len = 0;
	struct stat st = { 0 };
	int yes = 0, dry_run = 0, idx = 1, r, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0) {
			if (file)
				return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
			file = argv[idx++];
			continue;
		}
		if (strcmp(opt, "-y") == 0 || strcmp(opt, "--yes") == 0)
			yes = 1;
		else if (strcmp(opt, "--dry-run") == 0)
			dry_run = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	if (!file)
		return cli_usage_error(cli, "name the lock file to import");
	/* the file is read and checked before anything is opened or locked */
	if (stat(file, &st) < 0 || S_ISDIR(st.st_mode)) {
		rc = ipm_error_set(IPM_ENOTFOUND, "cannot read lock file '%s': %s", file,
				   S_ISDIR(st.st_mode) ? "it is a directory" : strerror(errno));
		ipm_error_hint("write one with 'ipm export FILE'");
		return rc;
	}
	if ((rc = ipm_file_read(&text, &len, file)) < 0)
		return rc;
	if ((rc = ipm_lockfile_parse(&lf, text, len, file)) < 0)
		goto done;
	if (lf.n == 0) {
		if (!cli->quiet)
			fprintf(stderr, "'%s' lists no packages: nothing to import\n", file);
		goto done;
	}
	if ((rc = cli_open(cli)) < 0)
		goto done;
	wants = xcalloc(lf.n, sizeof(*wants));
	for (size_t i = 0; i < lf.n; i++) {
		wants[i].name = lf.pkgs[i].name;
		wants[i].version = lf.pkgs[i].version;
		wants[i].explicit_install = lf.pkgs[i].explicit_install;
		wants[i].registry = lf.pkgs[i].registry;
		wants[i].method = lf.pkgs[i].method;
		wants[i].resolved = lf.pkgs[i].resolved;
		wants[i].entry_json = lf.pkgs[i].entry_json;
	}
	if ((rc = ipm_plan_build_exact(&plan, &cli->ctx, wants, lf.n)) < 0) {
		ipm_error_prefix("importing '%s'", file);
		goto done;
	}
	rc = cli_plan_execute(cli, &plan, yes, dry_run, 0, "import");
	for (size_t i = 0; rc == 0 && !dry_run && !cli->quiet && i < plan.n; i++)
		if (plan.items[i].source_note && !plan.items[i].installed)
			fprintf(stderr, "note: %s\n", plan.items[i].source_note);
done:
	ipm_plan_release(&plan);
	ipm_lockfile_release(&lf);
	free(wants);
	free(text);
	return rc;
}
