/*
 * Fused multi-head scaled dot-product attention.
 *
 * Two drivers share the per-ISA kernels:
 *  - the tile driver (prefill): one task per (batch, head, block of ATTN_BQ
 *    query rows); it walks key tiles of ATTN_BK keys, computing the score
 *    tile, an online softmax step and the P V update, so the S x S score
 *    matrix never exists;
 *  - the decode driver (q_len <= ATTN_DECODE_ROWS): one task per (batch, kv
 *    head, chunk of keys: see decode_chunk_keys); it walks blocks of ATTN_BK keys
 *    and puts every query row of the group (GQA heads x query positions)
 *    through each block while it is in cache, so K and V are read from
 *    memory once per call.  The first row streams each key and value row
 *    from start to end (the access order the hardware prefetchers follow);
 *    the others reuse the block from L1/L2.  The chunk states (running max,
 *    sum and output of each row) are merged in chunk order afterwards by the
 *    log-sum-exp rule, which gives the softmax over all keys.
 * Both split work by shape only, so the thread count never changes a bit of
 * the result.  Scores stay in natural-log units (a mask value near FLT_MAX
 * must not overflow by a change of base); the kernels' exp multiplies by
 * log2 e itself.
 */
#include "internal.h"

#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define ATTN_DECODE_ROWS 4
/* Key blocks between a decode block and the one it prefetches. */
#define ATTN_DECODE_AHEAD 2
/* Below this many multiply-adds a call stays on the calling thread. */
#define ATTN_SERIAL_WORK ((size_t)1 << 18)

typedef struct sdpa_job {
    const attn_sdpa_desc *desc;
    const attn_kernels *kern;
    float *out;
    attn_strides out_st;
    float *lse;
    attn_strides lse_st;
    const float *q, *k, *v;
    attn_strides q_st, k_st, v_st;
    size_t group;    /* query heads per kv head */
    size_t q_blocks; /* tile driver: blocks of query rows per head */
    size_t bq;       /* tile driver: rows per block (at most ATTN_BQ) */
    size_t chunks;   /* decode driver: key chunks per kv head */
    size_t chunk_keys; /* decode driver: keys per chunk */
    int transposed;    /* decode driver: rows in the lanes (decode_lanes) */
    /* decode driver, rows in the lanes: the query rows of every (batch, kv
     * head) packed by pack_q_t once for all its chunks, qt_floats each */
    float *qt_all;
    size_t qt_floats;
    size_t rows;     /* decode driver: query rows per kv head */
    size_t dv_pad;
    float qscale;    /* the softmax scale, folded into the packed queries */
    float *scratch;
    size_t scratch_floats; /* per worker */
    /* tile driver: every key tile of every (batch, kv head), transposed
     * once for all the query blocks and heads that read it; NULL when there
     * is no reuse or no memory for it (tasks then pack their own) */
    float *kt_all;
    size_t k_tiles;
    size_t n_pack;        /* packing tasks run before the tile tasks */
    atomic_size_t packed; /* packing tasks finished */
    /* decode partial states, one per (batch, kv head, chunk, row) */
    float *part_m, *part_l, *part_acc;
} sdpa_job;

static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Keys [0, limit) of row i in batch b survive padding and causality. */
static size_t row_limit(const attn_sdpa_desc *desc, size_t b, size_t i)
{
    size_t lim = desc->kv_len;
    if (desc->kv_lengths && desc->kv_lengths[b] < lim)
        lim = desc->kv_lengths[b];
    if (desc->causal == ATTN_CAUSAL_TOP_LEFT) {
        lim = min_size(lim, i + 1);
    } else if (desc->causal == ATTN_CAUSAL_BOTTOM_RIGHT) {
        if (i + desc->kv_len < desc->q_len)
            return 0;
        lim = min_size(lim, i + desc->kv_len - desc->q_len + 1);
    }
    return lim;
}

/* Keys [j0, j0 + returned count) of a block of nk survive for some row of
 * the group; *uniform: every row keeps the same count (single-position
 * decoding). Limits are prefixes, so 0 means no later key survives either. */
static size_t block_cut(const attn_sdpa_desc *desc, size_t b, size_t rows, size_t j0, size_t nk, int *uniform)
{
    size_t ncut = 0, cut0 = 0;
    *uniform = 1;
    for (size_t r = 0; r < rows; r++) {
        size_t lim = row_limit(desc, b, r % desc->q_len);
        size_t cut = lim <= j0 ? 0 : min_size(lim - j0, nk);
        if (r == 0)
            cut0 = cut;
        *uniform &= cut == cut0;
        if (cut > ncut)
            ncut = cut;
    }
    return ncut;
}

