/* Vector scores, batched scores, the seq2seq score family, softmax,
 * context vectors and the streaming softmax state. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The PyTorch cosine_similarity floor on each norm. */
#define ATTN_COSINE_EPS 1e-8

float attn_dot(const float *a, const float *b, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)a[i] * b[i];
    return (float)sum;
}

float attn_cosine(const float *a, const float *b, size_t n)
{
    double dot = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    double na = fmax(sqrt(aa), ATTN_COSINE_EPS);
    double nb = fmax(sqrt(bb), ATTN_COSINE_EPS);
    return (float)(dot / (na * nb));
}

float attn_scaled_dot(const float *a, const float *b, size_t n)
{
    if (n == 0)
        return 0.0f;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)a[i] * b[i];
    return (float)(sum / sqrt((double)n));
}

static float default_scale(float scale, size_t dim)
{
    return scale == 0.0f ? (float)(1.0 / sqrt((double)dim)) : scale;
}

int attn_dot_batch(float *scores, const float *query, const float *keys,
                   size_t n_keys, size_t dim, size_t key_stride)
{
    if (dim == 0 || key_stride < dim)
        return ATTN_EINVAL;
    if (n_keys == 0)
        return ATTN_OK;
    if (!scores || !query || !keys)
        return ATTN_EINVAL;
    attn__kernels()->dot_rows(scores, query, keys, key_stride, n_keys, dim);
    return ATTN_OK;
}

int attn_scores(float *scores, size_t score_stride, const float *queries,
                size_t query_stride, size_t n_queries, const float *keys,
                size_t key_stride, size_t n_keys, size_t dim, float scale)
{
    if (dim == 0 || key_stride < dim || query_stride < dim ||
        score_stride < n_keys || !isfinite(scale))
        return ATTN_EINVAL;
    if (n_queries == 0 || n_keys == 0)
        return ATTN_OK;
    if (!scores || !queries || !keys)
        return ATTN_EINVAL;
    const attn_kernels *kern = attn__kernels();
    scale = default_scale(scale, dim);
    for (size_t i = 0; i < n_queries; i++) {
        float *row = scores + i * score_stride;
        kern->dot_rows(row, queries + i * query_stride, keys, key_stride,
                       n_keys, dim);
        for (size_t j = 0; j < n_keys; j++)
            row[j] *= scale;
    }
    return ATTN_OK;
}

int attn_luong_general(float *scores, const float *query, size_t query_dim,
                       const float *weight, const float *keys, size_t n_keys,
                       size_t key_dim, size_t key_stride)
{
    float *projected = NULL;
    int rc = ATTN_OK;

    if (query_dim == 0 || key_dim == 0 || key_stride < key_dim)
        return ATTN_EINVAL;
    if (n_keys == 0)
        return ATTN_OK;
    if (!scores || !query || !weight || !keys)
        return ATTN_EINVAL;
    /* q^T W k = (W^T q) . k: project the query once, then one dot per key. */
    projected = malloc(key_dim * sizeof(*projected));
    if (!projected) {
        rc = ATTN_ENOMEM;
        goto done;
    }
    for (size_t b = 0; b < key_dim; b++) {
        double sum = 0.0;
        for (size_t a = 0; a < query_dim; a++)
            sum += (double)query[a] * weight[a * key_dim + b];
        projected[b] = (float)sum;
    }
    attn__kernels()->dot_rows(scores, projected, keys, key_stride, n_keys, key_dim);
done:
    free(projected);
    return rc;
}

/* Shared by concat and Bahdanau: v . tanh(Wq q + Wk k_i + bias) where the
 * query and key weights are row-major with the given row strides. */
static int additive_scores(float *scores, const float *query, size_t query_dim,
                           const float *keys, size_t n_keys, size_t key_dim,
                           size_t key_stride, const float *w_query,
                           size_t wq_stride, const float *w_key,
                           size_t wk_stride, const float *bias,
                           const float *v, size_t attn_dim)
{
    float *query_part = NULL;
    int rc = ATTN_OK;

    if (query_dim == 0 || key_dim == 0 || attn_dim == 0 || key_stride < key_dim)
        return ATTN_EINVAL;
    if (n_keys == 0)
        return ATTN_OK;
    if (!scores || !query || !keys || !w_query || !w_key || !v)
        return ATTN_EINVAL;
    query_part = malloc(attn_dim * sizeof(*query_part));
    if (!query_part) {
        rc = ATTN_ENOMEM;
        goto done;
    }
    /* The query half is the same for every key: compute it once. */
    for (size_t a = 0; a < attn_dim; a++) {
        double sum = bias ? bias[a] : 0.0;
        for (size_t d = 0; d < query_dim; d++)
            sum += (double)w_query[a * wq_stride + d] * query[d];
        query_part[a] = (float)sum;
    }
    for (size_t i = 0; i < n_keys; i++) {
        const float *key = keys + i * key_stride;
        double score = 0.0;
        for (size_t a = 0; a < attn_dim; a++) {
            double h = query_part[a];
            for (size_t d = 0; d < key_dim; d++)
                h += (double)w_key[a * wk_stride + d] * key[d];
            score += (double)v[a] * tanh(h);
        }
        scores[i] = (float)score;
    }
done:
    free(query_part);
    return rc;
}

