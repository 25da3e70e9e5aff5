#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/xalloc.h"

/* One slot per process: ipm is single-threaded where it reports errors. */
static struct ipm_buf message = IPM_BUF_INIT;
static struct ipm_buf hint = IPM_BUF_INIT;
static int last_code;

int ipm_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	struct ipm_buf next = IPM_BUF_INIT;

	/* Format into a fresh buffer: arguments may point into the old message. */
	va_start(ap, fmt);
	ipm_buf_vaddf(&next, fmt, ap);
	va_end(ap);
	ipm_buf_release(&message);
	message = next;
	ipm_buf_release(&hint);
	last_code = code;
	return code;
}

void ipm_error_hint(const char *fmt, ...)
{
	va_list ap;
	struct ipm_buf next = IPM_BUF_INIT;

	va_start(ap, fmt);
	ipm_buf_vaddf(&next, fmt, ap);
	va_end(ap);
	ipm_buf_release(&hint);
	hint = next;
}

void ipm_error_prefix(const char *fmt, ...)
{
	va_list ap;
	struct ipm_buf next = IPM_BUF_INIT;

	va_start(ap, fmt);
	ipm_buf_vaddf(&next, fmt, ap);
	va_end(ap);
	ipm_buf_add(&next, ": ");
	ipm_buf_add(&next, message.ptr);
	ipm_buf_release(&message);
	message = next;
}

const char *ipm_error_message(void)
{
	return message.ptr;
}

const char *ipm_error_hint_text(void)
{
	return hint.len ? hint.ptr : NULL;
}

int ipm_error_code(void)
{
	return last_code;
}

void ipm_error_clear(void)
{
	ipm_buf_release(&message);
	ipm_buf_release(&hint);
	last_code = 0;
}

void ipm_error_save(struct ipm_error_saved *out)
{
	out->code = last_code;
	out->message = xstrdup(message.ptr);
	out->hint = hint.len ? xstrdup(hint.ptr) : NULL;
}

int ipm_error_restore(struct ipm_error_saved *saved)
{
	int code = saved->code;

	ipm_error_set(code, "%s", saved->message ? saved->message : "");
	if (saved->hint)
		ipm_error_hint("%s", saved->hint);
	free(saved->message);
	free(saved->hint);
	saved->message = saved->hint = NULL;
	return code;
}
