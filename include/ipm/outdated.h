#ifndef IPM_OUTDATED_H
#define IPM_OUTDATED_H
#include <stddef.h>
#include "ctx.h"
/*
 * Installed packages that a newer release could replace: the answer of
 * `ipm outdated`, the list `ipm upgrade` works from and the count `ipm
 * update` ends with. Reads the database only (one query, see
 * ipm_db_outdated_each): no registry is fetched, so it is as fresh as the
 * last `ipm update`.
 */

struct ipm_outdated {
	char *name;
	char *installed;
	char *newest;        /* the registry's newest release */
	char *target;        /* the newest release allowed (pin, dependents), NULL when none is */
	char *pin;           /* the pin constraint, or NULL */
	char *held_by;       /* without target: what holds newest back ("pin" or a dependent), or NULL */
	char *registry;
	int explicit_install;
};

/* Every installed package whose registry has a release newer than the one
 * installed, in name order; held ones (target NULL) included. */
int ipm_outdated_list(struct ipm_outdated **out, size_t *nout, struct ipm_ctx *ctx);
void ipm_outdated_free(struct ipm_outdated *list, size_t n);

/* The release upgrade picks: the newest of versions (newest first, each
 * followed by '\n') that is newer than installed and satisfies pin (may be
 * NULL) and the constraint of every dependent in held_by ("dependent
 * constraint" lines, may be NULL). *out NULL when none; *out_blocker (may
 * be NULL) then names what holds back the newest release ("pin" or the
 * dependent), else NULL. Caller frees both. */
int ipm_outdated_target(char **out, char **out_blocker, const char *installed, const char *versions,
			const char *pin, const char *held_by);
#endif