int attn_luong_concat(float *scores, const float *query, size_t query_dim,
                      const float *keys, size_t n_keys, size_t key_dim,
                      size_t key_stride, const float *weight, const float *v,
                      size_t attn_dim)
{
    /* W [q; k] = W[:, :dq] q + W[:, dq:] k: the additive form with both
     * halves of one matrix. */
    return additive_scores(scores, query, query_dim, keys, n_keys, key_dim,
                           key_stride, weight, query_dim + key_dim,
                           weight ? weight + query_dim : NULL,
                           query_dim + key_dim, NULL, v, attn_dim);
}

int attn_bahdanau(float *scores, const float *query, size_t query_dim,
                  const float *keys, size_t n_keys, size_t key_dim,
                  size_t key_stride, const float *w_query, const float *w_key,
                  const float *bias, const float *v, size_t attn_dim)
{
    return additive_scores(scores, query, query_dim, keys, n_keys, key_dim,
                           key_stride, w_query, query_dim, w_key, key_dim,
                           bias, v, attn_dim);
}

/* max of x, NaN if any x is NaN (so that NaN propagates), -Inf if n == 0. */
static float max_of(const float *x, size_t n)
{
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            return x[i];
        if (x[i] > m)
            m = x[i];
    }
    return m;
}

int attn_softmax(float *out, const float *x, size_t n)
{
    if (n == 0)
        return ATTN_OK;
    if (!out || !x)
        return ATTN_EINVAL;
    float m = max_of(x, n);
    if (m == -INFINITY) {
        /* Fully masked: no key gets weight (PyTorch SDPA convention). */
        memset(out, 0, n * sizeof(*out));
        return ATTN_OK;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float e = expf(x[i] - m);
        out[i] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < n; i++)
        out[i] *= inv;
    return ATTN_OK;
}

static double logsumexp_d(const float *x, size_t n)
{
    float m = max_of(x, n);
    if (m == -INFINITY || isnan(m) || m == INFINITY)
        return m == INFINITY ? NAN : m;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += exp((double)x[i] - m);
    return m + log(sum);
}

int attn_log_softmax(float *out, const float *x, size_t n)
{
    if (n == 0)
        return ATTN_OK;
    if (!out || !x)
        return ATTN_EINVAL;
    double lse = logsumexp_d(x, n);
    for (size_t i = 0; i < n; i++)
        out[i] = lse == -INFINITY ? -INFINITY : (float)(x[i] - lse);
    return ATTN_OK;
}

int attn_logsumexp(float *out, const float *x, size_t n)
{
    if (!out || (!x && n > 0))
        return ATTN_EINVAL;
    *out = n == 0 ? -INFINITY : (float)logsumexp_d(x, n);
    return ATTN_OK;
}

int attn_context(float *context, const float *weights, const float *values,
                 size_t n_keys, size_t value_dim, size_t value_stride)
{
    if (value_dim == 0 || value_stride < value_dim || !context)
        return ATTN_EINVAL;
    if (n_keys > 0 && (!weights || !values))
        return ATTN_EINVAL;
    memset(context, 0, value_dim * sizeof(*context));
    if (n_keys > 0)
        attn__kernels()->axpy_rows(context, weights, values, value_stride,
                                   n_keys, value_dim);
    return ATTN_OK;
}

int attn_attend(float *weights, float *context, const float *query,
                const float *keys, size_t key_stride, const float *values,
                size_t value_stride, size_t n_keys, size_t dim,
                size_t value_dim, float scale)
{
    float *owned = NULL;
    int rc;

    if (dim == 0 || key_stride < dim || value_dim == 0 ||
        value_stride < value_dim || !context || !isfinite(scale))
        return ATTN_EINVAL;
    if (n_keys > 0 && (!query || !keys || !values))
        return ATTN_EINVAL;
    if (!weights && n_keys > 0) {
        owned = malloc(n_keys * sizeof(*owned));
        if (!owned) {
            rc = ATTN_ENOMEM;
            goto done;
        }
        weights = owned;
    }
    if (n_keys > 0) {
        rc = attn_scores(weights, n_keys, query, dim, 1, keys, key_stride,
                         n_keys, dim, scale);
        if (rc != ATTN_OK)
            goto done;
        rc = attn_softmax(weights, weights, n_keys);
        if (rc != ATTN_OK)
            goto done;
    }
    rc = attn_context(context, weights, values, n_keys, value_dim, value_stride);
done:
    free(owned);
    return rc;
}