/* Applies masks to one row of nk scores of keys j0.. (column c at
 * row[c * step]) and sets the columns from the row's limit up to ncols
 * (the padding) to -Inf. */
static void mask_row(const sdpa_job *job, float *row, size_t step, size_t ncols,
                     size_t b, size_t h, size_t i, size_t j0, size_t nk)
{
    const attn_sdpa_desc *desc = job->desc;
    size_t lim = row_limit(desc, b, i);
    size_t cut = lim <= j0 ? 0 : min_size(lim - j0, nk);
    for (size_t c = cut; c < ncols; c++)
        row[c * step] = -INFINITY;
    if (desc->mask) {
        const attn_mask_strides *ms = &desc->mask_strides;
        const float *m = desc->mask + b * ms->batch + h * ms->head + i * ms->query;
        for (size_t c = 0; c < cut; c++)
            row[c * step] += m[(j0 + c) * ms->key];
    }
    if (desc->keep) {
        const attn_mask_strides *ks = &desc->keep_strides;
        const unsigned char *m = desc->keep + b * ks->batch + h * ks->head + i * ks->query;
        for (size_t c = 0; c < cut; c++)
            if (!m[(j0 + c) * ks->key])
                row[c * step] = -INFINITY;
    }
}

static void write_row(const sdpa_job *job, size_t b, size_t h, size_t i,
                      const float *acc, float m, float l)
{
    size_t dv = job->desc->value_dim;
    float *dst = job->out + b * job->out_st.batch + h * job->out_st.head +
                 i * job->out_st.seq;
    if (m == -INFINITY) {
        memset(dst, 0, dv * sizeof(*dst));
    } else {
        job->kern->scale_copy(dst, acc, dv, 1.0f / l);
    }
    /* log costs as much as a row of a small tile: only when asked for */
    if (job->lse)
        job->lse[b * job->lse_st.batch + h * job->lse_st.head + i * job->lse_st.seq] =
            m == -INFINITY ? -INFINITY : (float)(m + log((double)l));
}

static void pack_task(void *ctx, size_t task, int worker)
{
    sdpa_job *job = ctx;
    const attn_sdpa_desc *desc = job->desc;
    size_t tile = task % job->k_tiles;
    size_t hk = task / job->k_tiles % desc->kv_heads;
    size_t b = task / job->k_tiles / desc->kv_heads;
    size_t j0 = tile * ATTN_BK;
    const float *keys = job->k + b * job->k_st.batch + hk * job->k_st.head +
                        j0 * job->k_st.seq;
    job->kern->pack_kt(job->kt_all + task * desc->head_dim * ATTN_BK, keys, job->k_st.seq,
                       min_size(ATTN_BK, desc->kv_len - j0), desc->head_dim);
}

static void tile_task(void *ctx, size_t task, int worker);

/* Packing and tile tasks in one parallel run (one thread start instead of
 * two, which shows on small shapes): tasks are handed out in order, so when
 * a worker gets its first tile task every packing task has been taken by a
 * running worker, and waiting for them to finish cannot deadlock. */
static void pack_then_tile_task(void *ctx, size_t task, int worker)
{
    sdpa_job *job = ctx;
    if (task < job->n_pack) {
        pack_task(ctx, task, worker);
        atomic_fetch_add_explicit(&job->packed, 1, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&job->packed, memory_order_acquire) < job->n_pack)
        sched_yield();
    tile_task(ctx, task - job->n_pack, worker);
}

