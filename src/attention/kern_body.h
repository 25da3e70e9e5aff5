/*
 * Body of one kernel set, written once over a small vector vocabulary and
 * instantiated per instruction set by kern_scalar.c, kern_avx2.c and
 * kern_avx512.c (each compiled with its own target flags).  The includer
 * defines:
 *   VEC W                     vector type and its number of float lanes
 *   NV_QK NV_PV               vectors per register block (columns of the
 *                             score tile, value dims of the output tile)
 *   vload vstore vset1 vzero vfma(a,b,c)=a*b+c vmul vsub vmax vexp
 *   vhsum vhmax               horizontal sum / max
 *   vload_part(p, n)          the first n < W floats at p, the rest 0,
 *                             reading nothing past p + n
 *   vsum_lanes(x)             x[0..W-1] -> one vector whose lane j is the
 *                             sum of the lanes of x[j]
 *   KNAME(x)                  symbol of kernel x for this set
 */
#include <float.h>
#include <math.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))
/* VKEEP(x) pins a loaded vector in a register: without it the compiler
 * folds a load used by several FMAs into each of them, which costs a load
 * per FMA (the includer defines it; a no-op by default). */
#ifndef VKEEP
#define VKEEP(x) ((void)0)
#endif
/* The register blocks below only stay in registers when their loops are
 * unrolled completely; -O2 alone leaves the accumulators on the stack. */

