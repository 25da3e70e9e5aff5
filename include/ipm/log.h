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
};

typedef void (*ipm_log_fn)(void *ctx, enum ipm_log_level level, const char *msg);
/* label: what is being fetched; done/total in `unit` ("B" for bytes,
 * "objects" for git); total 0 when unknown. done == total marks the end. */
typedef void (*ipm_progress_fn)(void *ctx, const char *label, uint64_t done,
				uint64_t total, const char *unit);

void ipm_log_set_handler(ipm_log_fn fn, void *ctx);
void ipm_progress_set_handler(ipm_progress_fn fn, void *ctx);

void ipm_log(enum ipm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ipm_progress(const char *label, uint64_t done, uint64_t total, const char *unit);
#endif