static void tile_task(void *ctx, size_t task, int worker)
{
    sdpa_job *job = ctx;
    const attn_sdpa_desc *desc = job->desc;
    const attn_kernels *kern = job->kern;
    size_t dim = desc->head_dim, dv = desc->value_dim, dv_pad = job->dv_pad;
    /* Heaviest (last, under causality) blocks first for better balance. */
    size_t qb = job->q_blocks - 1 - task % job->q_blocks;
    size_t h = task / job->q_blocks % desc->q_heads;
    size_t b = task / job->q_blocks / desc->q_heads;
    size_t hk = h / job->group;
    size_t i0 = qb * job->bq;
    size_t rows = min_size(job->bq, desc->q_len - i0);
    size_t rows_pad = round_up(rows, ATTN_MR);

    float *qp = job->scratch + (size_t)worker * job->scratch_floats;
    float *kt = qp + ATTN_BQ * dim;
    float *vp = kt + dim * ATTN_BK;
    float *s = vp + ATTN_BK * dv_pad;
    float *o = s + ATTN_BQ * ATTN_BK;
    float *m = o + ATTN_BQ * dv_pad;
    float *l = m + ATTN_BQ;

    const float *qbase = job->q + b * job->q_st.batch + h * job->q_st.head;
    for (size_t r = 0; r < rows; r++) {
        const float *src = qbase + (i0 + r) * job->q_st.seq;
        kern->scale_copy(qp + r * dim, src, dim, job->qscale);
    }
    memset(qp + rows * dim, 0, (rows_pad - rows) * dim * sizeof(float));
    memset(o, 0, rows_pad * dv_pad * sizeof(float));
    for (size_t r = 0; r < rows_pad; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }

    /* Limits grow with the row, so the last row bounds the block. */
    size_t kend = row_limit(desc, b, i0 + rows - 1);
    const float *kbase = job->k + b * job->k_st.batch + hk * job->k_st.head;
    const float *vbase = job->v + b * job->v_st.batch + hk * job->v_st.head;
    int v_direct = dv == dv_pad;
    for (size_t j0 = 0; j0 < kend; j0 += ATTN_BK) {
        size_t nk = min_size(ATTN_BK, kend - j0);
        const float *ktile = kt;
        if (job->kt_all)
            ktile = job->kt_all + ((b * desc->kv_heads + hk) * job->k_tiles + j0 / ATTN_BK) *
                                      dim * ATTN_BK;
        else
            kern->pack_kt(kt, kbase + j0 * job->k_st.seq, job->k_st.seq, nk, dim);
        /* Under causality the first rows of the block may see none of this
         * tile: start at the register block holding the first row that
         * does.  A skipped row's state is what a fully masked tile would
         * leave, bit for bit, and its values are not even read. */
        size_t r0 = 0;
        while (r0 + ATTN_MR < rows && row_limit(desc, b, i0 + r0 + ATTN_MR - 1) <= j0)
            r0 += ATTN_MR;
        kern->qk_tile(s + r0 * ATTN_BK, qp + r0 * dim, ktile, rows_pad - r0, dim);
        for (size_t r = r0; r < rows; r++)
            mask_row(job, s + r * ATTN_BK, 1, ATTN_BK, b, h, i0 + r, j0, nk);
        const float *vtile = vbase + j0 * job->v_st.seq;
        size_t ldv = job->v_st.seq;
        if (!v_direct) {
            for (size_t c = 0; c < nk; c++) {
                memcpy(vp + c * dv_pad, vtile + c * ldv, dv * sizeof(float));
                memset(vp + c * dv_pad + dv, 0, (dv_pad - dv) * sizeof(float));
            }
            vtile = vp;
            ldv = dv_pad;
        }
        kern->softmax_tile(s + r0 * ATTN_BK, rows - r0, m + r0, l + r0, o + r0 * dv_pad,
                           dv_pad, dv_pad);
        kern->pv_tile(o + r0 * dv_pad, dv_pad, s + r0 * ATTN_BK, vtile, ldv, rows_pad - r0, nk,
                      dv_pad);
    }
    for (size_t r = 0; r < rows; r++)
        write_row(job, b, h, i0 + r, o + r * dv_pad, m[r], l[r]);
}

/* Keys per block of the decode driver with the rows in the lanes: a
 * multiple of the kernels' key blocks (3 keys on AVX2, 24 on AVX-512).
 * P V loads, rescales and stores its accumulators once per block, so
 * longer blocks pay less for it (96 keys: 1.08x against 48 in L1), while
 * a block of values (48 KiB at D = 128) still sits in L2. */
#define ATTN_DECODE_LANES_BK 96

/* Decode task body when the rows of a group sit in the vector lanes
 * (job->transposed: more than half the lanes hold rows, e.g. the 8 heads of
 * an 8:1 GQA group on AVX2).  Per block of keys: the scores of every row at
 * once (one vector per key), masks when there are any, one online-softmax
 * step for all rows, and P V with the rescaling folded into it.  qt is the
 * group's packed queries; st (a block of scores, keys x lanes, then lanes
 * floats for each of max, sum and alpha) and s (one row of a block) are
 * scratch; m, l and acc are the task's row states. */