/* One MR x nv register block of s = qp kt: nv vectors of W keys. */
INLINE void qk_block(float *s, const float *qp, const float *kt, size_t dim,
                     size_t c0, int nv)
{
    VEC acc[ATTN_MR][NV_QK];
    _Pragma("GCC unroll 16")
    for (int i = 0; i < ATTN_MR; i++)
        _Pragma("GCC unroll 16")
        for (int v = 0; v < nv; v++)
            acc[i][v] = vzero();
    for (size_t d = 0; d < dim; d++) {
        VEC kv[NV_QK];
        const float *krow = kt + d * ATTN_BK + c0;
        _Pragma("GCC unroll 16")
        for (int v = 0; v < nv; v++)
            kv[v] = vload(krow + v * W);
        _Pragma("GCC unroll 16")
        for (int i = 0; i < ATTN_MR; i++) {
            VEC qb = vset1(qp[i * dim + d]);
            _Pragma("GCC unroll 16")
            for (int v = 0; v < nv; v++)
                acc[i][v] = vfma(qb, kv[v], acc[i][v]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int i = 0; i < ATTN_MR; i++)
        _Pragma("GCC unroll 16")
        for (int v = 0; v < nv; v++)
            vstore(s + i * ATTN_BK + c0 + v * W, acc[i][v]);
}

static void KNAME(qk_tile)(float *s, const float *qp, const float *kt,
                           size_t rows_pad, size_t dim)
{
    for (size_t r = 0; r < rows_pad; r += ATTN_MR)
        for (size_t c = 0; c < ATTN_BK; c += NV_QK * W)
            qk_block(s + r * ATTN_BK, qp + r * dim, kt, dim, c, NV_QK);
}

static void KNAME(softmax_tile)(float *s, size_t rows, float *m, float *l,
                                float *o, size_t ldo, size_t dv_pad)
{
    for (size_t r = 0; r < rows; r++) {
        float *row = s + r * ATTN_BK;
        VEC vm = vset1(-INFINITY);
        for (size_t c = 0; c < ATTN_BK; c += W)
            vm = vmax(vm, vload(row + c));
        float tile_max = vhmax(vm);
        /* A NaN max must not pass for "all masked": NaN propagates. */
        float new_max = tile_max > m[r] || isnan(tile_max) ? tile_max : m[r];
        if (new_max == -INFINITY) {
            /* SIMD max drops NaN lanes, so a row of NaN and -Inf would pass
             * for fully masked: look before deciding. */
            int has_nan = 0;
            for (size_t c = 0; c < ATTN_BK; c++)
                has_nan |= isnan(row[c]);
            if (!has_nan) {
                /* Every key so far is masked: nothing to add yet. */
                memset(row, 0, ATTN_BK * sizeof(float));
                continue;
            }
            new_max = NAN;
        }
        /* The first keys a row sees: alpha would be e^-Inf = 0 against an
         * output and sum that are still 0 (or NaN, which 0 keeps): the same
         * bits without the scalar expf and the rescaling pass. */
        int first = m[r] == -INFINITY && !isnan(new_max);
        float alpha = new_max == m[r] || first ? 1.0f : expf(m[r] - new_max);
        VEC vmax_b = vset1(new_max), vsum = vzero();
        for (size_t c = 0; c < ATTN_BK; c += W) {
            VEC p = vexp(vsub(vload(row + c), vmax_b));
            vstore(row + c, p);
            vsum = vsum + p;
        }
        l[r] = l[r] * alpha + vhsum(vsum);
        m[r] = new_max;
        if (alpha != 1.0f) {
            VEC va = vset1(alpha);
            float *orow = o + r * ldo;
            for (size_t d = 0; d < dv_pad; d += W)
                vstore(orow + d, vmul(vload(orow + d), va));
        }
    }
}

/* One MR x nv block of o += p v over nk keys, at value column d0. */
INLINE void pv_block(float *o, size_t ldo, const float *p, const float *v,
                     size_t ldv, size_t nk, size_t d0, int nv)
{
    VEC acc[ATTN_MR][NV_PV];
    _Pragma("GCC unroll 16")
    for (int i = 0; i < ATTN_MR; i++)
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++)
            acc[i][c] = vload(o + i * ldo + d0 + c * W);
    for (size_t j = 0; j < nk; j++) {
        VEC vv[NV_PV];
        const float *vrow = v + j * ldv + d0;
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++)
            vv[c] = vload(vrow + c * W);
        _Pragma("GCC unroll 16")
        for (int i = 0; i < ATTN_MR; i++) {
            VEC pb = vset1(p[i * ATTN_BK + j]);
            _Pragma("GCC unroll 16")
            for (int c = 0; c < nv; c++)
                acc[i][c] = vfma(pb, vv[c], acc[i][c]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int i = 0; i < ATTN_MR; i++)
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++)
            vstore(o + i * ldo + d0 + c * W, acc[i][c]);
}

static void KNAME(pv_tile)(float *o, size_t ldo, const float *p,
                           const float *v, size_t ldv, size_t rows_pad,
                           size_t nk, size_t dv_pad)
{
    for (size_t r = 0; r < rows_pad; r += ATTN_MR) {
        float *orow = o + r * ldo;
        const float *prow = p + r * ATTN_BK;
        size_t d = 0;
        for (; d + NV_PV * W <= dv_pad; d += NV_PV * W)
            pv_block(orow, ldo, prow, v, ldv, nk, d, NV_PV);
        for (; d < dv_pad; d += W)
            pv_block(orow, ldo, prow, v, ldv, nk, d, 1);
    }
}

static void KNAME(dot_rows)(float *out, const float *q, const float *k,
                            size_t ldk, size_t n, size_t dim)
{
    size_t j = 0;
    size_t dv = dim / W * W;
    /* Four keys at a time: four independent FMA chains hide latency. */
    for (; j + 4 <= n; j += 4) {
        const float *k0 = k + j * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk,
                    *k3 = k2 + ldk;
        VEC a0 = vzero(), a1 = vzero(), a2 = vzero(), a3 = vzero();
        for (size_t d = 0; d < dv; d += W) {
            VEC qv = vload(q + d);
            a0 = vfma(qv, vload(k0 + d), a0);
            a1 = vfma(qv, vload(k1 + d), a1);
            a2 = vfma(qv, vload(k2 + d), a2);
            a3 = vfma(qv, vload(k3 + d), a3);
        }
        float s0 = vhsum(a0), s1 = vhsum(a1), s2 = vhsum(a2), s3 = vhsum(a3);
        for (size_t d = dv; d < dim; d++) {
            s0 = fmaf(q[d], k0[d], s0);
            s1 = fmaf(q[d], k1[d], s1);
            s2 = fmaf(q[d], k2[d], s2);
            s3 = fmaf(q[d], k3[d], s3);
        }
        out[j] = s0;
        out[j + 1] = s1;
        out[j + 2] = s2;
        out[j + 3] = s3;
    }
    for (; j < n; j++) {
        const float *k0 = k + j * ldk;
        VEC a0 = vzero();
        for (size_t d = 0; d < dv; d += W)
            a0 = vfma(vload(q + d), vload(k0 + d), a0);
        float s0 = vhsum(a0);
        for (size_t d = dv; d < dim; d++)
            s0 = fmaf(q[d], k0[d], s0);
        out[j] = s0;
    }
}

#define AXPY_NA 8
INLINE void axpy_block(float *acc, const float *p, const float *v, size_t ldv,
                       size_t n, int na)
{
    VEC a[AXPY_NA];
    _Pragma("GCC unroll 16")
    for (int c = 0; c < na; c++)
        a[c] = vload(acc + c * W);
    for (size_t j = 0; j < n; j++) {
        VEC pb = vset1(p[j]);
        const float *vrow = v + j * ldv;
        _Pragma("GCC unroll 16")
        for (int c = 0; c < na; c++)
            a[c] = vfma(pb, vload(vrow + c * W), a[c]);
    }
    _Pragma("GCC unroll 16")
    for (int c = 0; c < na; c++)
        vstore(acc + c * W, a[c]);
}

static void KNAME(axpy_rows)(float *acc, const float *p, const float *v,
                             size_t ldv, size_t n, size_t dv)
{
    size_t d = 0;
    for (; d + AXPY_NA * W <= dv; d += AXPY_NA * W)
        axpy_block(acc + d, p, v + d, ldv, n, AXPY_NA);
    for (; d + W <= dv; d += W)
        axpy_block(acc + d, p, v + d, ldv, n, 1);
    for (; d < dv; d++) {
        float a = acc[d];
        for (size_t j = 0; j < n; j++)
            a = fmaf(p[j], v[j * ldv + d], a);
        acc[d] = a;
    }
}

/* ------------------------------------------------------------ decode */

/* W keys at offsets off[] against one query row, key by key: each key row
 * is read from start to end, so memory sees one sequential stream that the
 * hardware prefetchers follow (interleaving the keys d by d, or reading a
 * value row in two passes, leaves them behind and halves the bandwidth of
 * a single query).  Two chains per key; out-of-order execution overlaps
 * the keys. */
INLINE VEC dot_keys_stream(const float *qr, const float *k, const size_t *off,
                           size_t dfull, size_t dtail)
{
    VEC acc[W];
    _Pragma("GCC unroll 16")
    for (int j = 0; j < W; j++) {
        const float *kr = k + off[j];
        VEC a0 = vzero(), a1 = vzero();
        size_t d = 0;
        for (; d + 2 * W <= dfull; d += 2 * W) {
            a0 = vfma(vload(qr + d), vload(kr + d), a0);
            a1 = vfma(vload(qr + d + W), vload(kr + d + W), a1);
        }
        if (d < dfull)
            a0 = vfma(vload(qr + d), vload(kr + d), a0);
        if (dtail)
            a1 = vfma(vload_part(qr + dfull, dtail), vload_part(kr + dfull, dtail), a1);
        acc[j] = a0 + a1;
    }
    return vsum_lanes(acc);
}

/* A prefetch cursor: one line per step, so that the prefetches are spread
 * over a kernel's inner loop instead of issued in bursts (a burst fills the
 * miss buffers and stalls the FMAs behind it until memory answers). */
typedef struct pf_cursor {
    const char *p;
    size_t r, rows, ld, len, b;
    unsigned credit, rate; /* pf_step prefetches when credit reaches PF_ONE */
} pf_cursor;

#define PF_ONE 65536u

INLINE void pf_init(pf_cursor *c, const attn_prefetch *pf)
{
    c->r = 0;
    c->b = 0;
    c->rows = pf ? pf->rows : 0;
    c->p = pf ? (const char *)pf->p : NULL;
    c->ld = pf ? pf->ld * sizeof(float) : 0;
    c->len = pf ? pf->len * sizeof(float) : 0;
    c->credit = 0;
    c->rate = PF_ONE;
}

/* A cursor whose lines are spread evenly over `steps` calls of pf_step
 * instead of one per call from the start: a kernel with more steps than
 * lines would otherwise prefetch during its first part only, and leave
 * memory idle during the rest (and the phases of the next block would
 * have nothing in flight). */
INLINE void pf_init_paced(pf_cursor *c, const attn_prefetch *pf, size_t steps)
{
    pf_init(c, pf);
    size_t lines = c->rows * ((c->len + 63) / 64);
    if (steps > lines && lines > 0)
        c->rate = (unsigned)((lines * PF_ONE + steps - 1) / steps);
}

INLINE void pf_step(pf_cursor *c)
{
    if (c->r >= c->rows)
        return;
    c->credit += c->rate;
    if (c->credit < PF_ONE)
        return;
    c->credit -= PF_ONE;
    __builtin_prefetch(c->p + c->r * c->ld + c->b, 0, 2);
    c->b += 64;
    if (c->b >= c->len) {
        __builtin_prefetch(c->p + c->r * c->ld + c->len - 1, 0, 2);
        c->b = 0;
        c->r++;
    }
}

/* Flushes what is left of a cursor. */
INLINE void pf_finish(pf_cursor *c)
{
    c->rate = PF_ONE;
    while (c->r < c->rows)
        pf_step(c);
}

/* Grouped decode (several query rows per key: the heads of a GQA group
 * times the query positions): a GR x GJ register block of dot products,
 * GR rows against GJ keys, one vector accumulator per pair along dim.
 * Each step loads GR query vectors and GJ key vectors for GR * GJ FMAs, so
 * the FMA units, not the loads, set the pace (the row-by-row loop needs a
 * load per FMA), and each key vector is read from L1 once per GR rows.
 * The GR * GJ sums fold into vectors by vsum_lanes, W at a time. */
#if W >= 16
#define GR 4
#define GJ 4
#elif W >= 8
/* 12 accumulators: each gets an FMA every 6 cycles at full rate, more than
 * the 5-cycle latency of Zen 2 (8 would leave the units idle 1 cycle in 5);
 * 12 + 3 keys + 1 query = the 16 ymm registers. */
#define GR 4
#define GJ 3
#else
#define GR 1
#define GJ 1
#endif

#define GACC ((GR * GJ + W - 1) / W * W)
INLINE void dot_group_block(float *s, size_t lds, const float *q, size_t ldq,
                            const float *k, const size_t *off, size_t dfull,
                            size_t dtail, int nr, size_t nj, pf_cursor *cur)
{
    VEC acc[GACC];
    _Pragma("GCC unroll 16")
    for (int i = 0; i < GACC; i++)
        acc[i] = vzero();
    for (size_t d = 0; d < dfull; d += W) {
        VEC kv[GJ];
        /* two lines a step: this loop has W times fewer steps per key */
        pf_step(cur);
        pf_step(cur);
        _Pragma("GCC unroll 16")
        for (int j = 0; j < GJ; j++) {
            kv[j] = vload(k + off[j] + d);
            VKEEP(kv[j]);
        }
        _Pragma("GCC unroll 16")
        for (int r = 0; r < nr; r++) {
            VEC qv = vload(q + r * ldq + d);
            _Pragma("GCC unroll 16")
            for (int j = 0; j < GJ; j++)
                acc[r * GJ + j] = vfma(qv, kv[j], acc[r * GJ + j]);
        }
    }
    if (dtail) {
        VEC kv[GJ];
        _Pragma("GCC unroll 16")
        for (int j = 0; j < GJ; j++)
            kv[j] = vload_part(k + off[j] + dfull, dtail);
        _Pragma("GCC unroll 16")
        for (int r = 0; r < nr; r++) {
            VEC qv = vload_part(q + r * ldq + dfull, dtail);
            _Pragma("GCC unroll 16")
            for (int j = 0; j < GJ; j++)
                acc[r * GJ + j] = vfma(qv, kv[j], acc[r * GJ + j]);
        }
    }
    float sums[GACC];
    _Pragma("GCC unroll 16")
    for (int i = 0; i < GACC; i += W)
        vstore(sums + i, vsum_lanes(acc + i));
    for (int r = 0; r < nr; r++)
        for (size_t j = 0; j < nj; j++)
            s[r * lds + j] = sums[r * GJ + j];
}

static void KNAME(dot_tile)(float *s, size_t lds, const float *q, size_t ldq,
                            size_t rows, const float *k, size_t ldk,
                            size_t nk, size_t dim, const attn_prefetch *pf)
{
    size_t dfull = dim / W * W, dtail = dim - dfull;
    if (rows == 1) {
        for (size_t j0 = 0; j0 < nk; j0 += W) {
            /* Keys past nk repeat key j0: valid memory, junk columns. */
            size_t off[W];
            _Pragma("GCC unroll 16")
            for (int j = 0; j < W; j++)
                off[j] = (j0 + j < nk ? j0 + j : j0) * ldk;
            vstore(s + j0, dot_keys_stream(q, k, off, dfull, dtail));
        }
        return;
    }
    pf_cursor cur;
    pf_init(&cur, pf);
    for (size_t j0 = 0; j0 < nk; j0 += GJ) {
        size_t off[GJ], nj = nk - j0 < GJ ? nk - j0 : GJ;
        _Pragma("GCC unroll 16")
        for (int j = 0; j < GJ; j++)
            off[j] = (j0 + j < nk ? j0 + j : j0) * ldk;
        size_t r = 0;
        for (; r + GR <= rows; r += GR)
            dot_group_block(s + r * lds + j0, lds, q + r * ldq, ldq, k, off, dfull, dtail, GR, nj, &cur);
#if GR > 1
        switch (rows - r) {
        case 0:
            break;
#if GR > 3
        case 3:
            dot_group_block(s + r * lds + j0, lds, q + r * ldq, ldq, k, off, dfull, dtail, 3, nj, &cur);
            break;
#endif
#if GR > 2
        case 2:
            dot_group_block(s + r * lds + j0, lds, q + r * ldq, ldq, k, off, dfull, dtail, 2, nj, &cur);
            break;
#endif
        default:
            dot_group_block(s + r * lds + j0, lds, q + r * ldq, ldq, k, off, dfull, dtail, 1, nj, &cur);
            break;
        }
#endif
    }
    while (cur.r < cur.rows)
        pf_step(&cur);
}

/* Grouped decode with the query rows in the lanes (W/2 < rows <= W: the
 * heads of a GQA group): scores, softmax and P V all work on vectors that
 * hold one key's value for every row, so nothing is reduced horizontally
 * and the softmax runs once per block for all rows.
 *
 * Scores (here the generic form; AVX2 has the one under VBCAST4 below): qt
 * holds the queries transposed (dim x W, rows past `rows` zero) and stays
 * in L1; each element of a key is broadcast against all
 * rows at once, so a block of TJ keys keeps TJ accumulators.  The keys of
 * a block are addressed in groups of three from one pointer (the other two
 * at +ldk and +2 ldk by base + index addressing): TJ separate pointers do
 * not fit in the integer registers next to the prefetch cursor, and the
 * spills cost a load per key per step. */
#ifndef VBCAST4
#if W >= 16
#define TJ 24
#else
#define TJ 12
#endif
INLINE void dot_t_block(float *st, const float *qt, const float *k, size_t ldk,
                        size_t dim, pf_cursor *cur)
{
    VEC acc[TJ];
    const float *kg[TJ / 3];
    size_t ldk2 = 2 * ldk;
    _Pragma("GCC unroll 32")
    for (int g = 0; g < TJ / 3; g++)
        kg[g] = k + 3 * g * ldk;
    _Pragma("GCC unroll 32")
    for (int j = 0; j < TJ; j++)
        acc[j] = vzero();
    for (size_t d = 0; d < dim; d++) {
        VEC qv = vload(qt + d * W);
        VKEEP(qv);
        pf_step(cur);
        _Pragma("GCC unroll 32")
        for (int g = 0; g < TJ / 3; g++) {
            acc[3 * g] = vfma(vset1(kg[g][0]), qv, acc[3 * g]);
            acc[3 * g + 1] = vfma(vset1(kg[g][ldk]), qv, acc[3 * g + 1]);
            acc[3 * g + 2] = vfma(vset1(kg[g][ldk2]), qv, acc[3 * g + 2]);
            kg[g]++;
        }
    }
    _Pragma("GCC unroll 32")
    for (int j = 0; j < TJ; j++)
        vstore(st + j * W, acc[j]);
}

/* The last nj < TJ keys of a block: keys past nj repeat the first one
 * (valid memory), their columns are not stored. */
INLINE void dot_t_rest(float *st, const float *qt, const float *k, size_t ldk,
                       size_t nj, size_t dim, pf_cursor *cur)
{
    VEC acc[TJ];
    size_t off[TJ];
    _Pragma("GCC unroll 32")
    for (int j = 0; j < TJ; j++) {
        acc[j] = vzero();
        off[j] = (size_t)j < nj ? j * ldk : 0;
    }
    for (size_t d = 0; d < dim; d++) {
        VEC qv = vload(qt + d * W);
        pf_step(cur);
        _Pragma("GCC unroll 32")
        for (int j = 0; j < TJ; j++)
            acc[j] = vfma(vset1(k[off[j] + d]), qv, acc[j]);
    }
    for (size_t j = 0; j < nj; j++)
        vstore(st + j * W, acc[j]);
}

#endif

#ifdef VBCAST4
/* With W == 8: four dims of a key broadcast to both halves of a vector
 * (one load) meet a vector holding the same four dims of rows p and p + 4,
 * so a step of 3 keys x 4 dims costs 3 + 4 loads for 12 FMAs instead of
 * 13 (one broadcast per key and dim).  Each row's dot product ends as 4
 * partial sums per half, folded by vsum_quads.  qt: for each group of 4
 * dims, 4 vectors (p = 0..3) of [row p | row p + 4]. */
INLINE void dot_q4_block(float *st, const float *qt, const float *k, size_t ldk,
                         size_t dim, int nj, pf_cursor *cur)
{
    VEC acc[3][4];
    const float *kr[3];
    _Pragma("GCC unroll 4")
    for (int j = 0; j < nj; j++) {
        kr[j] = k + j * ldk;
        _Pragma("GCC unroll 4")
        for (int p = 0; p < 4; p++)
            acc[j][p] = vzero();
    }
    size_t d = 0;
    const float *q = qt;
    for (; d + 4 <= dim; d += 4, q += 4 * W) {
        VEC kb[3];
        pf_step(cur);
        _Pragma("GCC unroll 4")
        for (int j = 0; j < nj; j++) {
            kb[j] = vbcast4(kr[j] + d);
            VKEEP(kb[j]);
        }
        _Pragma("GCC unroll 4")
        for (int p = 0; p < 4; p++) {
            VEC qv = vload(q + p * W);
            _Pragma("GCC unroll 4")
            for (int j = 0; j < nj; j++)
                acc[j][p] = vfma(kb[j], qv, acc[j][p]);
        }
    }
    if (d < dim) {
        _Pragma("GCC unroll 4")
        for (int j = 0; j < nj; j++) {
            VEC kb = vbcast4_part(kr[j] + d, dim - d);
            _Pragma("GCC unroll 4")
            for (int p = 0; p < 4; p++)
                acc[j][p] = vfma(kb, vload(q + p * W), acc[j][p]);
        }
    }
    _Pragma("GCC unroll 4")
    for (int j = 0; j < nj; j++)
        vstore(st + j * W, vsum_quads(acc[j]));
}

static void KNAME(dot_tile_t)(float *st, const float *qt, const float *k, size_t ldk,
                              size_t nk, size_t dim, const attn_prefetch *pf)
{
    size_t j0 = 0;
    pf_cursor cur;
    pf_init_paced(&cur, pf, (nk + 2) / 3 * (dim / 4));
    for (; j0 + 3 <= nk; j0 += 3)
        dot_q4_block(st + j0 * W, qt, k + j0 * ldk, ldk, dim, 3, &cur);
    if (nk - j0 == 2)
        dot_q4_block(st + j0 * W, qt, k + j0 * ldk, ldk, dim, 2, &cur);
    else if (nk - j0 == 1)
        dot_q4_block(st + j0 * W, qt, k + j0 * ldk, ldk, dim, 1, &cur);
    pf_finish(&cur);
}

static void KNAME(pack_q_t)(float *qt, const float *qs, size_t rows, size_t dim)
{
    size_t dim4 = (dim + 3) / 4 * 4;
    memset(qt, 0, dim4 * W * sizeof(float));
    for (size_t r = 0; r < rows; r++)
        for (size_t d = 0; d < dim; d++)
            qt[(d / 4 * 4 + r % 4) * W + r / 4 * 4 + d % 4] = qs[r * dim + d];
}
#else
static void KNAME(dot_tile_t)(float *st, const float *qt, const float *k, size_t ldk,
                              size_t nk, size_t dim, const attn_prefetch *pf)
{
    size_t j0 = 0;
    pf_cursor cur;
    pf_init_paced(&cur, pf, (nk + TJ - 1) / TJ * dim);
    for (; j0 + TJ <= nk; j0 += TJ)
        dot_t_block(st + j0 * W, qt, k + j0 * ldk, ldk, dim, &cur);
    if (j0 < nk)
        dot_t_rest(st + j0 * W, qt, k + j0 * ldk, ldk, nk - j0, dim, &cur);
    pf_finish(&cur);
}

/* qt: dim x W, row r in lane r. */
static void KNAME(pack_q_t)(float *qt, const float *qs, size_t rows, size_t dim)
{
    size_t dim4 = (dim + 3) / 4 * 4;
    memset(qt, 0, dim4 * W * sizeof(float));
    for (size_t r = 0; r < rows; r++)
        for (size_t d = 0; d < dim; d++)
            qt[d * W + r] = qs[r * dim + d];
}
#endif

/* Online softmax of a block of nk keys for all rows at once (st[j * W + r]
 * is key j of row r): block max, the rescaling factor of each row, e^(s -
 * max) in place, and the running max and sum (m, l, alpha: W floats).
 * -Inf (masked) scores get weight 0; a row that has seen nothing but -Inf
 * keeps max -Inf, sum 0 and alpha 0 (its output is still 0).  A NaN or
 * +Inf score makes the row's sum NaN, and then its max too (a SIMD max may
 * drop a NaN; the sum cannot), so the merge and the output see NaN. */
static void KNAME(softmax_t)(float *st, size_t nk, float *m, float *l, float *alpha)
{
    VEC b0 = vset1(-INFINITY), b1 = b0;
    size_t j = 0;
    for (; j + 2 <= nk; j += 2) {
        b0 = vmax(b0, vload(st + j * W));
        b1 = vmax(b1, vload(st + (j + 1) * W));
    }
    if (j < nk)
        b0 = vmax(b0, vload(st + j * W));
    VEC mo = vload(m);
    VEC mn = vmax(vmax(b0, b1), mo); /* vmax keeps a NaN second operand */
    /* Subtracting -FLT_MAX instead of -Inf: e^(-Inf - mu) = 0, not NaN. */
    VEC mu = vmax(vset1(-FLT_MAX), mn);
    VEC a = vexp(vsub(mo, mu));
    /* Two keys per step: more would spill (the exp needs many registers). */
    VEC s0 = vzero(), s1 = vzero();
    for (j = 0; j + 2 <= nk; j += 2) {
        VEC p0 = vexp(vsub(vload(st + j * W), mu));
        VEC p1 = vexp(vsub(vload(st + (j + 1) * W), mu));
        vstore(st + j * W, p0);
        vstore(st + (j + 1) * W, p1);
        s0 = s0 + p0;
        s1 = s1 + p1;
    }
    if (j < nk) {
        VEC p0 = vexp(vsub(vload(st + j * W), mu));
        vstore(st + j * W, p0);
        s0 = s0 + p0;
    }
    VEC ln = vfma(vload(l), a, s0 + s1);
    vstore(l, ln);
    vstore(m, mn + (ln - ln)); /* ln - ln: 0, or NaN when the sum is */
    vstore(alpha, a);
}

/* nr x nv register block of o += p v over nk keys at value column d0; the
 * last vector holds only `part` columns when part != 0.  With nv = PV_NA a
 * value row of up to PV_NA * W floats is read from start to end (one
 * sequential stream, as in dot_keys_stream). */
#define PVR_R 4
#if W == 8
#define PV_NA 3 /* 4 x 3 accumulators, as GR x GJ above */
#else
#define PV_NA NV_PV
#endif
INLINE void pvr_block(float *o, size_t ldo, const float *p, size_t ldp,
                      const float *v, size_t ldv, size_t nk, size_t d0,
                      int nr, int nv, size_t part, pf_cursor *cur)
{
    VEC acc[PVR_R][PV_NA];
    _Pragma("GCC unroll 16")
    for (int i = 0; i < nr; i++)
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++)
            acc[i][c] = vload(o + i * ldo + d0 + c * W);
    for (size_t j = 0; j < nk; j++) {
        VEC vv[PV_NA];
        const float *vrow = v + j * ldv + d0;
        if (cur && j % 2 == 0)
            pf_step(cur);
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++)
            vv[c] = part && c == nv - 1 ? vload_part(vrow + c * W, part)
                                        : vload(vrow + c * W);
        _Pragma("GCC unroll 16")
        for (int i = 0; i < nr; i++) {
            VEC pb = vset1(p[i * ldp + j]);
            _Pragma("GCC unroll 16")
            for (int c = 0; c < nv; c++)
                acc[i][c] = vfma(pb, vv[c], acc[i][c]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int i = 0; i < nr; i++)
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++)
            vstore(o + i * ldo + d0 + c * W, acc[i][c]);
}

