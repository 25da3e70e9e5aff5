/*
 * Private interface of the attention library: the per-ISA kernel table and
 * the thread pool.  Nothing here is exported (the library is built with
 * -fvisibility=hidden; only ATTN_API symbols are visible).
 */
#ifndef ATTN_INTERNAL_H
#define ATTN_INTERNAL_H

#include <stddef.h>
#include "attention.h"

/* Keys per tile of the fused kernel.  Fixed for every ISA so that tile
 * boundaries, and thus rounding, do not depend on anything but the shape. */
#define ATTN_BK 64
/* Rows per register block of the tile kernels; tiles are padded to it. */
#define ATTN_MR 6
/* Query rows per task of the fused kernel (a multiple of ATTN_MR). */
#define ATTN_BQ 96
/* Keys per task when decoding (few query rows): at most ATTN_DECODE_CHUNK,
 * halved (down to ATTN_DECODE_MIN_CHUNK) until the call has at least
 * ATTN_DECODE_TASKS tasks, so that one query against 4096 keys is not one
 * task on one core.  The split depends on the shape only, so the merge
 * order, and every bit of the result, is independent of the thread count. */
#define ATTN_DECODE_CHUNK 4096
#define ATTN_DECODE_MIN_CHUNK 256
#define ATTN_DECODE_TASKS 32

#define ATTN_LOG2E 1.44269504088896340736
#define ATTN_LN2 0.69314718055994530942

/*
 * One kernel set per instruction set.  Tile layouts (all row-major floats):
 *   qp  rows_pad x dim      scaled queries (rows_pad a multiple of ATTN_MR)
 *   kt  dim x ATTN_BK       keys of one tile, transposed, zero padded
 *   s   rows_pad x ATTN_BK  scores, then probabilities
 *   o   rows_pad x ldo      output accumulator (dv_pad columns used)
 */
/* Rows of a matrix that a kernel fetches towards the cache while it
 * computes (software prefetch), spread over its loop: the grouped decode
 * is compute-heavy enough that without it the loads of the next block
 * would wait for memory after the compute instead of overlapping it. */
typedef struct attn_prefetch {
    const float *p; /* rows at p + i * ld, len floats each */
    size_t ld, rows, len;
} attn_prefetch;

