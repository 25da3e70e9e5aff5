/*
 * ipm rollback: back to the state after an earlier transaction, by
 * relinking kept store trees; shown, confirmed, then one transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/error.h"
#include "ipm/rollback.h"

static void print_item(const struct ipm_rollback_item *it)
{
	printf("  ");
	if (!it->from_version)
		printf("+");
	else if (!it->to_version)
		printf("-");
	cli_print_shown(it->name, 2);
	if (!it->from_version)
		printf(" %s\n", it->to_version);
	else if (!it->to_version)
		printf(" %s\n", it->from_version);
	else if (it->rebuilt)
		printf(" %s (its earlier build)\n", it->to_version);
	else
		printf(" %s -> %s\n", it->from_version, it->to_version);
}

int cmd_rollback(struct cli *cli, int argc, char **argv)
{
	struct ipm_rollback_plan plan = { 0 };
	const char *opt, *value, *target_arg = NULL;
	long long target = -1;
	int64_t id = 0;
	int yes = 0, dry_run = 0, idx = 1, r, rc = 0;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0) {
			if (target_arg)
				return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
			target_arg = argv[idx++];
			continue;
		}
		if (strcmp(opt, "-y") == 0 || strcmp(opt, "--yes") == 0)
			yes = 1;
		else if (strcmp(opt, "--dry-run") == 0)
			dry_run = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	if (target_arg) {
		char *end = NULL;
		errno = 0;
		target = strtoll(target_arg, &end, 10);
		if (errno || !*target_arg || *end || target < 0)
			return cli_usage_error(cli, "'%s' is not a transaction number (see 'ipm history')", target_arg);
	}
	if ((rc = cli_open(cli)) < 0)
		return rc;
	cli->ctx.assume_yes = yes;
	if ((rc = ipm_rollback_plan(&plan, &cli->ctx, target)) < 0)
		goto done;
	if (plan.n == 0) {
		if (!cli->quiet)
			fprintf(stderr, "nothing to do: the installed packages are as transaction %lld left them\n",
				(long long)plan.target);
		goto done;
	}
	if (!(cli->quiet && yes && !dry_run)) {
		if (plan.target == 0)
			printf("%sipm will return to the state before the first transaction:%s\n", cli_bold(cli),
			       cli_reset(cli));
		else
			printf("%sipm will return to the state after transaction %lld:%s\n", cli_bold(cli),
			       (long long)plan.target, cli_reset(cli));
		for (size_t i = 0; i < plan.n; i++)
			print_item(&plan.items[i]);
		fflush(stdout);
	}
	if (dry_run) {
		if (!cli->quiet)
			fprintf(stderr, "dry run: nothing was changed\n");
		goto done;
	}
	if ((rc = cli_approve(cli, yes, "roll back", "rollback")) < 0)
		goto done;
	rc = ipm_rollback_run(&id, &cli->ctx, &plan);
	if (rc < 0) {
		if (plan.n > 1 && !cli->quiet)
			fprintf(stderr, "nothing was changed: the rollback was undone\n");
		goto done;
	}
	fprintf(stderr, "rolled back to transaction %lld (recorded as transaction %lld)\n",
			(long long)plan.target, (long long)id);
done:
	ipm_rollback_plan_release(&plan);
	return rc;
}
