/* Status strings, version, process-wide settings, ISA dispatch, scratch.
 * The thread pool is in pool.c. */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

const char *attn_strerror(int status)
{
    switch (status) {
    case ATTN_OK:        return "success";
    case ATTN_EINVAL:    return "invalid argument";
    case ATTN_ENOMEM:    return "out of memory";
    case ATTN_EOVERFLOW: return "size or stride overflows size_t";
    case ATTN_ENOTSUP:   return "instruction set not supported on this cpu";
    default:             return "unknown status";
    }
}

const char *attn_version(void)
{
    return ATTN_VERSION_STRING;
}

/* 0 means "number of online CPUs", resolved on each read so that a process
 * whose CPU set changes follows it. */
static atomic_int thread_setting;

int attn_set_num_threads(int num_threads)
{
    if (num_threads < 0)
        return ATTN_EINVAL;
    atomic_store(&thread_setting, num_threads);
    return ATTN_OK;
}

int attn_get_num_threads(void)
{
    int n = atomic_load(&thread_setting);
    if (n > 0)
        return n;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        return 1;
    return cpus > 256 ? 256 : (int)cpus;
}

static _Atomic(const attn_kernels *) selected_kernels;

static int isa_available(int isa)
{
    switch (isa) {
    case ATTN_ISA_SCALAR:
        return 1;
#ifdef ATTN_HAVE_X86
    case ATTN_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ATTN_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

static const attn_kernels *kernels_for(int isa)
{
    switch (isa) {
#ifdef ATTN_HAVE_X86
    case ATTN_ISA_AVX512: return &attn__kernels_avx512;
    case ATTN_ISA_AVX2:   return &attn__kernels_avx2;
#endif
    default:              return &attn__kernels_scalar;
    }
}

static const attn_kernels *best_kernels(void)
{
    if (isa_available(ATTN_ISA_AVX512))
        return kernels_for(ATTN_ISA_AVX512);
    if (isa_available(ATTN_ISA_AVX2))
        return kernels_for(ATTN_ISA_AVX2);
    return kernels_for(ATTN_ISA_SCALAR);
}

int attn_set_isa(int isa)
{
    if (isa == ATTN_ISA_AUTO) {
        atomic_store(&selected_kernels, best_kernels());
        return ATTN_OK;
    }
    if (isa != ATTN_ISA_SCALAR && isa != ATTN_ISA_AVX2 && isa != ATTN_ISA_AVX512)
        return ATTN_EINVAL;
    if (!isa_available(isa))
        return ATTN_ENOTSUP;
    atomic_store(&selected_kernels, kernels_for(isa));
    return ATTN_OK;
}

const attn_kernels *attn__kernels(void)
{
    const attn_kernels *k = atomic_load(&selected_kernels);
    if (!k) {
        /* Racing first calls all store the same pointer. */
        k = best_kernels();
        atomic_store(&selected_kernels, k);
    }
    return k;
}

const char *attn_isa_name(void)
{
    return attn__kernels()->name;
}

/* A few cached blocks; each slot is taken and refilled by atomic exchange,
 * so concurrent calls never share a block. */
#define SCRATCH_SLOTS 4
#define SCRATCH_HEADER 64
static _Atomic(void *) scratch_cache[SCRATCH_SLOTS];

void *attn__scratch_get(size_t bytes)
{
    if (bytes > (size_t)-1 - SCRATCH_HEADER)
        return NULL;
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        char *p = atomic_exchange(&scratch_cache[i], NULL);
        if (!p)
            continue;
        if (*(size_t *)p >= bytes)
            return p + SCRATCH_HEADER;
        free(p); /* too small for this shape: let the new one replace it */
    }
    char *p = aligned_alloc(SCRATCH_HEADER, (bytes + 2 * SCRATCH_HEADER - 1) /
                                                SCRATCH_HEADER * SCRATCH_HEADER);
    if (!p)
        return NULL;
    *(size_t *)p = bytes;
    return p + SCRATCH_HEADER;
}

void attn__scratch_put(void *block)
{
    if (!block)
        return;
    char *p = (char *)block - SCRATCH_HEADER;
    if (*(size_t *)p <= ATTN_SCRATCH_KEEP)
        for (int i = 0; i < SCRATCH_SLOTS; i++) {
            void *expected = NULL;
            if (atomic_compare_exchange_strong(&scratch_cache[i], &expected, p))
                return;
        }
    free(p);
}
