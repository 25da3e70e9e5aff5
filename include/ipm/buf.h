#ifndef IPM_BUF_H
#define IPM_BUF_H
#include <stddef.h>
#include <stdarg.h>
/*
 * The one string-buffer type, for paths and messages.
 *
 * Rules:
 * - b->ptr is always a NUL-terminated string, also right after init
 *   (it then points at a shared empty string; never write through it).
 * - b->len is the length without the NUL; b->alloc is 0 until the first add.
 * - Functions grow the buffer as needed (through xrealloc), so nothing is
 *   ever truncated.
 * - ipm_buf_release frees the memory and leaves an initialised empty buffer;
 *   ipm_buf_detach hands the string to the caller (who frees it).
 */
struct ipm_buf {
	char *ptr;
	size_t len;
	size_t alloc;
};

extern char ipm_buf_empty[];
#define IPM_BUF_INIT { ipm_buf_empty, 0, 0 }

void ipm_buf_init(struct ipm_buf *b);
void ipm_buf_release(struct ipm_buf *b);
char *ipm_buf_detach(struct ipm_buf *b);
void ipm_buf_reset(struct ipm_buf *b);               /* len = 0, keeps memory */
void ipm_buf_truncate(struct ipm_buf *b, size_t len);
void ipm_buf_grow(struct ipm_buf *b, size_t extra);
void ipm_buf_add(struct ipm_buf *b, const char *s);
void ipm_buf_addn(struct ipm_buf *b, const void *data, size_t n);
void ipm_buf_addch(struct ipm_buf *b, char c);
void ipm_buf_addf(struct ipm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ipm_buf_vaddf(struct ipm_buf *b, const char *fmt, va_list ap);
/* Appends "/" (unless empty or already ending in one) and then s. */
void ipm_buf_addpath(struct ipm_buf *b, const char *s);
/* Appends s quoted for a POSIX shell ('...'). */
void ipm_buf_addshq(struct ipm_buf *b, const char *s);
#endif