/* Value columns [d0, d0 + nv * W) (the last vector `part` wide when part
 * != 0) for every row, PVR_R rows at a time: the slice of the value block
 * they read (nk rows of at most PV_NA vectors) stays in L1 for all rows. */
INLINE void pv_cols(float *o, size_t ldo, const float *p, size_t ldp,
                    size_t rows, const float *v, size_t ldv, size_t nk,
                    size_t d0, int nv, size_t part, pf_cursor *cur)
{
    size_t r = 0;
    for (; r + PVR_R <= rows; r += PVR_R)
        pvr_block(o + r * ldo, ldo, p + r * ldp, ldp, v, ldv, nk, d0, PVR_R, nv, part, cur);
    switch (rows - r) {
    case 0:
        break;
    case 3:
        pvr_block(o + r * ldo, ldo, p + r * ldp, ldp, v, ldv, nk, d0, 3, nv, part, cur);
        break;
    case 2:
        pvr_block(o + r * ldo, ldo, p + r * ldp, ldp, v, ldv, nk, d0, 2, nv, part, cur);
        break;
    default:
        pvr_block(o + r * ldo, ldo, p + r * ldp, ldp, v, ldv, nk, d0, 1, nv, part, cur);
        break;
    }
}

static void KNAME(pv_rows)(float *o, size_t ldo, const float *p, size_t ldp,
                           size_t rows, const float *v, size_t ldv, size_t nk,
                           size_t dv, const attn_prefetch *pf)
{
    if (rows == 1) {
        KNAME(axpy_rows)(o, p, v, ldv, nk, dv);
        return;
    }
    size_t d = 0;
    pf_cursor cur;
    pf_init(&cur, pf);
    for (; d + PV_NA * W <= dv; d += PV_NA * W)
        pv_cols(o, ldo, p, ldp, rows, v, ldv, nk, d, PV_NA, 0, &cur);
    for (; d + W <= dv; d += W)
        pv_cols(o, ldo, p, ldp, rows, v, ldv, nk, d, 1, 0, &cur);
    if (d < dv)
        pv_cols(o, ldo, p, ldp, rows, v, ldv, nk, d, 1, dv - d, &cur);
    while (cur.r < cur.rows)
        pf_step(&cur);
}


