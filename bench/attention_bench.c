/*
 * Benchmark of the attention library against a naive triple loop and an
 * unfused OpenBLAS reference (cblas_sgemm + softmax + cblas_sgemm), on the
 * same data in one run, plus single-query decoding against a measured memory
 * bandwidth.  Run it with `make bench-attention`.
 *
 * GFLOP/s count useful work only: 4 * D flops per (query, key) pair that the
 * mask lets through (two multiply-adds), so a causal run does half the work
 * of a full one; an implementation that computes masked pairs anyway (the
 * unfused reference) is not credited for them.
 *
 * Usage: attention_bench [--quick]   (--quick: smaller sizes, for a smoke run)
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attention.h"

/* OpenBLAS extensions, declared by its cblas.h in recent versions only. */
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *alloc_random(size_t n, uint64_t seed)
{
    float *x = malloc(n * sizeof(float));
    if (!x) {
        fprintf(stderr, "attention_bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((seed >> 40) / 16777216.0 * 2.0 - 1.0);
    }
    return x;
}

/* Best wall time of fn over repetitions lasting at least min_s in total. */
typedef void (*bench_fn)(void *ctx);
static double best_time(bench_fn fn, void *ctx, double min_s, int max_reps)
{
    double best = INFINITY, start = now();
    for (int r = 0; r < max_reps; r++) {
        double t0 = now();
        fn(ctx);
        double t = now() - t0;
        if (t < best)
            best = t;
        if (now() - start > min_s && r >= 1)
            break;
    }
    return best;
}

/* ----------------------------------------------------------- sgemm peak */

struct gemm_ctx {
    float *a, *b, *c;
    int n;
};

static void run_gemm(void *p)
{
    struct gemm_ctx *g = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f, g->a,
                g->n, g->b, g->n, 0.0f, g->c, g->n);
}

/* ----------------------------------------------------- memory bandwidth */

struct read_ctx {
    const uint32_t *data;
    size_t n;
    uint32_t sum;
};

static void *read_part(void *p)
{
    struct read_ctx *r = p;
    uint32_t s = 0;
    for (size_t i = 0; i < r->n; i++)
        s += r->data[i];
    r->sum = s;
    return NULL;
}

struct bw_ctx {
    const uint32_t *data;
    size_t n;
    int threads;
    uint32_t sink;
};

static void run_read(void *p)
{
    struct bw_ctx *b = p;
    pthread_t th[64];
    struct read_ctx parts[64];
    size_t per = b->n / b->threads;
    for (int t = 0; t < b->threads; t++) {
        parts[t].data = b->data + t * per;
        parts[t].n = t == b->threads - 1 ? b->n - t * per : per;
        pthread_create(&th[t], NULL, read_part, &parts[t]);
    }
    for (int t = 0; t < b->threads; t++) {
        pthread_join(th[t], NULL);
        b->sink += parts[t].sum;
    }
}

/* ------------------------------------------------------------ attention */

struct attn_ctx {
    size_t heads, L, S, D;
    int causal;
    const float *q, *k, *v;
    float *out;
    float *scores; /* unfused: L x S */
    size_t naive_rows;
};

static void run_library(void *p)
{
    struct attn_ctx *c = p;
    attn_sdpa_desc desc;
    attn_sdpa_desc_init(&desc, 1, c->heads, c->heads, c->L, c->S, c->D);
    desc.causal = c->causal ? ATTN_CAUSAL_TOP_LEFT : ATTN_CAUSAL_NONE;
    attn_strides st_q = attn_strides_bhsd(c->heads, c->L, c->D);
    attn_strides st_kv = attn_strides_bhsd(c->heads, c->S, c->D);
    int rc = attn_sdpa(c->out, st_q, NULL, st_q, c->q, st_q, c->k, st_kv, c->v, st_kv, &desc);
    if (rc != ATTN_OK) {
        fprintf(stderr, "attention_bench: attn_sdpa: %s\n", attn_strerror(rc));
        exit(1);
    }
}

static void softmax_rows(float *s, size_t L, size_t S, int causal)
{
    for (size_t i = 0; i < L; i++) {
        float *row = s + i * S;
        size_t n = causal ? i + 1 : S;
        float m = -INFINITY, sum = 0;
        for (size_t j = 0; j < n; j++)
            m = row[j] > m ? row[j] : m;
        for (size_t j = 0; j < n; j++)
            sum += (row[j] = expf(row[j] - m));
        float inv = 1.0f / sum;
        for (size_t j = 0; j < n; j++)
            row[j] *= inv;
        for (size_t j = n; j < S; j++)
            row[j] = 0.0f;
    }
}

