/* Portable kernel set: the body of kern_body.h over plain floats. */
#include "internal.h"

#include <math.h>

typedef float VEC;
#define W 1
#define NV_QK 4
#define NV_PV 4
#define KNAME(x) scalar_##x

static inline VEC vload(const float *p) { return *p; }
static inline void vstore(float *p, VEC x) { *p = x; }
static inline VEC vset1(float x) { return x; }
static inline VEC vzero(void) { return 0.0f; }
static inline VEC vfma(VEC a, VEC b, VEC c) { return a * b + c; }
static inline VEC vmul(VEC a, VEC b) { return a * b; }
static inline VEC vsub(VEC a, VEC b) { return a - b; }
/* NaN in b is kept, as the SIMD versions do. */
static inline VEC vmax(VEC a, VEC b) { return a > b ? a : b; }
static inline VEC vexp(VEC x) { return expf(x); }
static inline float vhsum(VEC x) { return x; }
static inline float vhmax(VEC x) { return x; }
/* W == 1: never called with n > 0 */
static inline VEC vload_part(const float *p, size_t n) { return n ? *p : 0.0f; }
static inline VEC vsum_lanes(const VEC *x) { return x[0]; }

#include "kern_body.h"

const attn_kernels attn__kernels_scalar = {
    "scalar", W, scalar_qk_tile, scalar_softmax_tile, scalar_pv_tile,
    scalar_dot_rows, scalar_axpy_rows, scalar_dot_tile, scalar_pv_rows, scalar_dot_tile_t,
    scalar_softmax_t, scalar_pv_t, scalar_pack_q_t,
    scalar_scale_copy, scalar_pack_kt,
};
