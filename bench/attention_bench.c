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
 * Usage: attention_bench [--quick] [--decode] [--rounds N]
 *   --quick     smaller prefill sizes and shorter timings, for a smoke run
 *   --decode    only the decode table (and the DRAM bandwidth line)
 *   --rounds N  decode rounds per row (default 7, quick 3); medians are shown
 * `make bench-attention ATTN_BENCH_ARGS=--decode` passes them.
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

/* Mean time of back-to-back calls of fn lasting at least min_s (one call
 * first, untimed, to warm caches and pages). */
static double mean_time(bench_fn fn, void *ctx, double min_s)
{
    fn(ctx);
    int n = 0;
    double start = now(), t;
    do {
        fn(ctx);
        n++;
        t = now() - start;
    } while (t < min_s);
    return t / n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof(*x), cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Decoding reads every key and value once per call, so it is judged against
 * a plain read of as many bytes (same threads, a buffer of the same size, so
 * the same cache level), timed in alternation with it: on a shared machine
 * both see the same neighbours.  Figures are medians over rounds. */
static void bench_decode(size_t S, size_t q_heads, size_t kv_heads, int threads, int rounds,
                         double min_s)
{
    size_t D = 128;
    struct decode_ctx c = { q_heads, kv_heads, S, D, NULL, NULL, NULL, NULL };
    c.q = alloc_random(q_heads * D, 7);
    c.k = alloc_random(kv_heads * S * D, 8);
    c.v = alloc_random(kv_heads * S * D, 9);
    c.out = calloc(q_heads * D, sizeof(float));
    double bytes = 2.0 * kv_heads * S * D * sizeof(float);
    size_t words = (size_t)(bytes / sizeof(uint32_t));
    uint32_t *buf = malloc(words * sizeof(uint32_t));
    if (!c.out || !buf) {
        fprintf(stderr, "attention_bench: out of memory\n");
        exit(1);
    }
    memset(buf, 1, words * sizeof(uint32_t));
    struct bw_ctx bw = { buf, words, threads > 64 ? 64 : threads, 0 };
    double t_dec[64], t_rd[64], ratio[64];
    for (int r = 0; r < rounds; r++) {
        t_rd[r] = mean_time(run_read, &bw, min_s);
        t_dec[r] = mean_time(run_decode, &c, min_s);
        ratio[r] = t_rd[r] / t_dec[r];
    }
    double gbs = bytes / median(t_dec, rounds) / 1e9;
    double rd = bytes / median(t_rd, rounds) / 1e9;
    double pct = 100.0 * median(ratio, rounds);
    printf("%8zu %7zu %8zu %8.1f %9.3f %8.1f %9.1f %7.1f%%  %s\n", S, q_heads, kv_heads,
           bytes / 1048576, bytes / (gbs * 1e9) * 1e3, gbs, rd, pct, pct >= 60.0 ? "met" : "MISSED");
    fflush(stdout);
    free((void *)c.q);
    free((void *)c.k);
    free((void *)c.v);
    free(c.out);
    free(buf);
}

static void usage(void)
{
    fprintf(stderr, "usage: attention_bench [--quick] [--decode] [--rounds N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int quick = 0, decode_only = 0, rounds = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--decode") == 0)
            decode_only = 1;
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else
            usage();
    }
    if (rounds <= 0)
        rounds = quick ? 3 : 7;
    if (rounds > 64)
        rounds = 64;
    int threads = attn_get_num_threads();

    printf("attention %s, kernels %s, %d threads\n", attn_version(), attn_isa_name(), threads);
    if (!decode_only) {
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
    }

    /* DRAM read bandwidth, for reference: 2 GiB (256 MiB quick). */
    size_t bw_n = (quick ? 64u : 512u) << 20;
    uint32_t *bw_data = malloc(bw_n * sizeof(uint32_t));
    if (!bw_data) {
        fprintf(stderr, "attention_bench: out of memory\n");
        return 1;
    }
    memset(bw_data, 1, bw_n * sizeof(uint32_t));
    struct bw_ctx bw = { bw_data, bw_n, threads > 64 ? 64 : threads, 0 };
    double t_bw = best_time(run_read, &bw, 0.5, 10);
    printf("\nmemory: read bandwidth %.1f GB/s (%d threads, %.0f MiB)\n",
           bw_n * 4.0 / t_bw / 1e9, bw.threads, bw_n * 4.0 / 1048576);
    free(bw_data);

    printf("\ndecode: 1 query per head, D = 128, batch 1; GB/s of K+V read once per call; "
           "read = a plain\n%d-thread read of as many bytes, timed alternately "
           "(medians of %d rounds); target: 60%% of read\n", bw.threads, rounds);
    printf("%8s %7s %8s %8s %9s %8s %9s %8s  %s\n", "S", "q_heads", "kv_heads", "K+V MiB", "ms",
           "GB/s", "read GB/s", "of read", "60% target");
    static const size_t Ss[] = { 16384, 131072, 1000000 };
    for (size_t si = 0; si < 3; si++)
        for (size_t g = 0; g < 2; g++)
            bench_decode(Ss[si], g ? 8 : 1, 1, bw.threads, rounds, quick ? 0.05 : 0.2);
    return 0;
}
