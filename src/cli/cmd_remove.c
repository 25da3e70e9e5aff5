/*
 * ipm remove: check dependents, show what goes, confirm, remove them all
 * in one transaction, and name the dependencies it left unneeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/install.h"
#include "ipm/xalloc.h"

int cmd_remove(struct cli *cli, int argc, char **argv)
{
	const char *opt, *value;
	const char **names = NULL;
	char **unneeded_before = NULL;
	size_t nnames = 0, i, j, nunneeded_before = 0;
	int yes = 0, force = 0, dry_run = 0, idx = 1, r, rc = 0;

	names = xcalloc((size_t)argc, sizeof(*names));
	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2) {
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		if (r == 0) {
			const char *name = argv[idx++];
			for (j = 0; j < nnames; j++)
				if (strcmp(names[j], name) == 0)
					break;
			if (j == nnames)
				names[nnames++] = name;
			continue;
		}
		if (strcmp(opt, "-y") == 0 || strcmp(opt, "--yes") == 0)
			yes = 1;
		else if (strcmp(opt, "--force") == 0)
			force = 1;
		else if (strcmp(opt, "--dry-run") == 0)
			dry_run = 1;
		else {
			rc = cli_usage_error(cli, "unknown option '%s'", opt);
			goto done;
		}
	}
	if (nnames == 0) {
		rc = cli_usage_error(cli, "nothing to remove");
		goto done;
	}

	rc = cli_open(cli);
	if (rc < 0)
		goto done;
	cli->ctx.assume_yes = yes;

	rc = ipm_remove_check(&cli->ctx, names, nnames, force);
	if (rc < 0)
		goto done;

	/* Shown unless already approved (--yes) with -q; a dry run's list is its result. */
	for (i = 0; i < nnames && !(cli->quiet && yes && !dry_run); i++) {
		struct ipm_package_row pkg = { 0 };
		size_t nlinks = 0;

		if (i == 0)
			printf("%sipm will remove %zu package%s from '%s':%s\n", cli_bold(cli), nnames,
			       nnames == 1 ? "" : "s", cli->ctx.cfg.prefix, cli_reset(cli));
		rc = ipm_db_package_get(&pkg, cli->ctx.db, names[i], 1);
		if (rc < 0)
			goto done;
		for (j = 0; j < pkg.nfiles; j++)
			if (pkg.files[j].type != 'd')
				nlinks++;
		printf("  %s %s (%zu file%s, store '%s')\n", pkg.name, pkg.version, nlinks,
		       nlinks == 1 ? "" : "s", pkg.store_dir ? pkg.store_dir : "?");
		if (cli->verbose)
			for (j = 0; j < pkg.nfiles; j++)
				if (pkg.files[j].type != 'd')
					printf("    %s\n", pkg.files[j].path);
		ipm_package_row_release(&pkg);
	}
	fflush(stdout);
	if (dry_run) {
		if (!cli->quiet)
			fprintf(stderr, "dry run: nothing was removed\n");
		goto done;
	}
	rc = cli_approve(cli, yes, "remove packages", "removal");
	if (rc < 0)
		goto done;
	rc = ipm_db_package_unneeded(&unneeded_before, &nunneeded_before, cli->ctx.db);
	if (rc < 0)
		goto done;
	/* one transaction: all of them go, or none */
	rc = ipm_remove_set(&cli->ctx, names, nnames);
	if (rc < 0) {
		if (nnames > 1)
			fprintf(stderr, "nothing was changed: the removal was rolled back\n");
		goto done;
	}
	for (i = 0; i < nnames; i++)
		fprintf(stderr, "removed %s\n", names[i]);
	cli_note_unneeded(cli, unneeded_before, nunneeded_before);
done:
	xfree_strv(unneeded_before, nunneeded_before);
	free(names);
	return rc;
}
