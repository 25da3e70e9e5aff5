/*
 * The outcome of a plan, package by package, for install (and the commands
 * that run plans the same way: upgrade, import).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ipm/install.h"

void cli_plan_report(struct cli *cli, const struct ipm_plan *plan, const struct ipm_plan_outcome *o, int rc)
{
	size_t installed = 0, undone = 0, todo = 0;

	if (!o->items)
		return;
	for (size_t i = 0; i < plan->n; i++) {
		installed += o->items[i] == IPM_ITEM_INSTALLED;
		undone += o->items[i] == IPM_ITEM_UNDONE;
		todo += o->items[i] != IPM_ITEM_SKIPPED;
	}
	if (rc == 0) {
		if (cli->quiet)
			return;
		for (size_t i = 0; i < plan->n; i++)
			if (o->items[i] == IPM_ITEM_INSTALLED)
				fprintf(stderr, "installed %s %s\n", plan->items[i].entry.name,
					plan->items[i].release->version);
		if (installed > 1)
			fprintf(stderr, "installed %zu packages\n", installed);
		return;
	}
	/* A single package's failure says enough in the error itself. */
	if (todo <= 1 && undone == 0)
		return;
	for (size_t i = 0; i < plan->n && !cli->quiet; i++) {
		const struct ipm_plan_item *it = &plan->items[i];
		const char *what = NULL;
		switch (o->items[i]) {
		case IPM_ITEM_UNDONE:
			what = "built, then undone";
			break;
		case IPM_ITEM_FAILED:
			what = o->reason && strncmp(o->reason, "interrupted", 11) == 0 ? "interrupted" : "FAILED";
			break;
		case IPM_ITEM_CANCELLED:
			what = "cancelled while building";
			break;
		case IPM_ITEM_PENDING:
			what = "not built";
			break;
		default:
			break;
		}
		if (what)
			fprintf(stderr, "  %s %s: %s\n", it->entry.name, it->release->version, what);
	}
	if (o->failed != IPM_PLAN_NONE_FAILED)
		fprintf(stderr, "installed 0, failed 1: %s (%s)\n", plan->items[o->failed].entry.name,
			o->reason ? o->reason : "?");
	fprintf(stderr, "nothing was changed: the plan was rolled back%s\n",
		undone ? " (the packages built before the failure were undone too)" : "");
}
