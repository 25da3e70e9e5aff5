/*
 * attention — attention scoring for inference code written in C.
 *
 * From the seq2seq building blocks (dot, cosine, Luong and Bahdanau scores,
 * stable softmax, context vectors) to fused multi-head scaled dot-product
 * attention with masks, grouped-query heads and arbitrary strides.
 *
 * Conventions of the whole API:
 *  - Functions that cannot fail return their value (attn_dot, attn_cosine,
 *    attn_scaled_dot).  Every other function returns ATTN_OK (0) or a negative
 *    ATTN_E* status and writes its results through the out-parameters, which
 *    come first.  On error nothing is guaranteed about the outputs.
 *  - The library never aborts, never prints and never exits; allocation
 *    failure is reported as ATTN_ENOMEM.
 *  - Matrices are row-major.  A "stride" is a distance in elements (floats),
 *    not bytes.  The innermost dimension (the vector dimension) of every
 *    matrix or tensor is contiguous.
 *  - Pointers may be NULL only where a count of zero makes them unused or
 *    where the documentation says so.  Outputs must not overlap inputs unless
 *    the documentation allows it.
 *
 * Numerics (the accumulation policy):
 *  - Inputs and outputs are IEEE binary32.  Dot products inside the fused
 *    kernels accumulate in binary32, in several SIMD lanes (blocked
 *    summation) or, when decoding with the query rows of a GQA group in the
 *    lanes, in order (AVX-512) or in four partial sums per row (AVX2):
 *    either way at least as accurate as a sequential float loop.  Decode chunks are merged in binary64.  attn_dot, attn_cosine
 *    and attn_scaled_dot accumulate in binary64.
 *  - Softmax is always computed with max subtraction: finite logits of any
 *    magnitude never produce Inf or NaN.  The fused attention kernels use the
 *    online (streaming) formulation: a running maximum, a binary32 running
 *    sum per query row, and a binary32 output accumulator rescaled when the
 *    maximum grows.  The vector softmax functions sum in binary64.
 *  - A logit of -Inf (or a masked position) gets weight exactly 0.  A row in
 *    which every position is masked has all weights 0, a context/output of 0
 *    and a log-sum-exp of -Inf (the PyTorch convention for SDPA).
 *  - NaN policy: NaN is not an error.  A NaN (or +Inf logit) that takes part
 *    in a computation propagates: the affected outputs are NaN.  Callers that
 *    need to detect bad input check the outputs with isnan().
 *
 * Threads: fused attention splits work over batch, heads and blocks of query
 * rows (and, for decoding, blocks of keys whose size depends on the shape
 * only) and runs it on a persistent pool of worker threads: the first call
 * that wants N threads starts N - 1 workers (the calling thread is the
 * N-th), later calls reuse them.  The split never depends on the thread
 * count, so results are bitwise identical for any number of threads.
 * The contract with the host:
 *  - All functions are safe to call concurrently from several threads on
 *    distinct outputs.  Concurrent calls share the pool: each caller works
 *    on its own call and idle workers help the oldest call, so a call is
 *    never blocked by another one's work.
 *  - attn_set_num_threads() and attn_set_isa() change process-wide settings
 *    and should be called before starting work.
 *  - Workers block every signal (the host's handlers run on its own
 *    threads), and sleep after a short spin (about 0.1 ms) when idle.
 *  - fork() is safe at any time: the child starts with an empty pool and
 *    creates its own workers on its first call; the parent's are untouched.
 *  - The workers are joined when the process exits (or the shared library is
 *    unloaded), or at once by attn_release_threads(); a later call starts
 *    new ones.  If threads cannot be created, calls run on the calling
 *    thread: slower, same results, no error.
 */
#ifndef ATTENTION_H
#define ATTENTION_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTN_VERSION_MAJOR 1
#define ATTN_VERSION_MINOR 1
#define ATTN_VERSION_PATCH 0
#define ATTN_VERSION_STRING "1.1.0"

/* ATTN_API marks the exported symbols; everything else stays hidden. */
#if defined(_WIN32)
#  define ATTN_API
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define ATTN_API __attribute__((visibility("default")))
#else
#  define ATTN_API
#endif

/* ---------------------------------------------------------------- status */

enum attn_status {
    ATTN_OK = 0,
    ATTN_EINVAL = -1,    /* an argument is invalid (NULL, zero dimension, bad enum) */
    ATTN_ENOMEM = -2,    /* memory allocation failed */
    ATTN_EOVERFLOW = -3, /* sizes or strides overflow size_t */
    ATTN_ENOTSUP = -4    /* the requested instruction set is not available */
};

