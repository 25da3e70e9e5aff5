#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipm/buf.h"
#include "ipm/xalloc.h"

char ipm_buf_empty[1];

void ipm_buf_init(struct ipm_buf *b)
{
	b->ptr = ipm_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void ipm_buf_release(struct ipm_buf *b)
{
	if (b->alloc)
		free(b->ptr);
	ipm_buf_init(b);
}

char *ipm_buf_detach(struct ipm_buf *b)
{
	char *s = b->alloc ? b->ptr : xstrdup("");
	ipm_buf_init(b);
	return s;
}

void ipm_buf_reset(struct ipm_buf *b)
{
	ipm_buf_truncate(b, 0);
}

void ipm_buf_truncate(struct ipm_buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->ptr[len] = '\0';
}

void ipm_buf_grow(struct ipm_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	char *old = b->alloc ? b->ptr : NULL;

	if (need <= b->alloc)
		return;
	if (!old)
		b->ptr = NULL;
	XGROW(b->ptr, b->alloc, need);
	if (!old)
		b->ptr[0] = '\0';
}

void ipm_buf_addn(struct ipm_buf *b, const void *data, size_t n)
{
	ipm_buf_grow(b, n);
	memcpy(b->ptr + b->len, data, n);
	b->len += n;
	b->ptr[b->len] = '\0';
}

void ipm_buf_add(struct ipm_buf *b, const char *s)
{
	ipm_buf_addn(b, s, strlen(s));
}

void ipm_buf_addch(struct ipm_buf *b, char c)
{
	ipm_buf_addn(b, &c, 1);
}

void ipm_buf_vaddf(struct ipm_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n <= 0)
		return;
	ipm_buf_grow(b, (size_t)n);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void ipm_buf_addf(struct ipm_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ipm_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void ipm_buf_addpath(struct ipm_buf *b, const char *s)
{
	if (b->len && b->ptr[b->len - 1] != '/')
		ipm_buf_addch(b, '/');
	ipm_buf_add(b, s);
}

void ipm_buf_addshq(struct ipm_buf *b, const char *s)
{
	ipm_buf_addch(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			ipm_buf_add(b, "'\\''");
		else
			ipm_buf_addch(b, *s);
	}
	ipm_buf_addch(b, '\'');
}