int attn_online_init(attn_online *state, size_t value_dim)
{
    if (!state || value_dim == 0)
        return ATTN_EINVAL;
    state->acc = NULL;
    state->value_dim = 0;
    if (value_dim > (size_t)-1 / sizeof(float))
        return ATTN_ENOMEM;
    state->acc = calloc(value_dim, sizeof(float));
    if (!state->acc)
        return ATTN_ENOMEM;
    state->value_dim = value_dim;
    state->max = -INFINITY;
    state->sum = 0.0;
    return ATTN_OK;
}

void attn_online_release(attn_online *state)
{
    if (!state)
        return;
    free(state->acc);
    state->acc = NULL;
    state->value_dim = 0;
    state->max = -INFINITY;
    state->sum = 0.0;
}

void attn_online_reset(attn_online *state)
{
    if (!state || !state->acc)
        return;
    memset(state->acc, 0, state->value_dim * sizeof(float));
    state->max = -INFINITY;
    state->sum = 0.0;
}

/* Brings the state's max up to new_max, rescaling what it holds. */
static void online_rebase(attn_online *state, float new_max)
{
    if (new_max == state->max)
        return;
    float alpha = state->max == -INFINITY ? 0.0f : expf(state->max - new_max);
    state->sum *= alpha;
    for (size_t d = 0; d < state->value_dim; d++)
        state->acc[d] *= alpha;
    state->max = new_max;
}

int attn_online_update(attn_online *state, const float *scores,
                       const float *values, size_t value_stride, size_t n)
{
    if (!state || !state->acc || value_stride < state->value_dim)
        return ATTN_EINVAL;
    if (n == 0)
        return ATTN_OK;
    if (!scores || !values)
        return ATTN_EINVAL;
    float block_max = max_of(scores, n);
    if (block_max == -INFINITY)
        return ATTN_OK;
    if (isnan(block_max) || block_max > state->max)
        online_rebase(state, block_max);
    for (size_t i = 0; i < n; i++) {
        float p = expf(scores[i] - state->max);
        if (p == 0.0f)
            continue;
        state->sum += p;
        const float *value = values + i * value_stride;
        for (size_t d = 0; d < state->value_dim; d++)
            state->acc[d] = fmaf(p, value[d], state->acc[d]);
    }
    return ATTN_OK;
}

int attn_online_update_keys(attn_online *state, const float *query,
                            const float *keys, size_t key_stride,
                            const float *values, size_t value_stride,
                            size_t n_keys, size_t dim, float scale)
{
    float block[256];
    if (!state || !state->acc || dim == 0 || key_stride < dim ||
        value_stride < state->value_dim || !isfinite(scale))
        return ATTN_EINVAL;
    if (n_keys == 0)
        return ATTN_OK;
    if (!query || !keys || !values)
        return ATTN_EINVAL;
    scale = default_scale(scale, dim);
    const attn_kernels *kern = attn__kernels();
    for (size_t j = 0; j < n_keys; j += 256) {
        size_t n = n_keys - j < 256 ? n_keys - j : 256;
        kern->dot_rows(block, query, keys + j * key_stride, key_stride, n, dim);
        for (size_t i = 0; i < n; i++)
            block[i] *= scale;
        int rc = attn_online_update(state, block, values + j * value_stride,
                                    value_stride, n);
        if (rc != ATTN_OK)
            return rc;
    }
    return ATTN_OK;
}

int attn_online_merge(attn_online *dst, const attn_online *src)
{
    if (!dst || !src || !dst->acc || !src->acc || dst->value_dim != src->value_dim)
        return ATTN_EINVAL;
    if (src->max == -INFINITY)
        return ATTN_OK;
    if (isnan(src->max) || src->max > dst->max)
        online_rebase(dst, src->max);
    float beta = src->max == dst->max ? 1.0f : expf(src->max - dst->max);
    dst->sum += src->sum * beta;
    for (size_t d = 0; d < dst->value_dim; d++)
        dst->acc[d] = fmaf(src->acc[d], beta, dst->acc[d]);
    return ATTN_OK;
}

int attn_online_finalize(float *out, float *lse, const attn_online *state)
{
    if (!out || !state || !state->acc)
        return ATTN_EINVAL;
    if (state->max == -INFINITY) {
        memset(out, 0, state->value_dim * sizeof(*out));
        if (lse)
            *lse = -INFINITY;
        return ATTN_OK;
    }
    double inv = 1.0 / state->sum;
    for (size_t d = 0; d < state->value_dim; d++)
        out[d] = (float)(state->acc[d] * inv);
    if (lse)
        *lse = (float)(state->max + log(state->sum));
    return ATTN_OK;
}
