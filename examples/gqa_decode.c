/*
 * Decoding with grouped-query attention: 8 query heads share one key/value
 * head, one new token attends to a cache of 5000 keys.  The program checks
 * attn_sdpa against a plain double-precision loop, calls it from four
 * threads at once and from a forked child, and shows that the library's
 * worker threads are started once, not per call.
 *
 *   cc gqa_decode.c $(pkg-config --cflags --libs attention) -pthread
 */
#include <attention.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { Q_HEADS = 8, KV_HEADS = 1, S = 5000, D = 64 };

static float q[Q_HEADS * D], k[KV_HEADS * S * D], v[KV_HEADS * S * D];
static float expect[Q_HEADS * D];

static int decode(float *out)
{
    attn_sdpa_desc desc;
    attn_sdpa_desc_init(&desc, 1, Q_HEADS, KV_HEADS, 1, S, D);
    attn_strides qs = attn_strides_bhsd(Q_HEADS, 1, D);
    attn_strides kvs = attn_strides_bhsd(KV_HEADS, S, D);
    return attn_sdpa(out, qs, NULL, qs, q, qs, k, kvs, v, kvs, &desc);
}

/* softmax(q.k / sqrt(D)) v in double, head h reading kv head h / 8 */
static double max_error(const float *out)
{
    double err = 0, *w = malloc(S * sizeof(double));
    if (!w)
        return INFINITY;
    for (int h = 0; h < Q_HEADS; h++) {
        const float *kh = k + (size_t)(h / (Q_HEADS / KV_HEADS)) * S * D;
        const float *vh = v + (size_t)(h / (Q_HEADS / KV_HEADS)) * S * D;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < S; j++) {
            double dot = 0;
            for (int d = 0; d < D; d++)
                dot += (double)q[h * D + d] * kh[j * D + d];
            w[j] = dot / sqrt((double)D);
            mx = fmax(mx, w[j]);
        }
        for (int j = 0; j < S; j++)
            sum += (w[j] = exp(w[j] - mx));
        for (int d = 0; d < D; d++) {
            double acc = 0;
            for (int j = 0; j < S; j++)
                acc += w[j] * vh[j * D + d];
            err = fmax(err, fabs(acc / sum - out[h * D + d]));
        }
    }
    free(w);
    return err;
}

static int count_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    if (!dir)
        return -1;
    while ((e = readdir(dir)))
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

static void *caller(void *arg)
{
    float out[Q_HEADS * D];
    int *bad = arg;
    for (int i = 0; i < 100; i++)
        if (decode(out) != ATTN_OK || memcmp(out, expect, sizeof(out)) != 0)
            (*bad)++;
    return NULL;
}

int main(void)
{
    unsigned seed = 1;
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        k[i] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
        v[i] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
    }
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
        q[i] = 4.0f * ((float)rand_r(&seed) / RAND_MAX - 0.5f);

    attn_set_num_threads(3);
    int rc = decode(expect);
    if (rc != ATTN_OK) {
        fprintf(stderr, "gqa_decode: %s\n", attn_strerror(rc));
        return 1;
    }
    double err = max_error(expect);
    printf("gqa 8:1 decode: max error %s 1e-5\n", err <= 1e-5 ? "below" : "ABOVE");

    int threads = count_threads(), bad[4] = { 0 };
    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, caller, &bad[t]);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    printf("400 calls from 4 threads: %s\n",
           bad[0] + bad[1] + bad[2] + bad[3] ? "results differ" : "same results");
    printf("threads after them: %s\n", count_threads() == threads ? "unchanged" : "changed");

    pid_t pid = fork();
    if (pid == 0) {
        float out[Q_HEADS * D];
        _exit(decode(out) != ATTN_OK || memcmp(out, expect, sizeof(out)) != 0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("forked child: %s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "same results" : "FAILED");

    attn_release_threads();
    printf("threads after attn_release_threads: %d\n", count_threads());
    return 0;
}
