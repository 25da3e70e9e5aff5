#ifndef IPM_CLEAN_H
#define IPM_CLEAN_H
#include <stddef.h>
#include <stdint.h>
#include "ctx.h"
/*
 * What `ipm clean` deletes: cached downloads ($IPM_CACHE/downloads), git
 * mirrors ($IPM_CACHE/git), the local binary cache's builds that no installed
 * package has ($IPM_CACHE/binary), build logs ($IPM_CACHE/logs), build trees left
 * in $IPM_HOME/build, and the store trees that nothing needs.
 *
 * A store tree is needed when an installed package lives in it, or when the
 * state after one of the last `keep` transactions of history names it (the
 * "kept generations": keep 1 is the installed state only; the default, 2,
 * also keeps what `ipm rollback` without an argument returns to). A tree no
 * one needs is deleted; rolling back to a state that needed it then fails,
 * naming it. Everything else deleted is fetched or written again on demand.
 */
#define IPM_CLEAN_KEEP_DEFAULT 2

struct ipm_clean_item {
	char *path;
	const char *kind;    /* "download", "git mirror", "binary", "log", "build tree", "store tree" */
	uint64_t bytes;      /* disk space it takes (allocated blocks) */
};

struct ipm_clean_plan {
	struct ipm_clean_item *items;
	size_t n, alloc;
	uint64_t total;
};

/* The store trees needed with `keep` generations, sorted (see above). */
struct ipm_store_keep {
	char **dirs;
	size_t n;
};
int ipm_store_keep_load(struct ipm_store_keep *out, struct ipm_ctx *ctx, unsigned keep);
void ipm_store_keep_release(struct ipm_store_keep *k);
/* 1 when store_dir is one of k's. */
int ipm_store_keep_has(const struct ipm_store_keep *k, const char *store_dir);
/* The same for one directory: *out 1 when needed. */
int ipm_store_dir_needed(int *out, struct ipm_ctx *ctx, const char *store_dir, unsigned keep);

/* What would be deleted, with sizes; nothing is changed. keep >= 1. */
int ipm_clean_plan(struct ipm_clean_plan *out, struct ipm_ctx *ctx, unsigned keep);
/* Deletes the plan's items; one that cannot be deleted is a warning and its
 * bytes are taken off the total (*out_freed: what was freed). */
int ipm_clean_run(uint64_t *out_freed, struct ipm_ctx *ctx, struct ipm_clean_plan *plan);
void ipm_clean_plan_release(struct ipm_clean_plan *p);
#endif
