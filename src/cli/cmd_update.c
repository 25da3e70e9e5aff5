/*
 * ipm update [--force]: bring every configured registry's index up to date.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/outdated.h"
#include "ipm/registry.h"
#include "ipm/xalloc.h"

/* The last line of an update: what the fresh indexes mean for what is
 * installed. */
static void note_outdated(struct cli *cli)
{
	struct ipm_outdated *list = NULL;
	size_t n = 0;

	if (ipm_outdated_list(&list, &n, &cli->ctx) < 0) {
		ipm_error_clear();
		return;
	}
	if (n == 0)
		printf("no installed package is outdated\n");
	else
		printf("%zu installed package%s outdated: run 'ipm outdated'\n", n, n == 1 ? " is" : "s are");
	ipm_outdated_free(list, n);
}

int cmd_update(struct cli *cli, int argc, char **argv)
{
	const char *opt, *value;
	size_t i;
	unsigned flags = 0;
	int idx = 1, r, rc, failed = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		if (strcmp(opt, "--force") == 0) {
			flags |= IPM_SYNC_FORCE;
			continue;
		}
		return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	rc = cli_open(cli);
	if (rc < 0)
		return rc;

	/* One registry failing (offline, moved) does not stop the others. */
	for (i = 0; i < cli->ctx.cfg.nregistries; i++) {
		const struct ipm_registry_conf *reg = &cli->ctx.cfg.registries[i];
		struct ipm_registry_row row = { 0 };
		int changed = 0;

		rc = ipm_registry_sync_flags(&cli->ctx, reg, flags, &changed);
		if (rc < 0) {
			char *msg = xstrdup(ipm_error_message());
			char *hint = xstrdup(ipm_error_hint_text());
			printf("%s: failed\n", reg->name);
			fflush(stdout);
			cli_error(cli, msg, hint);
			free(msg);
			free(hint);
			ipm_error_clear();
			failed = 1;
			continue;
		}
		if (ipm_db_registry_get(&row, cli->ctx.db, reg->name) == 0) {
			if (changed)
				printf("%s: updated, %lld package%s\n", reg->name, (long long)row.nentries,
				       row.nentries == 1 ? "" : "s");
			else
				printf("%s: up to date, %lld package%s\n", reg->name,
				       (long long)row.nentries, row.nentries == 1 ? "" : "s");
			ipm_registry_row_release(&row);
		} else {
			ipm_error_clear();
			printf("%s: %s\n", reg->name, changed ? "updated" : "up to date");
		}
	}
	/* a name two registries offer is a name one of them can take over:
	 * said on every update (local registries were imported on the way in) */
	fflush(stdout);
	if (ipm_registry_warn_shared(&cli->ctx, 10) < 0) {
		cli_error(cli, ipm_error_message(), ipm_error_hint_text());
		ipm_error_clear();
		failed = 1;
	}
	note_outdated(cli);
	return failed ? CLI_EXIT_FAILURE : 0;
}
