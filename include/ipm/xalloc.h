#ifndef IPM_XALLOC_H
#define IPM_XALLOC_H
#include <stddef.h>
/*
 * Allocation wrappers for ipm (never for the attention library): on
 * out-of-memory they print one line to stderr and exit(1). Nothing else in the
 * engine exits.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);              /* NULL stays NULL */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grows *array (of *alloc elements of elem_size) so that it holds at least
 * `need` elements. */
void xgrow(void **array, size_t *alloc, size_t need, size_t elem_size);
#define XGROW(arr, alloc, need) xgrow((void **)&(arr), &(alloc), (need), sizeof(*(arr)))

/* Frees an array of n strings and the array. */
void xfree_strv(char **strv, size_t n);
#endif
