#ifndef IPM_LOG_H
#define IPM_LOG_H
#include <stdint.h>
/*
 * How the engine reports what it does without printing: the command line
 * installs handlers; with none installed, reports are dropped.
 */
enum ipm_log_level {
	IPM_LOG_DEBUG,   /* shown with -v */
	IPM_LOG_INFO,    /* shown unless -q */
	IPM_LOG_WARN,    /* always shown, as "ipm: warning: ..." */
	IPM_LOG_OUTPUT,  /* one line of a recipe step's output, as it runs (no
			  * newline); the CLI streams these with -v (they are in
			  * the build log either way) */
};

typedef void (*ipm_log_fn)(void *ctx, enum ipm_log_level level, const char *msg);
/*
 * Progress of work that can take a while, reported again and again under
 * the same label (what is being done: a URL, "building jq: step 2/3 make").
 * done/total in `unit`; total 0 while unknown; done == total (> 0) marks the
 * end, reported once. Units:
 *   "B"        bytes downloaded;
 *   "objects"  git objects received, with bytes: the bytes received so far;
 *   "ms"       milliseconds a recipe step has been running (total 0 until it
 *              ends; then done == total, at least 1).
 * bytes is 0 where it means nothing. Reports come often (every 100 ms at
 * most, and at every second for "ms"): the handler decides what to show.
 */
typedef void (*ipm_progress_fn)(void *ctx, const char *label, uint64_t done,
				uint64_t total, const char *unit, uint64_t bytes);

void ipm_log_set_handler(ipm_log_fn fn, void *ctx);
void ipm_progress_set_handler(ipm_progress_fn fn, void *ctx);

void ipm_log(enum ipm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ipm_progress_bytes with bytes 0. */
void ipm_progress(const char *label, uint64_t done, uint64_t total, const char *unit);
void ipm_progress_bytes(const char *label, uint64_t done, uint64_t total, const char *unit, uint64_t bytes);
#endif
