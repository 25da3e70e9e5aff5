/*
 * Benchmark of the attention library against a naive triple loop and an
 * unfused OpenBLAS reference (cblas_sgemm + softmax + cblas_sgemm), on the
 * same data in one run, plus decoding (one query per head, with and without
 * grouped-query heads) against the memory read bandwidth.  Run it with
 * `make bench-attention`.
 *
 * Both yardsticks are measured in the same run as the kernels, interleaved
 * with them, because this kind of machine is shared and its speed drifts:
 *  - prefill: every round times the library and then cblas_sgemm 1024^3
 *    (the sgemm peak), each in windows of the same length (back-to-back
 *    calls of the shorter one; the best of three windows each), so that a
 *    neighbour's load is as likely to hit either, and the library only
 *    once OpenBLAS's threads have stopped spinning; the "of peak" column
 *    is the median of the per-round ratios;
 *  - decode: every round times a plain read of as many bytes as K and V (a
 *    buffer of the same size, by as many threads as the library uses, kept
 *    between calls as the library keeps its own) and then the library; the
 *    "of read" column is the median of the per-round ratios.
 * The targets are printed with met / MISSED: prefill L = S = 128, D = 64 at
 * 60% of the sgemm peak; decode of one query and of 8 query heads per kv
 * head at S >= 65536 at 60% of the read.
 *
 * GFLOP/s count useful work only: 4 * D flops per (query, key) pair that the
 * mask lets through (two multiply-adds), so a causal run does half the work
 * of a full one; an implementation that computes masked pairs anyway (the
 * unfused reference) is not credited for them.
 *
 * Usage: attention_bench [--quick] [--decode] [--rounds N]
 *   --quick     smaller sizes and shorter timings, for a smoke run
 *   --decode    only the decode table
 *   --rounds N  rounds per row (default 7, quick 3; prefill rows of
 *               L >= 4096 at most 3); medians are shown
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

/* Waits until OpenBLAS's worker threads, which spin between calls for
 * 2^28 cycles by default (OPENBLAS_THREAD_TIMEOUT), are asleep. */