static void run_openblas(void *p)
{
    struct attn_ctx *c = p;
    float scale = 1.0f / sqrtf((float)c->D);
    for (size_t h = 0; h < c->heads; h++) {
        const float *q = c->q + h * c->L * c->D, *k = c->k + h * c->S * c->D,
                    *v = c->v + h * c->S * c->D;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->L, (int)c->S, (int)c->D,
                    scale, q, (int)c->D, k, (int)c->D, 0.0f, c->scores, (int)c->S);
        softmax_rows(c->scores, c->L, c->S, c->causal);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)c->L, (int)c->D, (int)c->S,
                    1.0f, c->scores, (int)c->S, v, (int)c->D, 0.0f, c->out + h * c->L * c->D,
                    (int)c->D);
    }
}

/* The loops anyone would write first, on the last naive_rows rows of head 0. */
static void run_naive(void *p)
{
    struct attn_ctx *c = p;
    float scale = 1.0f / sqrtf((float)c->D);
    float *s = c->scores;
    for (size_t i = c->L - c->naive_rows; i < c->L; i++) {
        size_t n = c->causal ? i + 1 : c->S;
        float m = -INFINITY, sum = 0;
        for (size_t j = 0; j < n; j++) {
            float dot = 0;
            for (size_t d = 0; d < c->D; d++)
                dot += c->q[i * c->D + d] * c->k[j * c->D + d];
            s[j] = dot * scale;
            m = s[j] > m ? s[j] : m;
        }
        for (size_t j = 0; j < n; j++)
            sum += (s[j] = expf(s[j] - m));
        for (size_t d = 0; d < c->D; d++) {
            float acc = 0;
            for (size_t j = 0; j < n; j++)
                acc += s[j] * c->v[j * c->D + d];
            c->out[i * c->D + d] = acc / sum;
        }
    }
}

static double pairs(size_t row_begin, size_t row_end, size_t S, int causal)
{
    double n = 0;
    for (size_t i = row_begin; i < row_end; i++)
        n += causal ? (double)(i + 1 < S ? i + 1 : S) : (double)S;
    return n;
}

static void bench_prefill(size_t L, size_t D, int causal, double peak, int quick)
{
    struct attn_ctx c = { 8, L, L, D, causal, NULL, NULL, NULL, NULL, NULL, 0 };
    size_t n = c.heads * L * D;
    c.q = alloc_random(n, 1);
    c.k = alloc_random(n, 2);
    c.v = alloc_random(n, 3);
    c.out = calloc(n, sizeof(float));
    float *ref = calloc(n, sizeof(float));
    c.scores = malloc(L * L * sizeof(float));
    if (!c.out || !ref || !c.scores) {
        fprintf(stderr, "attention_bench: out of memory\n");
        exit(1);
    }
    double flops = 4.0 * D * pairs(0, L, L, causal) * c.heads;
    double min_s = quick ? 0.05 : 0.3;

    double t_blas = best_time(run_openblas, &c, min_s, 20);
    memcpy(ref, c.out, n * sizeof(float));
    double t_lib = best_time(run_library, &c, min_s, 50);
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++)
        maxdiff = fmax(maxdiff, fabs(c.out[i] - ref[i]));

    /* The naive loop is timed on as many rows as ~50 MFLOP of work. */
    size_t rows = (size_t)(5e7 / (4.0 * D * L)) + 1;
    c.naive_rows = rows < L ? rows : L;
    double t_naive = best_time(run_naive, &c, quick ? 0.02 : 0.1, 3);
    double naive_flops = 4.0 * D * pairs(L - c.naive_rows, L, L, causal);

    double g_lib = flops / t_lib / 1e9, g_blas = flops / t_blas / 1e9;
    printf("%6zu %4zu %-6s %9.2f %9.1f %9.1f %8.2fx %7.0f%% %9.1e\n", L, D,
           causal ? "causal" : "full", naive_flops / t_naive / 1e9, g_blas, g_lib,
           g_lib / g_blas, 100.0 * g_lib / peak, maxdiff);
    fflush(stdout);
    free((void *)c.q);
    free((void *)c.k);
    free((void *)c.v);
    free(c.out);
    free(ref);
    free(c.scores);
}

struct decode_ctx {
    size_t q_heads, kv_heads, S, D;
    const float *q, *k, *v;
    float *out;
};

