/*
 * The persistent thread pool behind attn__parallel.
 *
 * Creating and joining threads on every call cost small calls half their
 * time (1,001 calls made 1,001 clone3 calls), so worker threads are started
 * once, on the first call that wants them, and then wait for work.  A call
 * posts a job (its task function and a counter of tasks handed out), works
 * on it itself as worker slot 0, and returns once every worker that joined
 * has left it.  Several host threads may post jobs at the same time: each
 * job has its own slots, and a worker serves the oldest job with tasks
 * left.  A job nobody helps is still finished by its caller, so a shortage
 * of threads (or a pool being released) only makes a call slower.
 *
 * After a job a worker spins for a short while (POOL_SPIN_NS) before it
 * sleeps on a condition variable, and a caller spins as long for its
 * helpers to finish: back-to-back calls (decoding token after token) then
 * never wait for the scheduler to wake a thread.
 *
 * fork: the child of a fork has none of the parent's threads; an atfork
 * handler resets the pool there, so the child's first call starts its own.
 * Exit: a destructor joins the workers (also when a shared copy of the
 * library is unloaded with dlclose, whose code the threads must not outlive);
 * attn_release_threads() does the same on demand.
 */
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define POOL_MAX 256
/* How long an idle worker (or a caller waiting for its helpers) spins
 * before it sleeps. */
#define POOL_SPIN_NS 100000L

typedef struct pool_job {
    void (*fn)(void *ctx, size_t task, int worker);
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;   /* next task to hand out */
    int slots;            /* workers it may have, its caller included */
    int joined;           /* slots taken (pool lock) */
    atomic_int active;    /* helpers inside run_tasks (changed under the lock) */
    int waiting;          /* the caller sleeps on pool.done (pool lock) */
    struct pool_job *next_job;
} pool_job;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work;  /* a job was posted, or the workers must stop */
    pthread_cond_t done;  /* the last helper of a job left it */
    pool_job *jobs;       /* posted jobs, oldest first */
    pthread_t threads[POOL_MAX];
    int n_threads;
    int sleepers;         /* workers waiting on work */
    int stop;             /* workers exit (attn_release_threads) */
    int closed;           /* the library is being unloaded: no new threads */
    atomic_uint posted;   /* bumped by every post: what spinning workers watch */
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

/* Serialises attn_release_threads calls (joining happens without the pool
 * lock, so that running jobs can finish). */
static pthread_mutex_t release_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long elapsed_ns(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

static void run_tasks(pool_job *job, int slot)
{
    for (;;) {
        size_t t = atomic_fetch_add(&job->next, 1);
        if (t >= job->n_tasks)
            break;
        job->fn(job->ctx, t, slot);
    }
}

/* The oldest job with a free slot and tasks left (pool lock held). */
static pool_job *find_job(void)
{
    for (pool_job *j = pool.jobs; j; j = j->next_job)
        if (j->joined < j->slots && atomic_load(&j->next) < j->n_tasks)
            return j;
    return NULL;
}

/* Spins until another job is posted (returns 1) or the spin time is over. */
static int spin_for_post(unsigned seen)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(&pool.posted, memory_order_relaxed) != seen)
                return 1;
            cpu_relax();
        }
        if (elapsed_ns(&t0) > POOL_SPIN_NS)
            return 0;
    }
}

