/*
 * Rollback: the difference between the installed packages and a state from
 * history, applied through one transaction.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ipm/error.h"
#include "ipm/fs.h"
#include "ipm/interrupt.h"
#include "ipm/log.h"
#include "ipm/rollback.h"
#include "ipm/txn.h"
#include "ipm/xalloc.h"

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void add_item(struct ipm_rollback_plan *p, size_t *alloc, const char *name, const char *from,
		     const char *to, int rebuilt)
{
	XGROW(p->items, *alloc, p->n + 1);
	p->items[p->n].name = xstrdup(name);
	p->items[p->n].from_version = xstrdup(from);
	p->items[p->n].to_version = xstrdup(to);
	p->items[p->n].rebuilt = rebuilt;
	p->n++;
}

void ipm_rollback_plan_release(struct ipm_rollback_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].name);
		free(p->items[i].from_version);
		free(p->items[i].to_version);
	}
	free(p->items);
	for (size_t i = 0; i < p->nstate; i++)
		ipm_package_row_release(&p->state[i]);
	free(p->state);
	memset(p, 0, sizeof(*p));
}

static const struct ipm_package_row *find_row(const struct ipm_package_row *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

/* The first file of p (relative path) that its store tree lacks, or NULL:
 * a tree changed by hand would leave links dangling. */
static const char *missing_file(const struct ipm_package_row *p)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		struct stat st;
		char *path;
		int gone;

		if (p->files[i].type == 'd')
			continue;
		path = xasprintf("%s/%s", p->store_dir, p->files[i].path);
		gone = lstat(path, &st) < 0;
		free(path);
		if (gone)
			return p->files[i].path;
	}
	return NULL;
}

int ipm_rollback_plan(struct ipm_rollback_plan *out, struct ipm_ctx *ctx, int64_t target)
{
	struct ipm_package_row *now = NULL;
	size_t nnow = 0, alloc = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ipm_db_history_last(&out->last, ctx->db)) < 0)
		return rc;
	if (out->last == 0) {
		rc = ipm_error_set(IPM_ENOTFOUND, "there is no transaction to roll back to: the history is empty");
		ipm_error_hint("every install and remove is recorded by 'ipm history'");
		return rc;
	}
	if (target < 0)
		target = out->last - 1;
	if (target > out->last) {
		rc = ipm_error_set(IPM_ENOTFOUND, "there is no transaction %lld: the last one is %lld",
				   (long long)target, (long long)out->last);
		ipm_error_hint("'ipm history' lists them; 0 is the state before the first");
		return rc;
	}
	out->target = target;
	if ((rc = ipm_db_history_state(&out->state, &out->nstate, ctx->db, target)) < 0)
		goto done;
	if ((rc = ipm_db_package_list(&now, &nnow, ctx->db)) < 0)
		goto done;
	/* removals first: their paths may be taken by what comes back */
	for (size_t i = 0; i < nnow; i++)
		if (!find_row(out->state, out->nstate, now[i].name))
			add_item(out, &alloc, now[i].name, now[i].version, NULL, 0);
	for (size_t i = 0; i < out->nstate && rc == 0; i++) {
		const struct ipm_package_row *want = &out->state[i];
		const struct ipm_package_row *have = find_row(now, nnow, want->name);

		if (have && same_str(have->store_dir, want->store_dir) && same_str(have->version, want->version) &&
		    have->explicit_install == want->explicit_install)
			continue;
		if (!(have && same_str(have->store_dir, want->store_dir))) {
			const char *missing = NULL;
			if (!ipm_is_dir(want->store_dir)) {
				rc = ipm_error_set(IPM_ENOTFOUND, "cannot roll back to transaction %lld: the store tree "
						   "of '%s' %s was deleted by 'ipm clean' ('%s')", (long long)target,
						   want->name, want->version, want->store_dir);
			} else if ((missing = missing_file(want))) {
				rc = ipm_error_set(IPM_ENOTFOUND, "cannot roll back to transaction %lld: the store tree "
						   "of '%s' %s lacks '%s' ('%s')", (long long)target, want->name,
						   want->version, missing, want->store_dir);
			}
			if (rc < 0) {
				ipm_error_hint("rollback relinks kept trees and never rebuilds: install it again with "
					       "'ipm install %s@%s'", want->name, want->version);
				break;
			}
		}
		add_item(out, &alloc, want->name, have ? have->version : NULL, want->version,
			 have && same_str(have->version, want->version));
	}
done:
	for (size_t i = 0; i < nnow; i++)
		ipm_package_row_release(&now[i]);
	free(now);
	if (rc < 0)
		ipm_rollback_plan_release(out);
	return rc;
}

int ipm_rollback_run(int64_t *out_id, struct ipm_ctx *ctx, const struct ipm_rollback_plan *plan)
{
	struct ipm_txn *txn = NULL;
	const char **names = NULL;
	const struct ipm_package_row **rows = NULL;
	int rc = 0;

	for (size_t i = 0; i < plan->n && rc == 0; i++)
		rc = ipm_txn_check_unfinished(ctx, plan->items[i].name);
	if (rc < 0 || (rc = ipm_interrupt_check()) < 0)
		return rc;
	if ((rc = ipm_txn_begin(&txn, ctx)) < 0)
		return rc;
	names = xcalloc(plan->n ? plan->n : 1, sizeof(*names));
	rows = xcalloc(plan->n ? plan->n : 1, sizeof(*rows));
	for (size_t i = 0; i < plan->n; i++) {
		const struct ipm_rollback_item *it = &plan->items[i];
		names[i] = it->name;
		rows[i] = it->to_version ? find_row(plan->state, plan->nstate, it->name) : NULL;
	}
	/* removals come first in the plan: what they free, the others take */
	rc = ipm_txn_switch_many(txn, names, rows, plan->n);
	free(names);
	free(rows);
	if (rc == 0)
		rc = ipm_interrupt_check();
	if (rc == 0)
		rc = ipm_txn_commit(out_id, txn);
	ipm_txn_free(txn);
	return rc;
}