static void run_decode(void *p)
{
    struct decode_ctx *c = p;
    attn_sdpa_desc desc;
    attn_sdpa_desc_init(&desc, 1, c->q_heads, c->kv_heads, 1, c->S, c->D);
    attn_strides st_q = attn_strides_bhsd(c->q_heads, 1, c->D);
    attn_strides st_kv = attn_strides_bhsd(c->kv_heads, c->S, c->D);
    int rc = attn_sdpa(c->out, st_q, NULL, st_q, c->q, st_q, c->k, st_kv, c->v, st_kv, &desc);
    if (rc != ATTN_OK) {
        fprintf(stderr, "attention_bench: attn_sdpa: %s\n", attn_strerror(rc));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int threads = attn_get_num_threads();

    printf("attention %s, kernels %s, %d threads\n", attn_version(), attn_isa_name(), threads);
    printf("OpenBLAS: core %s, config %s, %d threads\n", openblas_get_corename(),
           openblas_get_config(), openblas_get_num_threads());

    struct gemm_ctx g = { NULL, NULL, NULL, 1024 };
    g.a = alloc_random(1024 * 1024, 4);
    g.b = alloc_random(1024 * 1024, 5);
    g.c = alloc_random(1024 * 1024, 6);
    double t_gemm = best_time(run_gemm, &g, 0.5, 50);
    double peak = 2.0 * 1024 * 1024 * 1024 / t_gemm / 1e9;
    printf("peak: cblas_sgemm 1024x1024x1024 = %.1f GFLOP/s\n", peak);
    free(g.a);
    free(g.b);
    free(g.c);

    size_t bw_n = (quick ? 64u : 512u) << 20; /* 32-bit words: 256 MiB or 2 GiB */
    uint32_t *bw_data = malloc(bw_n * sizeof(uint32_t));
    if (!bw_data) {
        fprintf(stderr, "attention_bench: out of memory\n");
        return 1;
    }
    memset(bw_data, 1, bw_n * sizeof(uint32_t));
    struct bw_ctx bw = { bw_data, bw_n, threads > 64 ? 64 : threads, 0 };
    double t_bw = best_time(run_read, &bw, 0.5, 10);
    double bandwidth = bw_n * 4.0 / t_bw / 1e9;
    printf("memory: read bandwidth %.1f GB/s (%d threads, %.0f MiB)\n", bandwidth, bw.threads,
           bw_n * 4.0 / 1048576);
    free(bw_data);

    printf("\nprefill: batch 1, 8 heads, L = S, GFLOP/s of useful work "
           "(naive on a row subset)\n");
    printf("%6s %4s %-6s %9s %9s %9s %9s %8s %9s\n", "L=S", "D", "mask", "naive", "openblas",
           "library", "lib/blas", "of peak", "max|diff|");
    static const size_t Ls[] = { 128, 512, 2048, 8192 };
    static const size_t Ds[] = { 64, 128 };
    for (size_t di = 0; di < 2; di++)
        for (size_t li = 0; li < (quick ? 3u : 4u); li++)
            for (int causal = 0; causal < 2; causal++)
                bench_prefill(Ls[li], Ds[di], causal, peak, quick);

    printf("\ndecode: one query per head, D = 128, K and V read once (GB/s of K+V)\n");
    printf("%8s %8s %9s %9s %10s %8s\n", "S", "heads", "kv_heads", "ms", "GB/s", "of bw");
    static const size_t Ss[] = { 16384, 131072, 1000000 };
    static const size_t Hq[] = { 1, 1, 1, 8 };
    for (size_t si = 0; si < (quick ? 2u : 4u); si++) {
        size_t S = Ss[si < 3 ? si : 2], D = 128;
        struct decode_ctx c = { Hq[si], 1, S, D, NULL, NULL, NULL, NULL };
        c.q = alloc_random(c.q_heads * D, 7);
        c.k = alloc_random(S * D, 8);
        c.v = alloc_random(S * D, 9);
        c.out = calloc(c.q_heads * D, sizeof(float));
        double t = best_time(run_decode, &c, 0.5, 20);
        double bytes = 2.0 * S * D * sizeof(float);
        printf("%8zu %8zu %9zu %9.3f %10.1f %7.0f%%\n", S, c.q_heads, c.kv_heads, t * 1e3,
               bytes / t / 1e9, 100.0 * bytes / t / 1e9 / bandwidth);
        free((void *)c.q);
        free((void *)c.k);
        free((void *)c.v);
        free(c.out);
    }
    return 0;
}