/* o_r = alpha_r o_r + sum_j pt[j * W + r] v_j for the rows in the lanes:
 * nr x nv register blocks whose accumulators are rescaled as they are
 * loaded (once per block, not per key).  Each step loads nv value vectors
 * and broadcasts nr probabilities. */
#define PVT_WIDE 8
INLINE void pvt_block(float *o, size_t ldo, const float *pt, const float *alpha,
                      const float *v, size_t ldv, size_t nk, size_t d0,
                      int nr, int nv, size_t part, pf_cursor *cur)
{
    VEC acc[PVT_WIDE][PV_NA];
    _Pragma("GCC unroll 16")
    for (int i = 0; i < nr; i++) {
        VEC a = vset1(alpha[i]);
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++)
            acc[i][c] = vmul(vload(o + i * ldo + d0 + c * W), a);
    }
    for (size_t j = 0; j < nk; j++) {
        VEC vv[PV_NA];
        const float *vrow = v + j * ldv + d0;
        pf_step(cur);
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++) {
            vv[c] = part && c == nv - 1 ? vload_part(vrow + c * W, part)
                                        : vload(vrow + c * W);
            VKEEP(vv[c]);
        }
        _Pragma("GCC unroll 16")
        for (int i = 0; i < nr; i++) {
            VEC pb = vset1(pt[j * W + i]);
            _Pragma("GCC unroll 16")
            for (int c = 0; c < nv; c++)
                acc[i][c] = vfma(pb, vv[c], acc[i][c]);
        }
    }
    _Pragma("GCC unroll 16")
    for (int i = 0; i < nr; i++)
        _Pragma("GCC unroll 16")
        for (int c = 0; c < nv; c++)
            vstore(o + i * ldo + d0 + c * W, acc[i][c]);
}

