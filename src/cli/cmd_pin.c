/*
 * ipm pin NAME [CONSTRAINT] / ipm unpin NAME: hold an installed package at
 * its version (or within CONSTRAINT); upgrade, install and dependency plans
 * respect it (src/plan.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

/* The operands of pin and unpin: at least min, at most max. */
static int operands(struct cli *cli, int argc, char **argv, const char **ops, int min, int max)
{
	const char *opt, *value;
	int n = 0, idx = 1, r;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 1)
			return cli_usage_error(cli, "unknown option '%s'", opt);
		if (n == max)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		ops[n++] = argv[idx++];
	}
	if (n < min)
		return cli_usage_error(cli, "name the package");
	return 0;
}

static int not_installed(const char *name)
{
	int rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", name);
	ipm_error_hint("only installed packages can be pinned; 'ipm list' shows them");
	return rc;
}

int cmd_pin(struct cli *cli, int argc, char **argv)
{
	const char *ops[2] = { NULL, NULL };
	struct ipm_package_row row = { 0 };
	char *constraint = NULL;
	int rc;

	if ((rc = operands(cli, argc, argv, ops, 1, 2)) != 0)
		return rc;
	if (ops[1] && ipm_constraint_valid(ops[1]) <= 0) {
		rc = ipm_error_set(IPM_EINVAL, "invalid version constraint '%s'", ops[1]);
		ipm_error_hint("write e.g. 1.7.19, ^1.7 or >=1.2, <2");
		return rc;
	}
	if ((rc = cli_open(cli)) < 0)
		return rc;
	if ((rc = ipm_db_package_get(&row, cli->ctx.db, ops[0], 0)) < 0)
		return rc == IPM_ENOTFOUND ? not_installed(ops[0]) : rc;
	constraint = ops[1] ? xstrdup(ops[1]) : xasprintf("=%s", row.version);
	if (ipm_constraint_match(constraint, row.version) != 1) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' %s is outside '%s'", row.name, row.version, constraint);
		ipm_error_hint("pin within a constraint the installed version meets, or install the version you "
			       "want first (ipm install %s@VERSION)", row.name);
		goto done;
	}
	if ((rc = ipm_db_pin_set(cli->ctx.db, row.name, constraint)) < 0)
		goto done;
	if (!cli->quiet)
		fprintf(stderr, "pinned %s %s (%s): upgrade leaves it %s\n", row.name, row.version, constraint,
			ops[1] ? "within that" : "as it is");
done:
	free(constraint);
	ipm_package_row_release(&row);
	return rc;
}

int cmd_unpin(struct cli *cli, int argc, char **argv)
{
	const char *ops[1] = { NULL };
	int rc;

	if ((rc = operands(cli, argc, argv, ops, 1, 1)) != 0)
		return rc;
	if ((rc = cli_open(cli)) < 0)
		return rc;
	rc = ipm_db_pin_clear(cli->ctx.db, ops[0]);
	if (rc == IPM_ENOTFOUND) {
		rc = ipm_error_set(IPM_ENOTFOUND, "'%s' is not pinned", ops[0]);
		ipm_error_hint("'ipm outdated' and 'ipm info NAME' show the pinned packages");
	}
	if (rc == 0 && !cli->quiet)
		fprintf(stderr, "unpinned %s\n", ops[0]);
	return rc;
}
