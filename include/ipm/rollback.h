#ifndef IPM_ROLLBACK_H
#define IPM_ROLLBACK_H
#include <stddef.h>
#include <stdint.h>
#include "ctx.h"
#include "db.h"
/*
 * Rollback: back to the installed state after an earlier transaction of
 * history (see txn.h and `ipm history`), by relinking the store trees that
 * transaction left, which stay until `ipm clean` (no rebuild). The rollback
 * is itself a transaction in history, all or nothing like any other.
 */

struct ipm_rollback_item {
	char *name;
	char *from_version;   /* installed now; NULL: not installed now */
	char *to_version;     /* after the rollback; NULL: removed */
	int rebuilt;          /* same version, another build of it (or only its row differs) */
};

struct ipm_rollback_plan {
	int64_t target;       /* the transaction whose state comes back (0: before the first) */
	int64_t last;         /* the last transaction now */
	struct ipm_rollback_item *items;   /* removals first, then by name */
	size_t n;
	struct ipm_package_row *state;     /* the target state's rows */
	size_t nstate;
};

/*
 * The changes that return to the state after transaction target; target < 0:
 * the one before the last. Errors: no such transaction (IPM_ENOTFOUND, with
 * a hint), no history yet, and a store tree the target needs that `ipm
 * clean` deleted (IPM_ENOTFOUND naming the package, its version and the
 * tree, with the install command as hint). n == 0: already in that state.
 */
int ipm_rollback_plan(struct ipm_rollback_plan *out, struct ipm_ctx *ctx, int64_t target);
void ipm_rollback_plan_release(struct ipm_rollback_plan *p);

/* Runs the plan as one transaction; *out_id (may be NULL) its number. */
int ipm_rollback_run(int64_t *out_id, struct ipm_ctx *ctx, const struct ipm_rollback_plan *plan);
#endif