/* A static, lower-case, one-line description of a status code; never NULL,
 * also for unknown codes. */
ATTN_API const char *attn_strerror(int status);

/* The library's version as "MAJOR.MINOR.PATCH" (the runtime one, which may
 * differ from ATTN_VERSION_STRING if the header is older than the library). */
ATTN_API const char *attn_version(void);

/* ---------------------------------------------------- runtime settings */

/* Number of threads used by the fused kernels.  0 selects the number of
 * online CPUs (the default).  Returns ATTN_EINVAL for a negative count.
 * Results never depend on this setting. */
ATTN_API int attn_set_num_threads(int num_threads);
/* The thread count in use (resolved, so never 0). */
ATTN_API int attn_get_num_threads(void);

/* Joins the worker threads of the pool and frees them, for hosts that want
 * no idle threads left (before a long pause, before unloading the library,
 * in leak checkers).  Calls running meanwhile finish on their own threads;
 * the next call that wants threads starts new workers.  Safe to call at any
 * time from any host thread, and more than once. */
ATTN_API void attn_release_threads(void);

enum attn_isa {
    ATTN_ISA_AUTO = 0,   /* best available: AVX-512, then AVX2+FMA, then scalar */
    ATTN_ISA_SCALAR = 1, /* portable C */
    ATTN_ISA_AVX2 = 2,   /* AVX2 + FMA */
    ATTN_ISA_AVX512 = 3  /* AVX-512 F/BW/DQ/VL */
};

/* Selects the kernel set.  Returns ATTN_ENOTSUP when this CPU (or this
 * build) cannot run it, ATTN_EINVAL for an unknown value.  Meant for tests
 * and benchmarks; the automatic choice is the fastest. */
ATTN_API int attn_set_isa(int isa);
/* Name of the kernel set in use: "avx512", "avx2" or "scalar". */
ATTN_API const char *attn_isa_name(void);

/* --------------------------------------------------------- vector scores */

/* Dot product of a and b (n elements each), accumulated in double.
 * n == 0 gives 0. */
ATTN_API float attn_dot(const float *a, const float *b, size_t n);

/* Cosine similarity a.b / (max(|a|, eps) * max(|b|, eps)) with eps = 1e-8,
 * the floor PyTorch's cosine_similarity uses: a zero vector therefore has
 * cosine 0 with everything instead of a division by zero. */
ATTN_API float attn_cosine(const float *a, const float *b, size_t n);

/* a.b / sqrt(n): the score of scaled dot-product attention, which keeps the
 * variance of scores independent of the dimension.  n == 0 gives 0. */
ATTN_API float attn_scaled_dot(const float *a, const float *b, size_t n);

/* -------------------------------------------------------- batched scores */

/* scores[i] = query . keys[i] for i < n_keys, where key i starts at
 * keys + i * key_stride and has dim elements (key_stride >= dim).
 * This is the workhorse for nearest-neighbour search over L2-normalised
 * vectors, where the dot product is the cosine.
 * Errors: ATTN_EINVAL if dim == 0, key_stride < dim, or a pointer is NULL
 * while n_keys > 0. */
ATTN_API int attn_dot_batch(float *scores, const float *query,
                            const float *keys, size_t n_keys, size_t dim,
                            size_t key_stride);

/* scores[i * score_stride + j] = scale * (query i . key j) for n_queries
 * queries against n_keys keys: the L x S score matrix.  scale == 0 selects
 * 1/sqrt(dim).  Errors: ATTN_EINVAL for dim == 0, a stride smaller than the
 * row it must hold, a NULL pointer with non-zero counts, or a non-finite
 * scale. */
ATTN_API int attn_scores(float *scores, size_t score_stride,
                         const float *queries, size_t query_stride,
                         size_t n_queries, const float *keys,
                         size_t key_stride, size_t n_keys, size_t dim,
                         float scale);

/* Luong "general": scores[i] = query^T W key_i with W a query_dim x key_dim
 * row-major matrix.  Errors: ATTN_EINVAL (zero dimension, key_stride <
 * key_dim, NULL pointer), ATTN_ENOMEM. */
ATTN_API int attn_luong_general(float *scores, const float *query,
                                size_t query_dim, const float *weight,
                                const float *keys, size_t n_keys,
                                size_t key_dim, size_t key_stride);

/* Luong "concat": scores[i] = v . tanh(W [query; key_i]) with W an
 * attn_dim x (query_dim + key_dim) row-major matrix and v of attn_dim
 * elements.  Errors as attn_luong_general. */
ATTN_API int attn_luong_concat(float *scores, const float *query,
                               size_t query_dim, const float *keys,
                               size_t n_keys, size_t key_dim,
                               size_t key_stride, const float *weight,
                               const float *v, size_t attn_dim);

