#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipm/xalloc.h"

static void die_oom(size_t size)
{
	fprintf(stderr, "ipm: fatal: out of memory allocating %zu bytes\n", size);
	exit(1);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		die_oom(size);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		die_oom(count * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		die_oom(size);
	return p;
}

char *xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	if (n < 0)
		die_oom(strlen(fmt));
	return out;
}

void xgrow(void **array, size_t *alloc, size_t need, size_t elem_size)
{
	size_t next;

	if (need <= *alloc)
		return;
	next = *alloc ? *alloc * 2 : 8;
	while (next < need)
		next *= 2;
	*array = xrealloc(*array, next * elem_size);
	*alloc = next;
}

void xfree_strv(char **strv, size_t n)
{
	if (!strv)
		return;
	for (size_t i = 0; i < n; i++)
		free(strv[i]);
	free(strv);
}