/* Rows [r, rows) of value columns [d0, d0 + nv * W), PVR_R at a time. */
INLINE void pvt_cols(float *o, size_t ldo, const float *pt, const float *alpha,
                     size_t r, size_t rows, const float *v, size_t ldv, size_t nk,
                     size_t d0, int nv, size_t part, pf_cursor *cur)
{
    for (; r + PVR_R <= rows; r += PVR_R)
        pvt_block(o + r * ldo, ldo, pt + r, alpha + r, v, ldv, nk, d0, PVR_R, nv, part, cur);
    switch (rows - r) {
    case 0:
        break;
    case 3:
        pvt_block(o + r * ldo, ldo, pt + r, alpha + r, v, ldv, nk, d0, 3, nv, part, cur);
        break;
    case 2:
        pvt_block(o + r * ldo, ldo, pt + r, alpha + r, v, ldv, nk, d0, 2, nv, part, cur);
        break;
    default:
        pvt_block(o + r * ldo, ldo, pt + r, alpha + r, v, ldv, nk, d0, 1, nv, part, cur);
        break;
    }
}

/* One value vector (the columns left after the PV_NA-wide blocks) for
 * PVT_WIDE rows at once: PVT_WIDE chains instead of PVR_R, which alone
 * would wait on the FMA latency. */