static void decode_lanes(const sdpa_job *job, float *st, const float *qt, float *s,
                         size_t b, size_t hk, size_t j_begin, size_t j_end, float *m,
                         float *l, float *acc)
{
    const attn_sdpa_desc *desc = job->desc;
    const attn_kernels *kern = job->kern;
    size_t dim = desc->head_dim, dv = desc->value_dim, dv_pad = job->dv_pad;
    size_t rows = job->rows, lanes = kern->lanes;
    float *mv = st + ATTN_DECODE_LANES_BK * lanes, *lv = mv + lanes, *alpha = lv + lanes;
    int masked = desc->mask || desc->keep;
    for (size_t r = 0; r < lanes; r++) {
        mv[r] = -INFINITY;
        lv[r] = 0.0f;
    }
    const float *kbase = job->k + b * job->k_st.batch + hk * job->k_st.head;
    const float *vbase = job->v + b * job->v_st.batch + hk * job->v_st.head;
    size_t ldk = job->k_st.seq, ldv = job->v_st.seq;
    for (size_t j0 = j_begin; j0 < j_end; j0 += ATTN_DECODE_LANES_BK) {
        size_t nk = min_size(ATTN_DECODE_LANES_BK, j_end - j0);
        int uniform;
        size_t ncut = block_cut(desc, b, rows, j0, nk, &uniform);
        if (ncut == 0)
            break; /* limits are prefixes: no later key survives either */
        /* Prefetch as in decode_task: the values of the next block during
         * the scores, the keys of the block after it during P V. */
        size_t jv = j0 + (ATTN_DECODE_AHEAD - 1) * ATTN_DECODE_LANES_BK;
        size_t jk = j0 + ATTN_DECODE_AHEAD * ATTN_DECODE_LANES_BK;
        size_t nv = jv < j_end ? min_size(ATTN_DECODE_LANES_BK, j_end - jv) : 0;
        attn_prefetch pf_v = { vbase + jv * ldv, ldv, nv, dv };
        size_t next = jk < j_end ? min_size(ATTN_DECODE_LANES_BK, j_end - jk) : 0;
        attn_prefetch pf_k = { kbase + jk * ldk, ldk, next, dim };
        kern->dot_tile_t(st, qt, kbase + j0 * ldk, ldk, ncut, dim, &pf_v);
        if (masked || !uniform)
            for (size_t r = 0; r < rows; r++) {
                size_t h = hk * job->group + r / desc->q_len, i = r % desc->q_len;
                mask_row(job, st + r, lanes, ncut, b, h, i, j0, nk);
            }
        kern->softmax_t(st, ncut, mv, lv, alpha);
        for (size_t r = 0; r < rows && uniform; r++)
            uniform = mv[r] != -INFINITY;
        const float *vblock = vbase + j0 * ldv;
        if (uniform) {
            kern->pv_t(acc, dv_pad, st, alpha, rows, vblock, ldv, ncut, dv, next ? &pf_k : NULL);
            continue;
        }
        /* Rows whose limits differ, or a row that saw no unmasked key yet:
         * row by row, each reading only the values up to its own limit (0 *
         * Inf past it would be NaN). */
        for (size_t r = 0; r < rows; r++) {
            size_t lim = row_limit(desc, b, r % desc->q_len);
            size_t cut = lim <= j0 ? 0 : min_size(lim - j0, nk);
            float *orow = acc + r * dv_pad;
            if (alpha[r] != 1.0f)
                for (size_t d = 0; d < dv_pad; d++)
                    orow[d] *= alpha[r];
            if (mv[r] == -INFINITY || cut == 0)
                continue;
            for (size_t c = 0; c < cut; c++)
                s[c] = st[c * lanes + r];
            kern->pv_rows(orow, dv_pad, s, ATTN_DECODE_LANES_BK, 1, vblock, ldv, cut, dv, NULL);
        }
    }
    for (size_t r = 0; r < rows; r++) {
        m[r] = mv[r];
        l[r] = lv[r];
    }
}

/* The query rows of group (b, hk), scaled, into qs (rows x dim).  Row r is
 * query i = r % q_len of head hk * group + r / q_len. */
static void load_rows(const sdpa_job *job, float *qs, size_t b, size_t hk)
{
    const attn_sdpa_desc *desc = job->desc;
    size_t dim = desc->head_dim;
    for (size_t r = 0; r < job->rows; r++) {
        size_t h = hk * job->group + r / desc->q_len, i = r % desc->q_len;
        const float *src = job->q + b * job->q_st.batch + h * job->q_st.head +
                           i * job->q_st.seq;
        job->kern->scale_copy(qs + r * dim, src, dim, job->qscale);
    }
}

