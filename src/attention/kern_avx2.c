/* AVX2 + FMA kernel set (compiled with -mavx2 -mfma). */
#include "internal.h"

#include <math.h>
#include <immintrin.h>

typedef __m256 VEC;
#define W 8
#define NV_QK 2 /* 6 x 2 accumulators + 2 keys + 1 broadcast <= 16 ymm */
#define NV_PV 2
#define VKEEP(x) __asm__("" : "+x"(x))
#define KNAME(x) avx2_##x

static inline VEC vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, VEC x) { _mm256_storeu_ps(p, x); }
static inline VEC vset1(float x) { return _mm256_set1_ps(x); }
static inline VEC vzero(void) { return _mm256_setzero_ps(); }
static inline VEC vfma(VEC a, VEC b, VEC c) { return _mm256_fmadd_ps(a, b, c); }
static inline VEC vmul(VEC a, VEC b) { return _mm256_mul_ps(a, b); }
static inline VEC vsub(VEC a, VEC b) { return _mm256_sub_ps(a, b); }
static inline VEC vmax(VEC a, VEC b) { return _mm256_max_ps(a, b); }

/* 2^x for x <= 0 (the softmax range): x = n + f with |f| <= 1/2, 2^f by its
 * degree-7 Taylor polynomial (relative error ~5e-9, below float rounding),
 * 2^n through the exponent bits.  x < -126 gives exactly 0 (so -Inf, a masked
 * score, gets weight 0); NaN stays NaN. */
static inline VEC vexp2(VEC x)
{
    VEC xc = _mm256_max_ps(_mm256_set1_ps(-126.0f), x); /* NaN in x survives */
    xc = _mm256_min_ps(_mm256_set1_ps(127.0f), xc);
    VEC n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    VEC f = _mm256_sub_ps(xc, n);
    VEC p = _mm256_set1_ps(1.5252734e-5f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.5403530e-4f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3333558e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6181291e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5504109e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022651e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    VEC r = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    VEC tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
    return _mm256_andnot_ps(tiny, r);
}

/* e^x = 2^(x log2 e) */
static inline VEC vexp(VEC x) { return vexp2(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f))); }

static inline float vhsum(VEC x)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float vhmax(VEC x)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline VEC vload_part(const float *p, size_t n)
{
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_maskload_ps(p, m); /* masked lanes are not accessed */
}

/* Eight dot-product accumulators to one vector of eight sums by a tree of
 * 128-bit and in-lane shuffles (7 adds instead of 8 horizontal sums).  The
 * tree leaves lane 4k + t holding input 2t + k, so the inputs go in that
 * order. */
static inline VEC vsum_lanes(const VEC *a)
{
    static const int in[8] = { 0, 4, 1, 5, 2, 6, 3, 7 };
    VEC c[4], e[2];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 4; i++) {
        VEC x = a[in[2 * i]], y = a[in[2 * i + 1]];
        c[i] = _mm256_add_ps(_mm256_permute2f128_ps(x, y, 0x20),
                             _mm256_permute2f128_ps(x, y, 0x31));
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 2; i++)
        e[i] = _mm256_add_ps(_mm256_shuffle_ps(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_add_ps(_mm256_shuffle_ps(e[0], e[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(e[0], e[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Four floats broadcast to both 128-bit halves (the first n < 4 when
 * partial; nothing past p + n is read). */
#define VBCAST4 1
static inline VEC vbcast4(const float *p) { return _mm256_broadcast_ps((const __m128 *)p); }
static inline VEC vbcast4_part(const float *p, size_t n)
{
    __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32((int)n), _mm_setr_epi32(0, 1, 2, 3));
    __m128 x = _mm_maskload_ps(p, m);
    return _mm256_set_m128(x, x);
}

/* Four accumulators a[p] = [row p: 4 partial sums | row p + 4: 4 partial
 * sums] to one vector of the eight row sums, in row order. */
static inline VEC vsum_quads(const VEC *a)
{
    VEC h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);
    return _mm256_hadd_ps(h01, h23);
}

/* r[0..7] (rows of 8) transposed in place. */
#define VTRANSPOSE8 1
static inline void vtranspose8(VEC *r)
{
    VEC t[8], u[8];
    _Pragma("GCC unroll 4")
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    _Pragma("GCC unroll 2")
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    _Pragma("GCC unroll 4")
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

#include "kern_body.h"

const attn_kernels attn__kernels_avx2 = {
    "avx2", W, avx2_qk_tile, avx2_softmax_tile, avx2_pv_tile,
    avx2_dot_rows, avx2_axpy_rows, avx2_dot_tile, avx2_pv_rows, avx2_dot_tile_t,
    avx2_softmax_t, avx2_pv_t, avx2_pack_q_t,
    avx2_scale_copy, avx2_pack_kt,
};