INLINE void pvt_narrow(float *o, size_t ldo, const float *pt, const float *alpha,
                       size_t rows, const float *v, size_t ldv, size_t nk, size_t d0,
                       size_t part, pf_cursor *cur)
{
    size_t r = 0;
    for (; r + PVT_WIDE <= rows; r += PVT_WIDE)
        pvt_block(o + r * ldo, ldo, pt + r, alpha + r, v, ldv, nk, d0, PVT_WIDE, 1, part, cur);
    pvt_cols(o, ldo, pt, alpha, r, rows, v, ldv, nk, d0, 1, part, cur);
}

static void KNAME(pv_t)(float *o, size_t ldo, const float *pt, const float *alpha,
                        size_t rows, const float *v, size_t ldv, size_t nk, size_t dv,
                        const attn_prefetch *pf)
{
    size_t d = 0;
    pf_cursor cur;
    /* register blocks of the wide and the narrow columns, nk steps each */
    size_t wide = dv / (PV_NA * W), narrow = (dv - wide * PV_NA * W + W - 1) / W;
    size_t rest = rows % PVT_WIDE;
    size_t blocks = wide * ((rows + PVR_R - 1) / PVR_R) +
                    narrow * (rows / PVT_WIDE + (rest + PVR_R - 1) / PVR_R);
    pf_init_paced(&cur, pf, blocks * nk);
    for (; d + PV_NA * W <= dv; d += PV_NA * W)
        pvt_cols(o, ldo, pt, alpha, 0, rows, v, ldv, nk, d, PV_NA, 0, &cur);
    for (; d + W <= dv; d += W)
        pvt_narrow(o, ldo, pt, alpha, rows, v, ldv, nk, d, 0, &cur);
    if (d < dv)
        pvt_narrow(o, ldo, pt, alpha, rows, v, ldv, nk, d, dv - d, &cur);
    pf_finish(&cur);
}