static void openblas_idle(void)
{
    struct timespec ts = { 0, 150 * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

/* Mean wall time of n back-to-back calls of fn. */
static double burst_time(bench_fn fn, void *ctx, int n)
{
    double t0 = now();
    for (int i = 0; i < n; i++)
        fn(ctx);
    return (now() - t0) / n;
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

/* A plain read of a buffer by `threads` threads that live as long as the
 * reader: the library keeps its threads between calls, so a baseline that
 * created its own on every call would be charged a cost the library no
 * longer pays.  The calling thread reads part 0; the others wait on a
 * barrier between calls (sleeping, so they take no CPU from the library
 * while it is timed). */
struct reader {
    const uint32_t *data;
    size_t n;
    int threads;
    int quit;
    pthread_barrier_t start, end;
    pthread_t th[64];
    uint32_t sums[64];
    uint32_t sink;
};

static uint32_t read_range(const struct reader *r, int t)
{
    size_t per = r->n / r->threads, lo = t * per, hi = t == r->threads - 1 ? r->n : lo + per;
    uint32_t s = 0;
    for (size_t i = lo; i < hi; i++)
        s += r->data[i];
    return s;
}

struct reader_arg {
    struct reader *r;
    int t;
};
static struct reader_arg reader_args[64];

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    for (;;) {
        pthread_barrier_wait(&a->r->start);
        if (a->r->quit)
            return NULL;
        a->r->sums[a->t] = read_range(a->r, a->t);
        pthread_barrier_wait(&a->r->end);
    }
}

static void reader_start(struct reader *r, const uint32_t *data, size_t n, int threads)
{
    memset(r, 0, sizeof(*r));
    r->data = data;
    r->n = n;
    r->threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    pthread_barrier_init(&r->start, NULL, (unsigned)r->threads);
    pthread_barrier_init(&r->end, NULL, (unsigned)r->threads);
    for (int t = 1; t < r->threads; t++) {
        reader_args[t].r = r;
        reader_args[t].t = t;
        if (pthread_create(&r->th[t], NULL, reader_main, &reader_args[t]) != 0) {
            fprintf(stderr, "attention_bench: cannot start a reader thread\n");
            exit(1);
        }
    }
}

static void reader_stop(struct reader *r)
{
    r->quit = 1;
    pthread_barrier_wait(&r->start);
    for (int t = 1; t < r->threads; t++)
        pthread_join(r->th[t], NULL);
    pthread_barrier_destroy(&r->start);
    pthread_barrier_destroy(&r->end);
}

static void run_read(void *p)
{
    struct reader *r = p;
    pthread_barrier_wait(&r->start);
    r->sums[0] = read_range(r, 0);
    pthread_barrier_wait(&r->end);
    for (int t = 0; t < r->threads; t++)
        r->sink += r->sums[t];
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *x, int n)
{
    double s[64];
    memcpy(s, x, (size_t)n * sizeof(*x));
    qsort(s, (size_t)n, sizeof(*s), cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

#define MAX_ROUNDS 64

/* Prefill against the sgemm peak measured in the same rounds: each round
 * times cblas_sgemm and then the library back to back, so both see the same
 * neighbours on a shared machine; the figure is the median of the per-round
 * ratios.  Returns it (in %). */
static double bench_prefill(size_t L, size_t D, int causal, struct gemm_ctx *g, int rounds,
                            int quick)
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
    double min_s = quick ? 0.03 : 0.1;

    double t_blas = best_time(run_openblas, &c, min_s, 20);
    memcpy(ref, c.out, n * sizeof(float));
    double peak[MAX_ROUNDS], lib[MAX_ROUNDS], ratio[MAX_ROUNDS];
    if (L >= 4096 && rounds > 3)
        rounds = 3; /* a call takes about a second */
    /* Both are timed in windows of the same length, alternately: a window
     * of back-to-back library calls as long as one sgemm call (or the
     * other way round), so that a neighbour's burst is as likely to land
     * in either.  (Best-of-many short library calls against a few 15 ms
     * sgemm calls let a busy machine lower the peak and not the library:
     * "of peak" read 50% and 100% on the same build.) */
    run_gemm(g);
    run_library(&c);
    double t_g1 = burst_time(run_gemm, g, 1), t_l1 = burst_time(run_library, &c, 1);
    double window = fmin(fmax(fmax(t_g1, t_l1), quick ? 0.002 : 0.005), 0.2);
    int n_g = (int)ceil(window / t_g1), n_l = (int)ceil(window / t_l1);
    int tries = window > 0.1 ? 1 : 3;
    for (int r = 0; r < rounds; r++) {
        double t_gemm = INFINITY, t_lib = INFINITY;
        /* OpenBLAS's threads spin for about 0.1 s after a call: the
         * library is timed after they have gone to sleep, not against
         * them for the cores. */
        openblas_idle();
        for (int k = 0; k < tries; k++)
            t_lib = fmin(t_lib, burst_time(run_library, &c, n_l));
        for (int k = 0; k < tries; k++)
            t_gemm = fmin(t_gemm, burst_time(run_gemm, g, n_g));
        peak[r] = 2.0 * g->n * g->n * g->n / t_gemm / 1e9;
        lib[r] = flops / t_lib / 1e9;
        ratio[r] = lib[r] / peak[r];
    }
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++)
        maxdiff = fmax(maxdiff, fabs(c.out[i] - ref[i]));

    /* The naive loop is timed on as many rows as ~50 MFLOP of work. */
    size_t rows = (size_t)(5e7 / (4.0 * D * L)) + 1;
    c.naive_rows = rows < L ? rows : L;
    double t_naive = best_time(run_naive, &c, quick ? 0.02 : 0.1, 3);
    double naive_flops = 4.0 * D * pairs(L - c.naive_rows, L, L, causal);

    double g_lib = median(lib, rounds), g_blas = flops / t_blas / 1e9;
    double pct = 100.0 * median(ratio, rounds), best_peak = 0;
    for (int r = 0; r < rounds; r++)
        best_peak = fmax(best_peak, peak[r]);
    printf("%6zu %4zu %-6s %9.2f %9.1f %9.1f %8.2fx %9.1f %7.0f%% %7.0f%% %9.1e\n", L, D,
           causal ? "causal" : "full", naive_flops / t_naive / 1e9, g_blas, g_lib,
           g_lib / g_blas, median(peak, rounds), pct, 100.0 * g_lib / best_peak, maxdiff);
    fflush(stdout);
    free((void *)c.q);
    free((void *)c.k);
    free((void *)c.v);
    free(c.out);
    free(ref);
    free(c.scores);
    return pct;
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

/* Decoding reads every key and value once per call, so it is judged against
 * a plain read of as many bytes (same threads, a buffer of the same size, so
 * the same cache level), timed in alternation with it: on a shared machine
 * both see the same neighbours.  Figures are medians over rounds.  Returns
 * the median ratio (in %). */
static double bench_decode(size_t S, size_t q_heads, size_t kv_heads, int threads, int rounds,
                           double min_s, int target)
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
    struct reader rd;
    reader_start(&rd, buf, words, threads);
    double t_dec[MAX_ROUNDS], t_rd[MAX_ROUNDS], ratio[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        t_rd[r] = mean_time(run_read, &rd, min_s);
        t_dec[r] = mean_time(run_decode, &c, min_s);
        ratio[r] = t_rd[r] / t_dec[r];
    }
    reader_stop(&rd);
    double gbs = bytes / median(t_dec, rounds) / 1e9;
    double rdg = bytes / median(t_rd, rounds) / 1e9;
    double pct = 100.0 * median(ratio, rounds);
    printf("%8zu %7zu %8zu %8.1f %9.3f %8.1f %9.1f %7.1f%%  %s\n", S, q_heads, kv_heads,
           bytes / 1048576, bytes / (gbs * 1e9) * 1e3, gbs, rdg, pct,
           !target ? "-" : pct >= 60.0 ? "met" : "MISSED");
    fflush(stdout);
    free((void *)c.q);
    free((void *)c.k);
    free((void *)c.v);
    free(c.out);
    free(buf);
    return pct;
}

static void usage(void)
{
    fprintf(stderr, "usage: attention_bench [--quick] [--decode] [--rounds N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int quick = 0, decode_only = 0, rounds = 0, missed = 0;
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
    if (rounds > MAX_ROUNDS)
        rounds = MAX_ROUNDS;
    int threads = attn_get_num_threads();

    printf("attention %s, kernels %s, %d threads\n", attn_version(), attn_isa_name(), threads);
    if (!decode_only) {
        printf("OpenBLAS: core %s, config %s, %d threads\n", openblas_get_corename(),
               openblas_get_config(), openblas_get_num_threads());

        struct gemm_ctx g = { NULL, NULL, NULL, 1024 };
        g.a = alloc_random(1024 * 1024, 4);
        g.b = alloc_random(1024 * 1024, 5);
        g.c = alloc_random(1024 * 1024, 6);

        printf("\nprefill: batch 1, 8 heads, L = S, GFLOP/s of useful work (naive on a row "
               "subset);\npeak = cblas_sgemm 1024x1024x1024 timed in alternation with the "
               "library, in windows of equal length\n(medians of %d rounds);\nof peak = median of the per-round ratios "
               "(the target's figure); of best = the library's median\nagainst the best "
               "sgemm round of the row (lower when neighbours slowed some rounds)\n", rounds);
        printf("%6s %4s %-6s %9s %9s %9s %9s %9s %8s %8s %9s\n", "L=S", "D", "mask", "naive",
               "openblas", "library", "lib/blas", "peak", "of peak", "of best", "max|diff|");
        static const size_t Ls[] = { 128, 512, 2048, 8192 };
        static const size_t Ds[] = { 64, 128 };
        double target_pct = 0;
        for (size_t di = 0; di < 2; di++)
            for (size_t li = 0; li < (quick ? 3u : 4u); li++)
                for (int causal = 0; causal < 2; causal++) {
                    double pct = bench_prefill(Ls[li], Ds[di], causal, &g, rounds, quick);
                    if (Ls[li] == 128 && Ds[di] == 64 && !causal)
                        target_pct = pct;
                }
        printf("target: prefill L=S=128, D=64 at 60%% of the sgemm peak: %.0f%%, %s\n",
               target_pct, target_pct >= 60.0 ? "met" : "MISSED");
        missed += target_pct < 60.0;
        free(g.a);
        free(g.b);
        free(g.c);
    }

    printf("\ndecode: 1 query per head, D = 128, batch 1; GB/s of K+V read once per call; "
           "read = a plain\n%d-thread read of as many bytes (threads kept between calls, as "
           "the library's are),\ntimed alternately (medians of %d rounds); target at S >= "
           "65536: 60%% of read\n", threads, rounds);
    printf("%8s %7s %8s %8s %9s %8s %9s %8s  %s\n", "S", "q_heads", "kv_heads", "K+V MiB", "ms",
           "GB/s", "read GB/s", "of read", "60% target");
    static const size_t Ss[] = { 4096, 16384, 65536, 262144, 1048576 };
    for (size_t si = 0; si < (quick ? 4u : 5u); si++)
        for (size_t g = 0; g < 2; g++) {
            int target = Ss[si] >= 65536;
            double pct = bench_decode(Ss[si], g ? 8 : 1, 1, threads, rounds,
                                      quick ? 0.05 : 0.2, target);
            missed += target && pct < 60.0;
        }
    printf("\n%s\n", missed ? "some targets MISSED" : "every target met");
    return 0;
}
