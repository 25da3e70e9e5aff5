#ifndef IPM_TXN_H
#define IPM_TXN_H
#include <stdint.h>
#include "ctx.h"
#include "db.h"
/*
 * Transactions: a plan's changes of the prefix and the database, all or
 * nothing, also when ipm is killed at any point.
 *
 * Every change of the prefix is written to the transaction's journal,
 * $IPM_HOME/journal/txn-<uuid>.json, before it is made:
 *
 *   { "uuid": ..., "prefix": ...,
 *     "ops": [ { "name", "tag" (of the temporary link names), "store",
 *                "fresh": true when this transaction created the store tree,
 *                "links": [ { "path", "old": target before, "new": target after } ],
 *                "mkdirs": [rel...], "rmdirs": [rel...] } ] }
 *
 * (a missing "old" or "new": no link there). The commit point is one SQLite
 * transaction (ipm_db_txn_commit) that writes every package row and the
 * history row carrying the uuid. A journal whose uuid the database holds is
 * committed and is simply deleted (roll forward: every link was in place
 * before the commit); any other is undone in reverse (links back to their
 * old targets, removed links and directories restored, created directories
 * removed when empty, fresh store trees deleted).
 *
 * A journal of an earlier ipm (journal/NAME.json, one package) is still
 * recovered: undone, or, when the database names its tree, finished.
 *
 * Store trees are never deleted by a committed change: an upgrade or a
 * removal keeps the old tree, so that rollback relinks it without a
 * rebuild; `ipm clean` deletes the ones nothing needs (see clean.h).
 */
struct ipm_txn;

/* Starts a transaction; nothing is written until the first change. */
int ipm_txn_begin(struct ipm_txn **out, struct ipm_ctx *ctx);

/*
 * A store directory for a new build of name version that nothing uses:
 * store/<name>/<version>, else <version>@rebuild, <version>@rebuild-2, ...
 * (not on disk, not named by an installed package or by any transaction in
 * history). Recorded in the journal before it is returned: if ipm dies
 * while building, recovery deletes what was built there.
 */
int ipm_txn_new_store(char **out, struct ipm_txn *t, const char *name, const char *version);

/*
 * Switches the prefix from name's installed tree (if any) to row's store
 * tree: its links created or replaced, links of the old tree that the new
 * one lacks removed, directories created as needed. row NULL: name's links
 * are taken away (a removal). row->files NULL: the store tree is walked and
 * hashed for them (a new build); else they are used as given (rollback).
 * A path owned by someone else is IPM_ECONFLICT before anything changes;
 * a link that cannot be removed or created (a directory that is not
 * writable) likewise. The database changes only with ipm_txn_commit.
 * Each name may be switched once per transaction.
 */
int ipm_txn_switch(struct ipm_txn *t, const char *name, const struct ipm_package_row *row);

/*
 * ipm_txn_switch of several packages at once (rows NULL: removals; else
 * rows[i] NULL removes names[i]), planned together and journaled once, then
 * applied in order: what a removal early in the list frees, a later switch
 * may take. Cheaper than one switch each (one journal write); for changes
 * that need no build in between (remove, rollback).
 */
int ipm_txn_switch_many(struct ipm_txn *t, const char *const *names, const struct ipm_package_row *const *rows,
			size_t n);

/* The number of changes so far (switches and fresh stores). */
size_t ipm_txn_size(const struct ipm_txn *t);

/* The commit point: the rows and the history entry in one database
 * transaction, then the journal goes. *out_id (may be NULL): the
 * transaction's number in history. On failure the transaction is undone. */
int ipm_txn_commit(int64_t *out_id, struct ipm_txn *t);

/* Undoes every change made so far, keeping the error slot as it was. What
 * cannot be undone now is a warning, and its journal stays for recovery. */
void ipm_txn_abort(struct ipm_txn *t);

/* Frees t; one neither committed nor aborted is aborted first. */
void ipm_txn_free(struct ipm_txn *t);

/* Finishes (rolls forward) or undoes every journal left behind; what cannot
 * be finished now is a warning and stays. Returns 0. */
int ipm_txn_recover(struct ipm_ctx *ctx);

/* IPM_ECONFLICT when a journal that recovery could not finish concerns
 * name: a new change of name waits until it is finished. */
int ipm_txn_check_unfinished(struct ipm_ctx *ctx, const char *name);

/* The store trees that journals left unfinished name (their links may
 * still point into them): `ipm clean` keeps them. Free with xfree_strv. */
int ipm_txn_pending_stores(char ***out, size_t *nout, struct ipm_ctx *ctx);
#endif