static void KNAME(scale_copy)(float *dst, const float *src, size_t n, float scale)
{
    VEC vs = vset1(scale);
    size_t i = 0;
    for (; i + W <= n; i += W)
        vstore(dst + i, vmul(vload(src + i), vs));
    for (; i < n; i++)
        dst[i] = src[i] * scale;
}

static void KNAME(pack_kt)(float *kt, const float *keys, size_t ldk, size_t nk, size_t dim)
{
    size_t c0 = 0, d0 = 0;
#ifdef VTRANSPOSE8
    /* 8 x 8 blocks through registers: a scalar transposition costs a load
     * and a store per element, as much as a fifth of a small prefill. */
    for (; c0 + 8 <= nk; c0 += 8) {
        for (d0 = 0; d0 + 8 <= dim; d0 += 8) {
            VEC r[8];
            _Pragma("GCC unroll 8")
            for (int i = 0; i < 8; i++)
                r[i] = vload(keys + (c0 + i) * ldk + d0);
            vtranspose8(r);
            _Pragma("GCC unroll 8")
            for (int i = 0; i < 8; i++)
                vstore(kt + (d0 + i) * ATTN_BK + c0, r[i]);
        }
        for (size_t d = d0; d < dim; d++)
            for (size_t c = c0; c < c0 + 8; c++)
                kt[d * ATTN_BK + c] = keys[c * ldk + d];
    }
#endif
    (void)d0;
    for (size_t d = 0; d < dim; d++) {
        float *dst = kt + d * ATTN_BK;
        for (size_t c = c0; c < nk; c++)
            dst[c] = keys[c * ldk + d];
        for (size_t c = nk; c < ATTN_BK; c++)
            dst[c] = 0.0f;
    }
}
