#include <stdarg.h>
#include "ipm/buf.h"
#include "ipm/log.h"

static ipm_log_fn log_fn;
static void *log_ctx;
static ipm_progress_fn progress_fn;
static void *progress_ctx;

void ipm_log_set_handler(ipm_log_fn fn, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
}

void ipm_progress_set_handler(ipm_progress_fn fn, void *ctx)
{
	progress_fn = fn;
	progress_ctx = ctx;
}

void ipm_log(enum ipm_log_level level, const char *fmt, ...)
{
	struct ipm_buf msg = IPM_BUF_INIT;
	va_list ap;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	ipm_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	log_fn(log_ctx, level, msg.ptr);
	ipm_buf_release(&msg);
}

void ipm_progress(const char *label, uint64_t done, uint64_t total, const char *unit)
{
	ipm_progress_bytes(label, done, total, unit, 0);
}

void ipm_progress_bytes(const char *label, uint64_t done, uint64_t total, const char *unit, uint64_t bytes)
{
	if (progress_fn)
		progress_fn(progress_ctx, label, done, total, unit, bytes);
}