/* Bahdanau additive: scores[i] = v . tanh(W_q query + W_k key_i + bias) with
 * W_q attn_dim x query_dim, W_k attn_dim x key_dim (row-major), bias of
 * attn_dim elements or NULL for none.  Errors as attn_luong_general. */
ATTN_API int attn_bahdanau(float *scores, const float *query,
                           size_t query_dim, const float *keys, size_t n_keys,
                           size_t key_dim, size_t key_stride,
                           const float *w_query, const float *w_key,
                           const float *bias, const float *v,
                           size_t attn_dim);

/* --------------------------------------------------------------- softmax */

/* out[i] = exp(x[i] - max) / sum_j exp(x[j] - max).  out may equal x.
 * All -Inf (fully masked) gives all zeros.  n == 0 is a no-op.
 * Errors: ATTN_EINVAL for a NULL pointer with n > 0. */
ATTN_API int attn_softmax(float *out, const float *x, size_t n);

/* out[i] = x[i] - logsumexp(x).  out may equal x.  All -Inf gives all -Inf.
 * Errors as attn_softmax. */
ATTN_API int attn_log_softmax(float *out, const float *x, size_t n);

/* *out = log(sum_i exp(x[i])) computed as max + log(sum exp(x - max)):
 * finite for any finite input.  n == 0 or all -Inf gives -Inf.
 * Errors: ATTN_EINVAL for a NULL out, or NULL x with n > 0. */
ATTN_API int attn_logsumexp(float *out, const float *x, size_t n);

/* --------------------------------------------------------------- context */

/* context[d] = sum_i weights[i] * values[i * value_stride + d] for
 * d < value_dim.  Errors: ATTN_EINVAL (value_dim == 0, value_stride <
 * value_dim, NULL pointer). */
ATTN_API int attn_context(float *context, const float *weights,
                          const float *values, size_t n_keys,
                          size_t value_dim, size_t value_stride);

/* One query against n_keys keys: weights = softmax(scale * query . key_i)
 * and context = sum_i weights[i] * value_i.  scale == 0 selects 1/sqrt(dim).
 * weights (n_keys floats) may be NULL when only the context is wanted.
 * n_keys == 0 gives a zero context.  Errors: as attn_scores and
 * attn_context, ATTN_ENOMEM. */
ATTN_API int attn_attend(float *weights, float *context, const float *query,
                         const float *keys, size_t key_stride,
                         const float *values, size_t value_stride,
                         size_t n_keys, size_t dim, size_t value_dim,
                         float scale);

/* ------------------------------------------ scaled dot-product attention */

/* Element strides of a 4-D tensor [batch][head][seq][dim]; dim is
 * contiguous.  Any order in memory is expressed by the strides:
 * attn_strides_bhsd() and attn_strides_bshd() give the two usual ones.
 * A stride of 0 broadcasts along that dimension. */
typedef struct attn_strides {
    size_t batch;
    size_t head;
    size_t seq;
} attn_strides;

/* Strides of a contiguous [batch][heads][seq][dim] tensor. */
ATTN_API attn_strides attn_strides_bhsd(size_t heads, size_t seq, size_t dim);
/* Strides of a contiguous [batch][seq][heads][dim] tensor. */
ATTN_API attn_strides attn_strides_bshd(size_t heads, size_t seq, size_t dim);

enum attn_causal {
    ATTN_CAUSAL_NONE = 0,
    /* query i sees keys j <= i (PyTorch is_causal / tril aligned top-left) */
    ATTN_CAUSAL_TOP_LEFT = 1,
    /* query i sees keys j <= i + kv_len - q_len: the last query sees every
     * key, as in decoding with a KV cache (tril aligned bottom-right) */
    ATTN_CAUSAL_BOTTOM_RIGHT = 2
};

/* Element strides of a mask [batch][head][query][key]; 0 broadcasts. */
typedef struct attn_mask_strides {
    size_t batch;
    size_t head;
    size_t query;
    size_t key;
} attn_mask_strides;

/* Shape and options of attn_sdpa().  Set it up with attn_sdpa_desc_init()
 * and then change the fields you need. */