static void *worker_main(void *unused)
{
    int spun = 0;
    (void)unused;
    pthread_mutex_lock(&pool.lock);
    while (!pool.stop) {
        pool_job *job = find_job();
        if (job) {
            int slot = job->joined++;
            atomic_fetch_add(&job->active, 1);
            pthread_mutex_unlock(&pool.lock);
            run_tasks(job, slot);
            pthread_mutex_lock(&pool.lock);
            /* The caller may return as soon as it sees 0: job is not
             * touched after this unless the caller sleeps, and then it
             * cannot return before this thread unlocks. */
            if (atomic_fetch_sub(&job->active, 1) == 1 && job->waiting)
                pthread_cond_broadcast(&pool.done);
            spun = 0;
            continue;
        }
        if (!spun) {
            unsigned seen = atomic_load(&pool.posted);
            pthread_mutex_unlock(&pool.lock);
            spin_for_post(seen);
            pthread_mutex_lock(&pool.lock);
            spun = 1;
            continue;
        }
        pool.sleepers++;
        pthread_cond_wait(&pool.work, &pool.lock);
        pool.sleepers--;
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* Starts workers until there are `want` (pool lock held).  Workers block
 * every signal: the host's handlers run on the host's threads. */
static void start_workers(int want)
{
    sigset_t all, old;
    if (want > POOL_MAX)
        want = POOL_MAX;
    if (pool.n_threads >= want || pool.stop || pool.closed)
        return;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (pool.n_threads < want) {
        if (pthread_create(&pool.threads[pool.n_threads], NULL, worker_main, NULL) != 0)
            break; /* fewer threads: the calls are slower, not wrong */
        pool.n_threads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* fork: the prepare handler holds the lock across the fork so that the
 * child gets a consistent copy; the child, which has none of the workers,
 * starts from an empty pool. */
static void atfork_prepare(void)
{
    pthread_mutex_lock(&release_lock);
    pthread_mutex_lock(&pool.lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&release_lock);
}

static void atfork_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_mutex_init(&release_lock, NULL);
    pthread_cond_init(&pool.work, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.jobs = NULL;
    pool.n_threads = 0;
    pool.sleepers = 0;
    pool.stop = 0;
}

static void register_atfork(void)
{
    /* Without the handlers a child would wait for threads it does not
     * have; pthread_atfork only fails for lack of memory, and then the
     * pool stays unused (pool.closed). */
    if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
        pool.closed = 1;
}

void attn__parallel(size_t n_tasks, int n_workers,
                    void (*fn)(void *ctx, size_t task, int worker), void *ctx)
{
    pool_job job;

    memset(&job, 0, sizeof(job));
    job.fn = fn;
    job.ctx = ctx;
    job.n_tasks = n_tasks;
    atomic_init(&job.next, 0);
    atomic_init(&job.active, 0);
    if ((size_t)n_workers > n_tasks)
        n_workers = (int)n_tasks;
    if (n_workers > 1)
        pthread_once(&atfork_once, register_atfork);
    if (n_workers <= 1) {
        run_tasks(&job, 0);
        return;
    }
    job.slots = n_workers;
    job.joined = 1; /* slot 0 is the caller's */

    pthread_mutex_lock(&pool.lock);
    start_workers(n_workers - 1);
    if (pool.n_threads == 0) {
        pthread_mutex_unlock(&pool.lock);
        run_tasks(&job, 0);
        return;
    }
    pool_job **tail = &pool.jobs;
    while (*tail)
        tail = &(*tail)->next_job;
    *tail = &job;
    atomic_fetch_add(&pool.posted, 1);
    if (pool.sleepers > 0)
        pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);

    run_tasks(&job, 0);

    /* Every task is handed out; wait for the helpers still running one. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; atomic_load(&job.active) > 0; i++) {
        cpu_relax();
        if (i % 64 == 63 && elapsed_ns(&t0) > POOL_SPIN_NS)
            break;
    }
    pthread_mutex_lock(&pool.lock);
    for (pool_job **p = &pool.jobs; *p; p = &(*p)->next_job)
        if (*p == &job) {
            *p = job.next_job;
            break;
        }
    while (atomic_load(&job.active) > 0) {
        job.waiting = 1;
        pthread_cond_wait(&pool.done, &pool.lock);
    }
    pthread_mutex_unlock(&pool.lock);
}

static void release_threads(int closing)
{
    pthread_t threads[POOL_MAX];
    int n;

    pthread_mutex_lock(&release_lock);
    pthread_mutex_lock(&pool.lock);
    if (closing)
        pool.closed = 1;
    pool.stop = 1;
    pthread_cond_broadcast(&pool.work);
    n = pool.n_threads;
    memcpy(threads, pool.threads, (size_t)n * sizeof(threads[0]));
    pthread_mutex_unlock(&pool.lock);
    /* Workers finish the tasks they hold; jobs they leave are finished by
     * their callers. */
    for (int i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_lock(&pool.lock);
    pool.n_threads = 0;
    pool.stop = 0;
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&release_lock);
}

void attn_release_threads(void)
{
    release_threads(0);
}

__attribute__((destructor)) static void pool_fini(void)
{
    release_threads(1);
}
