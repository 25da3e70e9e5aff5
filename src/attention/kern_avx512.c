/* AVX-512 kernel set (compiled with -mavx512f -mavx512bw -mavx512dq
 * -mavx512vl -mfma). */
#include "internal.h"

#include <math.h>
#include <immintrin.h>

typedef __m512 VEC;
#define W 16
#define NV_QK 4 /* 6 x 4 accumulators: a 6 x 64 score block in registers */
#define NV_PV 4
#define VKEEP(x) __asm__("" : "+v"(x))
#define KNAME(x) avx512_##x

static inline VEC vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, VEC x) { _mm512_storeu_ps(p, x); }
static inline VEC vset1(float x) { return _mm512_set1_ps(x); }
static inline VEC vzero(void) { return _mm512_setzero_ps(); }
static inline VEC vfma(VEC a, VEC b, VEC c) { return _mm512_fmadd_ps(a, b, c); }
static inline VEC vmul(VEC a, VEC b) { return _mm512_mul_ps(a, b); }
static inline VEC vsub(VEC a, VEC b) { return _mm512_sub_ps(a, b); }
static inline VEC vmax(VEC a, VEC b) { return _mm512_max_ps(a, b); }

/* 2^x as in kern_avx2.c, with vscalefps for 2^n: clamping at -150 makes
 * -Inf give exactly 0 (2^-150 rounds to 0) and keeps NaN. */
static inline VEC vexp2(VEC x)
{
    VEC xc = _mm512_max_ps(_mm512_set1_ps(-150.0f), x); /* NaN in x survives */
    xc = _mm512_min_ps(_mm512_set1_ps(128.0f), xc);
    VEC n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    VEC f = _mm512_sub_ps(xc, n);
    VEC p = _mm512_set1_ps(1.5252734e-5f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530e-4f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* e^x = 2^(x log2 e) */
static inline VEC vexp(VEC x) { return vexp2(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f))); }

static inline float vhsum(VEC x) { return _mm512_reduce_add_ps(x); }
static inline float vhmax(VEC x) { return _mm512_reduce_max_ps(x); }

static inline VEC vload_part(const float *p, size_t n)
{
    /* masked lanes are not accessed (no fault, no read past p + n) */
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
}

/* Sixteen dot-product accumulators to one vector of sixteen sums by a tree
 * of 128-bit and in-lane shuffles (15 adds instead of 16 horizontal sums).
 * The tree leaves lane 4k + t holding input 4t + k, so the inputs go in
 * transposed order. */
static inline VEC vsum_lanes(const VEC *a)
{
    VEC c[8], e[4], g[2];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 8; i++) {
        int i0 = 2 * i, i1 = 2 * i + 1;
        VEC x = a[(i0 & 3) * 4 + (i0 >> 2)], y = a[(i1 & 3) * 4 + (i1 >> 2)];
        c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 4; i++)
        e[i] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 2; i++)
        g[i] = _mm512_add_ps(_mm512_shuffle_ps(e[2 * i], e[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(e[2 * i], e[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_ps(g[0], g[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(g[0], g[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

#include "kern_body.h"

const attn_kernels attn__kernels_avx512 = {
    "avx512", W, avx512_qk_tile, avx512_softmax_tile, avx512_pv_tile,
    avx512_dot_rows, avx512_axpy_rows, avx512_dot_tile, avx512_pv_rows, avx512_dot_tile_t,
    avx512_softmax_t, avx512_pv_t, avx512_pack_q_t,
    avx512_scale_copy, avx512_pack_kt,
};