typedef struct attn_kernels {
    const char *name;
    size_t lanes; /* floats per vector: value dims are padded to it */
    /* s = qp kt */
    void (*qk_tile)(float *s, const float *qp, const float *kt,
                    size_t rows_pad, size_t dim);
    /* Online-softmax step on a tile of scores: updates the running max m
     * and sum l of each row, turns s into exp(s - m) and
     * rescales the rows of o when the max grows. */
    void (*softmax_tile)(float *s, size_t rows, float *m, float *l,
                         float *o, size_t ldo, size_t dv_pad);
    /* o += p v for nk keys; v rows at stride ldv, dv_pad a multiple of lanes */
    void (*pv_tile)(float *o, size_t ldo, const float *p, const float *v,
                    size_t ldv, size_t rows_pad, size_t nk, size_t dv_pad);
    /* out[i] = q . k_i for n keys at stride ldk (any dim) */
    void (*dot_rows)(float *out, const float *q, const float *k, size_t ldk,
                     size_t n, size_t dim);
    /* acc += sum_j p[j] v_j for n values at stride ldv (any dv) */
    void (*axpy_rows)(float *acc, const float *p, const float *v, size_t ldv,
                      size_t n, size_t dv);
    /* Decode scores without a transposed copy of the keys:
     * s[r * lds + j] = q_r . k_j for rows r < rows (q_r at q + r * ldq) and
     * keys j < nk (k_j at k + j * ldk), any dim.  Columns from nk up to the
     * next multiple of lanes are written with junk (the caller masks them).
     * With several rows (a GQA group) the rows are served in register
     * blocks while the keys are in L1.  pf (or NULL) is prefetched along
     * the way when rows > 1. */
    void (*dot_tile)(float *s, size_t lds, const float *q, size_t ldq,
                     size_t rows, const float *k, size_t ldk, size_t nk,
                     size_t dim, const attn_prefetch *pf);
    /* Decode P V: o_r += sum_{j<nk} p[r * ldp + j] v_j for rows r < rows
     * (o_r at o + r * ldo, padded to a multiple of lanes and zero past dv),
     * v_j at v + j * ldv with dv floats (any dv; nothing past it is read).
     * pf (or NULL) is prefetched along the way when rows > 1. */
    void (*pv_rows)(float *o, size_t ldo, const float *p, size_t ldp,
                    size_t rows, const float *v, size_t ldv, size_t nk,
                    size_t dv, const attn_prefetch *pf);
    /* Grouped decode with the rows in the lanes (rows <= lanes, used when
     * more than half the lanes hold rows): qt is the queries packed by
     * pack_q_t, st is keys x lanes (st[j * lanes + r] = score of key j
     * for row r).  dot_tile_t writes the scores of keys j < nk (k_j at k +
     * j * ldk), any dim. */
    void (*dot_tile_t)(float *st, const float *qt, const float *k, size_t ldk,
                       size_t nk, size_t dim, const attn_prefetch *pf);
    /* Online-softmax step on nk keys of st for every lane at once: m and
     * l (lanes floats) are the running max and sum, updated; alpha gets
     * each lane's rescaling factor e^(m_old - m_new) (0 while the lane has
     * seen only -Inf); st becomes e^(s - m_new). */
    void (*softmax_t)(float *st, size_t nk, float *m, float *l, float *alpha);
    /* o_r = alpha[r] o_r + sum_{j<nk} st[j * lanes + r] v_j for r < rows
     * (o_r at o + r * ldo, padded to a multiple of lanes and zero past dv;
     * v_j at v + j * ldv with dv floats, nothing past it is read). */
    void (*pv_t)(float *o, size_t ldo, const float *st, const float *alpha,
                 size_t rows, const float *v, size_t ldv, size_t nk, size_t dv,
                 const attn_prefetch *pf);
    /* qt (dim rounded up to 4, times lanes floats) = the rows r < rows of
     * qs (row r at qs + r * dim) in the order dot_tile_t reads them, zero
     * past the rows and dim. */
    void (*pack_q_t)(float *qt, const float *qs, size_t rows, size_t dim);
    /* dst[i] = src[i] * scale for i < n (queries scaled, outputs divided
     * by their sums) */
    void (*scale_copy)(float *dst, const float *src, size_t n, float scale);
    /* kt = keys [0, nk) (key c at keys + c * ldk, dim floats) transposed:
     * dim x ATTN_BK, zero past nk */
    void (*pack_kt)(float *kt, const float *keys, size_t ldk, size_t nk, size_t dim);
} attn_kernels;

extern const attn_kernels attn__kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
#define ATTN_HAVE_X86 1
extern const attn_kernels attn__kernels_avx2;
extern const attn_kernels attn__kernels_avx512;
#endif

/* The kernel set selected (automatically or by attn_set_isa). */
const attn_kernels *attn__kernels(void);

/* Runs fn(ctx, task, worker) for every task in [0, n_tasks) on up to
 * n_workers threads (the caller is worker 0).  Tasks are handed out
 * dynamically; callers make each task's result independent of which worker
 * runs it.  If threads cannot be created the caller runs everything. */
void attn__parallel(size_t n_tasks, int n_workers,
                    void (*fn)(void *ctx, size_t task, int worker), void *ctx);

/* Working memory for one call, at least `bytes` (64-byte aligned), or NULL.
 * Up to four blocks of at most ATTN_SCRATCH_KEEP bytes (8 MiB in all) are
 * kept for the next call: small
 * calls would otherwise map, fault in and unmap their scratch every time
 * (malloc maps blocks above 128 KiB), and unmapping memory that several
 * threads touched costs a TLB shootdown on every core. */
#define ATTN_SCRATCH_KEEP ((size_t)2 << 20)
void *attn__scratch_get(size_t bytes);
/* Returns a block from attn__scratch_get (NULL is ignored). */
void attn__scratch_put(void *p);

/* a * b without overflow, or 0 with *ok cleared. */
static inline size_t attn__mul(size_t a, size_t b, int *ok)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) {
        *ok = 0;
        return 0;
    }
    return r;
}

static inline size_t attn__add(size_t a, size_t b, int *ok)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) {
        *ok = 0;
        return 0;
    }
    return r;
}

#endif /* ATTN_INTERNAL_H */