static void decode_task(void *ctx, size_t task, int worker)
{
    sdpa_job *job = ctx;
    const attn_sdpa_desc *desc = job->desc;
    const attn_kernels *kern = job->kern;
    size_t dim = desc->head_dim, dv = desc->value_dim, dv_pad = job->dv_pad;
    size_t rows = job->rows;
    size_t chunk = task % job->chunks;
    size_t hk = task / job->chunks % desc->kv_heads;
    size_t b = task / job->chunks / desc->kv_heads;
    size_t j_begin = chunk * job->chunk_keys;
    size_t j_end = min_size(desc->kv_len, j_begin + job->chunk_keys);

    float *m = job->part_m + task * rows;
    float *l = job->part_l + task * rows;
    float *acc = job->part_acc + task * rows * dv_pad;
    memset(acc, 0, rows * dv_pad * sizeof(float));
    if (job->qt_all) {
        float *s = job->scratch + (size_t)worker * job->scratch_floats;
        const float *qt = job->qt_all + (b * desc->kv_heads + hk) * job->qt_floats;
        decode_lanes(job, s + ATTN_DECODE_LANES_BK, qt, s, b, hk, j_begin, j_end, m, l, acc);
        return;
    }
    float *qs = job->scratch + (size_t)worker * job->scratch_floats;
    float *s = qs + rows * dim;

    load_rows(job, qs, b, hk);
    for (size_t r = 0; r < rows; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }

    const float *kbase = job->k + b * job->k_st.batch + hk * job->k_st.head;
    const float *vbase = job->v + b * job->v_st.batch + hk * job->v_st.head;
    size_t ldk = job->k_st.seq, ldv = job->v_st.seq;
    /* Every query row of the group (GQA heads times query positions) goes
     * through each block of keys and values while it is in cache, so they
     * are read from memory once. */
    for (size_t j0 = j_begin; j0 < j_end; j0 += ATTN_BK) {
        size_t nk = min_size(ATTN_BK, j_end - j0);
        int uniform;
        size_t ncut = block_cut(desc, b, rows, j0, nk, &uniform);
        if (ncut == 0)
            break; /* limits are prefixes: no later key survives either */
        /* Software prefetch ahead of the hardware's: the values of the
         * next block while the scores are computed, the keys of the block
         * after it while the values are summed, one line per step of the
         * kernels' inner loops.  With a whole group of query rows per key
         * the compute takes as long as the memory, and only prefetches
         * spread over it let the two overlap (8:1 GQA from memory: 1.4x
         * against bursts per key group; 2 blocks ahead beat 1, 3, 4, 8). */
        size_t jv = j0 + (ATTN_DECODE_AHEAD - 1) * ATTN_BK, jk = j0 + ATTN_DECODE_AHEAD * ATTN_BK;
        size_t nv = jv < j_end ? min_size(ATTN_BK, j_end - jv) : 0;
        attn_prefetch pf_v = { vbase + jv * ldv, ldv, nv, dv };
        size_t next = jk < j_end ? min_size(ATTN_BK, j_end - jk) : 0;
        attn_prefetch pf_k = { kbase + jk * ldk, ldk, next, dim };
        kern->dot_tile(s, ATTN_BK, qs, dim, rows, kbase + j0 * ldk, ldk, ncut, dim, &pf_v);
        for (size_t r = 0; r < rows; r++) {
            size_t h = hk * job->group + r / desc->q_len, i = r % desc->q_len;
            mask_row(job, s + r * ATTN_BK, 1, ATTN_BK, b, h, i, j0, nk);
        }
        kern->softmax_tile(s, rows, m, l, acc, dv_pad, dv_pad);
        /* A row that saw no unmasked key yet adds nothing: its values past
         * its limit are not even read (0 * Inf would be NaN). */
        for (size_t r = 0; r < rows && uniform; r++)
            uniform = m[r] != -INFINITY;
        const float *vblock = vbase + j0 * ldv;
        if (uniform) {
            kern->pv_rows(acc, dv_pad, s, ATTN_BK, rows, vblock, ldv, ncut, dv,
                          next ? &pf_k : NULL);
            continue;
        }
        for (size_t r = 0; r < rows; r++) {
            size_t lim = row_limit(desc, b, r % desc->q_len);
            size_t cut = lim <= j0 ? 0 : min_size(lim - j0, nk);
            if (m[r] != -INFINITY && cut > 0)
                kern->pv_rows(acc + r * dv_pad, dv_pad, s + r * ATTN_BK, ATTN_BK, 1,
                              vblock, ldv, cut, dv, NULL);
        }
    }
}

