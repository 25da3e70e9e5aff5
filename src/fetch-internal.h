#ifndef IPM_FETCH_INTERNAL_H
#define IPM_FETCH_INTERNAL_H
/* Shared between the fetch layer's files (fetch.c, git.c, http.c, archive.c);
 * not part of the engine's contract. */
#include <stdint.h>
#include "ipm/fetch.h"

/* Milliseconds on a monotonic clock, for throttling progress reports. */
uint64_t ipm_fetch_now_ms(void);

/* $IPM_CACHE/git/<name>-<12 hex of sha256(url)>: the mirror of url. */
char *ipm_git_mirror_dir(const struct ipm_fetch_ctx *ctx, const char *url);

/* Makes sure the mirror of url holds commit (40 hex), fetching only when it
 * does not; *out_dir is the mirror's path. */
int ipm_git_ensure_commit(char **out_dir, const struct ipm_fetch_ctx *ctx,
			  const char *url, const char *commit);

/* The URL after ctx's mirrors (ctx may be NULL: no mirrors). Caller frees. */
char *ipm_fetch_effective_url(const struct ipm_fetch_ctx *ctx, const char *url);
#endif
