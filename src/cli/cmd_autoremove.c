/*
 * ipm autoremove: remove the packages installed as dependencies that no
 * explicitly installed package needs any more, directly or not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/install.h"
#include "ipm/xalloc.h"

void cli_note_unneeded(struct cli *cli, char *const *before, size_t nbefore)
{
	struct ipm_buf list = IPM_BUF_INIT;
	char **now = NULL;
	size_t nnow = 0, fresh = 0;

	if (cli->quiet)
		return;
	if (ipm_db_package_unneeded(&now, &nnow, cli->ctx.db) < 0) {
		ipm_error_clear();
		return;
	}
	for (size_t i = 0; i < nnow; i++) {
		size_t k;
		for (k = 0; k < nbefore && strcmp(before[k], now[i]); k++)
			;
		if (k < nbefore)
			continue;
		ipm_buf_addf(&list, "%s'%s'", fresh ? ", " : "", now[i]);
		fresh++;
	}
	if (fresh)
		fprintf(stderr, "%s %s no longer needed (installed as %s): 'ipm autoremove' removes %s\n", list.ptr,
			fresh == 1 ? "is" : "are", fresh == 1 ? "a dependency" : "dependencies",
			fresh == 1 ? "it" : "them");
	ipm_buf_release(&list);
	xfree_strv(now, nnow);
}

int cmd_autoremove(struct cli *cli, int argc, char **argv)
{
	const char *opt, *value;
	char **names = NULL;
	size_t n = 0;
	int yes = 0, dry_run = 0, idx = 1, r, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		if (strcmp(opt, "-y") == 0 || strcmp(opt, "--yes") == 0)
			yes = 1;
		else if (strcmp(opt, "--dry-run") == 0)
			dry_run = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	if ((rc = cli_open(cli)) < 0)
		return rc;
	cli->ctx.assume_yes = yes;
	if ((rc = ipm_db_package_unneeded(&names, &n, cli->ctx.db)) < 0)
		return rc;
	if (n == 0) {
		if (!cli->quiet)
			fprintf(stderr, "nothing to remove: every installed package is needed\n");
		goto done;
	}
	/* what goes is its own dependency closure: nothing needed depends on
	 * it, so the usual dependents check passes */
	if ((rc = ipm_remove_check(&cli->ctx, (const char *const *)names, n, 0)) < 0)
		goto done;
	if (!(cli->quiet && yes && !dry_run)) {
		printf("%sipm will remove %zu package%s that no installed package needs from '%s':%s\n",
		       cli_bold(cli), n, n == 1 ? "" : "s", cli->ctx.cfg.prefix, cli_reset(cli));
		for (size_t i = 0; i < n; i++) {
			struct ipm_package_row row = { 0 };
			if ((rc = ipm_db_package_get(&row, cli->ctx.db, names[i], 0)) < 0)
				goto done;
			printf("  %s %s (dependency)\n", row.name, row.version);
			ipm_package_row_release(&row);
		}
		fflush(stdout);
	}
	if (dry_run) {
		if (!cli->quiet)
			fprintf(stderr, "dry run: nothing was removed\n");
		goto done;
	}
	if ((rc = cli_approve(cli, yes, "remove packages", "removal")) < 0)
		goto done;
	if ((rc = ipm_remove_set(&cli->ctx, (const char *const *)names, n)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "removed %s\n", names[i]);
done:
	xfree_strv(names, n);
	return rc;
}