/* Keys per decode task for `heads` (batch x kv heads) of kv_len keys. */
static size_t decode_chunk_keys(size_t heads, size_t kv_len)
{
    size_t chunk = ATTN_DECODE_CHUNK;
    while (chunk > ATTN_DECODE_MIN_CHUNK &&
           heads * ((kv_len + chunk - 1) / chunk) < ATTN_DECODE_TASKS)
        chunk /= 2;
    return chunk;
}

/* Combines the chunk states of each row in chunk order and writes it:
 * with M the largest chunk max, l = sum_c l_c e^(m_c - M) and
 * acc = sum_c acc_c e^(m_c - M), summed in binary64. */
static void decode_merge(sdpa_job *job, double *row_acc)
{
    const attn_sdpa_desc *desc = job->desc;
    size_t dv = desc->value_dim, dv_pad = job->dv_pad;
    for (size_t b = 0; b < desc->batch; b++)
        for (size_t hk = 0; hk < desc->kv_heads; hk++)
            for (size_t r = 0; r < job->rows; r++) {
                size_t first = (b * desc->kv_heads + hk) * job->chunks;
                size_t h = hk * job->group + r / desc->q_len, i = r % desc->q_len;
                float mx = -INFINITY;
                for (size_t c = 0; c < job->chunks; c++) {
                    float mc = job->part_m[(first + c) * job->rows + r];
                    if (mc > mx || isnan(mc))
                        mx = mc;
                }
                if (mx == -INFINITY) {
                    write_row(job, b, h, i, NULL, mx, 0.0f);
                    continue;
                }
                double l = 0.0;
                memset(row_acc, 0, dv * sizeof(*row_acc));
                for (size_t c = 0; c < job->chunks; c++) {
                    size_t idx = (first + c) * job->rows + r;
                    float mc = job->part_m[idx];
                    if (mc == -INFINITY)
                        continue;
                    double w = exp((double)mc - (double)mx);
                    l += job->part_l[idx] * w;
                    const float *a = job->part_acc + idx * dv_pad;
                    for (size_t d = 0; d < dv; d++)
                        row_acc[d] += a[d] * w;
                }
                float *dst = job->out + b * job->out_st.batch + h * job->out_st.head +
                             i * job->out_st.seq;
                for (size_t d = 0; d < dv; d++)
                    dst[d] = (float)(row_acc[d] / l);
                if (job->lse)
                    job->lse[b * job->lse_st.batch + h * job->lse_st.head +
                             i * job->lse_st.seq] = (float)(mx + log(l));
            }
}

/* Largest element offset of a [n0][n1][n2][len] view plus one, or fails. */
static int extent_ok(size_t n0, size_t s0, size_t n1, size_t s1, size_t n2,
                     size_t s2, size_t len)
{
    int ok = 1;
    size_t e = attn__mul(n0 - 1, s0, &ok);
    e = attn__add(e, attn__mul(n1 - 1, s1, &ok), &ok);
    e = attn__add(e, attn__mul(n2 - 1, s2, &ok), &ok);
    e = attn__add(e, len, &ok);
    attn__mul(e, sizeof(float), &ok);
    return ok;
}

