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

/* ctx's limits, or the defaults (ctx or its limits NULL). */
const struct ipm_limits *ipm_fetch_limits(const struct ipm_fetch_ctx *ctx);

/*
 * Bounds libgit2's network transfers (git://, http://, https://, and the
 * connection of ssh://) by limits: a socket stream registered with libgit2
 * that connects within limits->connect_ms and gives up on reads and writes
 * that stall past limits->low_speed_ms, move too little, or run past
 * limits->total_ms. ipm_git_limits_begin arms it for one fetch (the clock
 * starts), ipm_git_limits_end disarms it; in between, *ipm_git_limits_failure
 * (after a failed libgit2 call) says which limit stopped the transfer, NULL
 * when none did. Registered by ipm_fetch_init.
 */
int ipm_git_stream_register(void);
void ipm_git_limits_begin(const struct ipm_limits *limits);
void ipm_git_limits_end(void);
/* Sets the error slot for a transfer that a limit stopped: 1 when one did
 * (message naming url and the limit, hint naming the key), else 0. Also
 * called by the progress callbacks: ipm_git_limits_check. */
int ipm_git_limits_explain(const char *url);
/* 0 while within the limits, -1 (and the failure noted) once one is broken:
 * for libgit2's progress callbacks, whose returning -1 stops the fetch. */
int ipm_git_limits_check(void);
/* What libgit2 reports received (the indexer's received_bytes): counts as
 * movement for the low-speed rule where the stream does not see the bytes. */
void ipm_git_limits_progress(uint64_t received);

/*
 * TLS trust (src/tls.c): ctx->ca_file, when set, replaces the system's CAs.
 * ipm_tls_curl applies it to a libcurl easy handle; ipm_tls_curl_hint sets
 * the hint for a failed transfer's CURLcode when it is a certificate
 * failure (1), naming the setting, else 0. ipm_tls_git applies it to
 * libgit2 before a fetch of url (https only; a CA file libgit2 cannot use
 * is an error naming the setting); ipm_tls_git_hint, after a failed libgit2
 * network call, sets the hint when libgit2's error is a certificate one.
 */
void ipm_tls_curl(void *curl, const struct ipm_fetch_ctx *ctx);
int ipm_tls_curl_hint(const struct ipm_fetch_ctx *ctx, int res);
int ipm_tls_git(const struct ipm_fetch_ctx *ctx, const char *url);
void ipm_tls_git_hint(void);
#endif