typedef struct attn_sdpa_desc {
    size_t batch;
    size_t q_heads;   /* query heads */
    size_t kv_heads;  /* key/value heads; q_heads must be a multiple (GQA/MQA) */
    size_t q_len;     /* L, queries per head */
    size_t kv_len;    /* S, keys per head */
    size_t head_dim;  /* D of queries and keys */
    size_t value_dim; /* D of values and outputs (head_dim by default) */
    float scale;      /* 0 selects 1/sqrt(head_dim) */
    int causal;       /* enum attn_causal */
    /* Additive float mask, added to the scaled scores (-Inf masks), or NULL. */
    const float *mask;
    attn_mask_strides mask_strides;
    /* Boolean mask: non-zero = the query may attend to the key (PyTorch's
     * bool attn_mask), or NULL. */
    const unsigned char *keep;
    attn_mask_strides keep_strides;
    /* Key padding: kv_lengths[b] keys of batch b are valid (the rest are
     * masked), or NULL for kv_len everywhere.  Values above kv_len are
     * clamped to kv_len. */
    const size_t *kv_lengths;
} attn_sdpa_desc;

/* Fills desc for a contiguous-length problem with no mask, no causality,
 * value_dim = head_dim and the default scale. */
ATTN_API void attn_sdpa_desc_init(attn_sdpa_desc *desc, size_t batch,
                                  size_t q_heads, size_t kv_heads,
                                  size_t q_len, size_t kv_len,
                                  size_t head_dim);

/* Multi-head scaled dot-product attention:
 *   out[b,h,i] = sum_j softmax_j(scale * q[b,h,i].k[b,g,j] + masks) v[b,g,j]
 * with g = h / (q_heads / kv_heads).  The S x S score matrix is never
 * materialised: the kernel walks key blocks with an online softmax.
 * lse, when not NULL, receives the natural-log log-sum-exp of each row's
 * scaled, masked scores at lse[b*lse_strides.batch + h*lse_strides.head +
 * i*lse_strides.seq] (-Inf for a fully masked row, whose output is 0).
 * out must not overlap the inputs.
 * Errors: ATTN_EINVAL (NULL desc or tensor, zero head_dim/value_dim or
 * kv_heads, q_heads not a multiple of kv_heads, unknown causal value,
 * non-finite scale), ATTN_EOVERFLOW (an index would overflow size_t),
 * ATTN_ENOMEM. */
ATTN_API int attn_sdpa(float *out, attn_strides out_strides, float *lse,
                       attn_strides lse_strides, const float *q,
                       attn_strides q_strides, const float *k,
                       attn_strides k_strides, const float *v,
                       attn_strides v_strides, const attn_sdpa_desc *desc);

/* ---------------------------------------------- streaming (online) softmax */

/* State of a softmax-weighted sum over keys seen so far, in O(value_dim)
 * memory: max is the running maximum score, sum the sum of exp(score - max)
 * (binary64), acc the sum of exp(score - max) * value (binary32).
 * Blocks of keys can be fed in any split; states for disjoint key sets can be
 * merged (split work across threads or machines), then finalized. */
typedef struct attn_online {
    size_t value_dim;
    float max;
    double sum;
    float *acc;
} attn_online;

/* Allocates acc and resets the state.  Errors: ATTN_EINVAL (NULL, zero
 * value_dim), ATTN_ENOMEM. */
ATTN_API int attn_online_init(attn_online *state, size_t value_dim);
/* Frees what the state holds; accepts a zeroed or released state. */
ATTN_API void attn_online_release(attn_online *state);
/* Forgets every key seen, keeping the allocation. */
ATTN_API void attn_online_reset(attn_online *state);

/* Adds n keys given by their final scores (already scaled and masked; -Inf
 * means masked) and their values (value i at values + i * value_stride).
 * Errors: ATTN_EINVAL (NULL, value_stride < value_dim). */
ATTN_API int attn_online_update(attn_online *state, const float *scores,
                                const float *values, size_t value_stride,
                                size_t n);

/* Adds n_keys keys scored as scale * query . key (scale == 0 selects
 * 1/sqrt(dim)).  Errors as attn_online_update plus dim == 0, key_stride <
 * dim, non-finite scale. */
ATTN_API int attn_online_update_keys(attn_online *state, const float *query,
                                     const float *keys, size_t key_stride,
                                     const float *values,
                                     size_t value_stride, size_t n_keys,
                                     size_t dim, float scale);

/* dst becomes the state of the union of both key sets.  src is unchanged.
 * Errors: ATTN_EINVAL (NULL, different value_dim). */
ATTN_API int attn_online_merge(attn_online *dst, const attn_online *src);

/* out (value_dim floats) = acc / sum: the attention output; lse (may be
 * NULL) = max + log(sum).  A state that saw no unmasked key gives out = 0
 * and lse = -Inf.  Errors: ATTN_EINVAL (NULL state/out or uninitialised). */
ATTN_API int attn_online_finalize(float *out, float *lse,
                                  const attn_online *state);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_H */