int attn_sdpa(float *out, attn_strides out_st, float *lse,
              attn_strides lse_st, const float *q, attn_strides q_st,
              const float *k, attn_strides k_st, const float *v,
              attn_strides v_st, const attn_sdpa_desc *desc)
{
    sdpa_job job;
    int rc = ATTN_OK;
    double *row_acc = NULL;

    memset(&job, 0, sizeof(job));
    if (!desc)
        return ATTN_EINVAL;
    if (desc->kv_heads == 0 || desc->q_heads % desc->kv_heads != 0 ||
        desc->head_dim == 0 || desc->value_dim == 0 ||
        !isfinite(desc->scale) ||
        (desc->causal != ATTN_CAUSAL_NONE && desc->causal != ATTN_CAUSAL_TOP_LEFT &&
         desc->causal != ATTN_CAUSAL_BOTTOM_RIGHT))
        return ATTN_EINVAL;
    if (desc->batch == 0 || desc->q_heads == 0 || desc->q_len == 0)
        return ATTN_OK;
    if (!out || !q || (desc->kv_len > 0 && (!k || !v)))
        return ATTN_EINVAL;
    size_t dim = desc->head_dim, dv = desc->value_dim;
    if (!extent_ok(desc->batch, q_st.batch, desc->q_heads, q_st.head,
                   desc->q_len, q_st.seq, dim) ||
        !extent_ok(desc->batch, out_st.batch, desc->q_heads, out_st.head,
                   desc->q_len, out_st.seq, dv) ||
        (lse && !extent_ok(desc->batch, lse_st.batch, desc->q_heads,
                           lse_st.head, desc->q_len, lse_st.seq, 1)))
        return ATTN_EOVERFLOW;
    if (desc->kv_len > 0 &&
        (!extent_ok(desc->batch, k_st.batch, desc->kv_heads, k_st.head,
                    desc->kv_len, k_st.seq, dim) ||
         !extent_ok(desc->batch, v_st.batch, desc->kv_heads, v_st.head,
                    desc->kv_len, v_st.seq, dv)))
        return ATTN_EOVERFLOW;
    if (desc->kv_len > 0) {
        const attn_mask_strides *ms = &desc->mask_strides, *ks = &desc->keep_strides;
        int ok = 1;
        if (desc->mask)
            ok = extent_ok(desc->batch, ms->batch, desc->q_heads, ms->head,
                           desc->q_len, ms->query,
                           attn__mul(desc->kv_len - 1, ms->key, &ok) + 1) && ok;
        if (desc->keep)
            ok = extent_ok(desc->batch, ks->batch, desc->q_heads, ks->head,
                           desc->q_len, ks->query,
                           attn__mul(desc->kv_len - 1, ks->key, &ok) + 1) && ok;
        if (!ok)
            return ATTN_EOVERFLOW;
    }

    if (desc->kv_len == 0) {
        /* No key at all: every row is fully masked. */
        for (size_t b = 0; b < desc->batch; b++)
            for (size_t h = 0; h < desc->q_heads; h++)
                for (size_t i = 0; i < desc->q_len; i++) {
                    memset(out + b * out_st.batch + h * out_st.head + i * out_st.seq,
                           0, dv * sizeof(float));
                    if (lse)
                        lse[b * lse_st.batch + h * lse_st.head + i * lse_st.seq] = -INFINITY;
                }
        return ATTN_OK;
    }
    job.desc = desc;
    job.kern = attn__kernels();
    job.out = out;
    job.out_st = out_st;
    job.lse = lse;
    job.lse_st = lse_st;
    job.q = q;
    job.k = k;
    job.v = v;
    job.q_st = q_st;
    job.k_st = k_st;
    job.v_st = v_st;
    job.group = desc->q_heads / desc->kv_heads;
    job.dv_pad = round_up(dv, job.kern->lanes);
    float scale = desc->scale == 0.0f ? (float)(1.0 / sqrt((double)dim)) : desc->scale;
    job.qscale = scale;

    int ok = 1;
    size_t work = attn__mul(attn__mul(desc->batch * desc->q_heads, desc->q_len, &ok),
                            attn__mul(desc->kv_len, dim + dv, &ok), &ok);
    int workers = !ok || work > ATTN_SERIAL_WORK ? attn_get_num_threads() : 1;
    size_t n_tasks;
    void (*task_fn)(void *, size_t, int);

    if (desc->q_len <= ATTN_DECODE_ROWS) {
        job.rows = job.group * desc->q_len;
        job.chunk_keys = decode_chunk_keys(desc->batch * desc->kv_heads, desc->kv_len);
        job.chunks = (desc->kv_len + job.chunk_keys - 1) / job.chunk_keys;
        n_tasks = desc->batch * desc->kv_heads * job.chunks;
        /* Rows in the lanes when they fill more than half of them. */
        job.transposed = job.rows >= 2 && job.rows <= job.kern->lanes &&
                         2 * job.rows > job.kern->lanes;
        /* rows in the lanes: a row of a block, a block of scores and the
         * max, sum and alpha vectors; else the rows and their scores */
        job.scratch_floats =
            job.transposed ? ATTN_DECODE_LANES_BK + (ATTN_DECODE_LANES_BK + 3) * job.kern->lanes
                           : job.rows * (dim + ATTN_BK);
        if (job.transposed) {
            size_t groups = desc->batch * desc->kv_heads;
            job.qt_floats = round_up(dim, 4) * job.kern->lanes;
            /* and room for one group's rows before packing */
            job.qt_all = malloc(attn__mul(attn__add(attn__mul(groups, job.qt_floats, &ok),
                                                    job.rows * dim, &ok),
                                          sizeof(float), &ok));
            if (ok && job.qt_all) {
                float *qs = job.qt_all + groups * job.qt_floats;
                for (size_t g = 0; g < groups; g++) {
                    load_rows(&job, qs, g / desc->kv_heads, g % desc->kv_heads);
                    job.kern->pack_q_t(job.qt_all + g * job.qt_floats, qs, job.rows, dim);
                }
            }
        }
        size_t states = attn__mul(n_tasks, job.rows, &ok);
        job.part_m = malloc(attn__mul(states, sizeof(float), &ok));
        job.part_l = malloc(attn__mul(states, sizeof(float), &ok));
        job.part_acc = malloc(attn__mul(attn__mul(states, job.dv_pad, &ok), sizeof(float), &ok));
        row_acc = malloc(dv * sizeof(*row_acc));
        if (!ok) {
            rc = ATTN_EOVERFLOW;
            goto done;
        }
        if (!job.part_m || !job.part_l || !job.part_acc || !row_acc ||
            (job.transposed && !job.qt_all)) {
            rc = ATTN_ENOMEM;
            goto done;
        }
        task_fn = decode_task;
    } else {
        /* Blocks of equal size (L = 128 makes two of 64 rows, not 96 and
         * 32), so that no task is much longer than the others. */
        job.q_blocks = (desc->q_len + ATTN_BQ - 1) / ATTN_BQ;
        job.bq = round_up((desc->q_len + job.q_blocks - 1) / job.q_blocks, ATTN_MR);
        n_tasks = desc->batch * desc->q_heads * job.q_blocks;
        job.scratch_floats = ATTN_BQ * dim + dim * ATTN_BK + ATTN_BK * job.dv_pad +
                             ATTN_BQ * ATTN_BK + ATTN_BQ * job.dv_pad + 2 * ATTN_BQ;
        task_fn = tile_task;
        job.k_tiles = (desc->kv_len + ATTN_BK - 1) / ATTN_BK;
        size_t kt_floats = attn__mul(attn__mul(desc->batch * desc->kv_heads, job.k_tiles, &ok),
                                     dim * ATTN_BK, &ok);
        /* Tiles shared by more than two tasks are packed once, by packing
         * tasks that the tile tasks wait for; with two readers packing
         * twice is cheaper than the wait and the tiles crossing cores
         * (L = 128, 8 heads on 2 threads: 1.17x).  Without memory for it,
         * tasks pack their own tiles: slower, same bits. */
        if (ok && job.q_blocks * job.group > 2)
            job.kt_all = attn__scratch_get(attn__mul(kt_floats, sizeof(float), &ok));
        ok = 1;
    }
    if ((size_t)workers > n_tasks)
        workers = (int)n_tasks;
    /* Pad each worker's scratch to a cache line to avoid false sharing. */
    job.scratch_floats = round_up(job.scratch_floats, 16);
    job.scratch = attn__scratch_get(attn__mul(attn__mul(job.scratch_floats, (size_t)workers, &ok),
                                   sizeof(float), &ok));
    if (!ok) {
        rc = ATTN_EOVERFLOW;
        goto done;
    }
    if (!job.scratch) {
        rc = ATTN_ENOMEM;
        goto done;
    }
    atomic_init(&job.packed, 0);
    if (job.kt_all) {
        job.n_pack = desc->batch * desc->kv_heads * job.k_tiles;
        n_tasks += job.n_pack;
        task_fn = pack_then_tile_task;
    }
    attn__parallel(n_tasks, workers, task_fn, &job);
    if (task_fn == decode_task)
        decode_merge(&job, row_acc);
done:
    attn__scratch_put(job.scratch);
    attn__scratch_put(job.kt_all);
    free(job.part_m);
    free(job.part_l);
    free(job.part_acc);
    free(job.qt_all);
    free(row_acc);
    return rc;
}

attn_strides attn_strides_bhsd(size_t heads, size_t seq, size_t dim)
{
    attn_strides st = { heads * seq * dim, seq * dim, dim };
    return st;
}

attn_strides attn_strides_bshd(size_t heads, size_t seq, size_t dim)
{
    attn_strides st = { seq * heads * dim, dim, heads * dim };
    return st;
}

void attn_sdpa_desc_init(attn_sdpa_desc *desc, size_t batch, size_t q_heads,
                         size_t kv_heads, size_t q_len, size_t kv_len,
                         size_t head_dim)
{
    if (!desc)
        return;
    memset(desc, 0, sizeof(*desc));
    desc->batch = batch;
    desc->q_heads = q_heads;
    desc->kv_heads = kv_heads;
    desc->q_len = q_len;
    desc->kv_len = kv_len;
    desc->head_dim = head_dim;
    desc->value_dim = head_dim;
    desc->scale = 0.0f;
    desc->causal = ATTN_CAUSAL_NONE;
}
