/*
 * ipm upgrade: every outdated package (or the named ones) to the newest
 * release its pin and its dependents allow, as one plan run by the install
 * code path: new versions are built beside the installed ones, which stay
 * until the new build is committed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/install.h"
#include "ipm/outdated.h"
#include "ipm/xalloc.h"

static const struct ipm_outdated *find(const struct ipm_outdated *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	return NULL;
}

/* Why o stays where it is, for messages: "pinned (=1.0)" / "'app' needs ^1". */
static char *held_reason(const struct ipm_outdated *o)
{
	if (o->pin && (!o->held_by || !strcmp(o->held_by, "pin")))
		return xasprintf("it is pinned (%s)", o->pin);
	if (o->held_by)
		return xasprintf("installed '%s' does not allow it", o->held_by);
	return xstrdup("no release is allowed");
}

int cmd_upgrade(struct cli *cli, int argc, char **argv)
{
	struct ipm_outdated *list = NULL;
	struct ipm_plan_want *wants = NULL;
	struct ipm_plan plan = { 0 };
	const char *opt, *value;
	const char **names = NULL;
	size_t nnames = 0, n = 0, nwants = 0;
	int yes = 0, dry_run = 0, idx = 1, r, rc = 0;

	names = xcalloc((size_t)argc, sizeof(*names));
	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2) {
			rc = CLI_EXIT_USAGE;
			goto done;
		}
		if (r == 0) {
			names[nnames++] = argv[idx++];
			continue;
		}
		if (strcmp(opt, "-y") == 0 || strcmp(opt, "--yes") == 0)
			yes = 1;
		else if (strcmp(opt, "--dry-run") == 0)
			dry_run = 1;
		else {
			rc = cli_usage_error(cli, "unknown option '%s'", opt);
			goto done;
		}
	}
	if ((rc = cli_open(cli)) < 0)
		goto done;
	if ((rc = ipm_outdated_list(&list, &n, &cli->ctx)) < 0)
		goto done;
	wants = xcalloc(n ? n : 1, sizeof(*wants));

	/* named packages: each must be installed; one that is held is an error */
	for (size_t i = 0; i < nnames; i++) {
		const struct ipm_outdated *o = find(list, n, names[i]);
		struct ipm_package_row row = { 0 };

		if ((rc = ipm_db_package_get(&row, cli->ctx.db, names[i], 0)) < 0) {
			if (rc == IPM_ENOTFOUND) {
				rc = ipm_error_set(IPM_ENOTFOUND, "package '%s' is not installed", names[i]);
				ipm_error_hint("install it with 'ipm install %s'; 'ipm list' shows what is installed",
					       names[i]);
			}
			goto done;
		}
		if (!o) {
			if (!cli->quiet)
				fprintf(stderr, "'%s' %s is the newest release\n", row.name, row.version);
		} else if (!o->target) {
			char *why = held_reason(o);
			rc = ipm_error_set(IPM_ECONFLICT, "not upgrading '%s' %s to %s: %s", o->name, o->installed,
					   o->newest, why);
			if (o->pin)
				ipm_error_hint("run 'ipm unpin %s' first to let it change", o->name);
			else
				ipm_error_hint("upgrade '%s' too, or remove it", o->held_by);
			free(why);
			ipm_package_row_release(&row);
			goto done;
		} else {
			size_t k;
			for (k = 0; k < nwants && strcmp(wants[k].name, o->name); k++)
				;
			if (k == nwants) {
				wants[nwants].name = o->name;
				wants[nwants].version = o->target;
				wants[nwants].explicit_install = o->explicit_install;
				wants[nwants].registry = o->registry;
				nwants++;
			}
		}
		ipm_package_row_release(&row);
	}
	/* no names: every outdated package that may move */
	for (size_t i = 0; nnames == 0 && i < n; i++) {
		const struct ipm_outdated *o = &list[i];
		if (!o->target) {
			char *why = held_reason(o);
			if (!cli->quiet)
				fprintf(stderr, "not upgrading '%s' %s to %s: %s\n", o->name, o->installed, o->newest,
					why);
			free(why);
			continue;
		}
		wants[nwants].name = o->name;
		wants[nwants].version = o->target;
		wants[nwants].explicit_install = o->explicit_install;
		wants[nwants].registry = o->registry;
		nwants++;
	}
	if (nwants == 0) {
		if (!cli->quiet && nnames == 0)
			fprintf(stderr, "nothing to upgrade: %s\n",
				n ? "every outdated package is held" : "all installed packages are up to date");
		goto done;
	}
	if ((rc = ipm_plan_build_exact(&plan, &cli->ctx, wants, nwants)) < 0)
		goto done;
	rc = cli_plan_execute(cli, &plan, yes, dry_run, 0, "upgrade");
done:
	ipm_plan_release(&plan);
	ipm_outdated_free(list, n);
	free(wants);
	free(names);
	return rc;
}
