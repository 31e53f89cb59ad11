/* A malloc interposer for Benchmarks/AllocCount (LD_PRELOAD): counts malloc, realloc, posix_memalign and
 * aligned_alloc calls (what the Swift runtime allocates with) and exports the count. calloc is left alone:
 * dlsym itself calls it before the real one is known, and Swift does not use it for objects. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
static size_t counter;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
void *malloc(size_t n) { if (!real_malloc) real_malloc = dlsym(RTLD_NEXT, "malloc"); __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED); return real_malloc(n); }
void *realloc(void *p, size_t n) { if (!real_realloc) real_realloc = dlsym(RTLD_NEXT, "realloc"); __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED); return real_realloc(p, n); }
int posix_memalign(void **p, size_t a, size_t n) { if (!real_posix_memalign) real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign"); __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED); return real_posix_memalign(p, a, n); }
void *aligned_alloc(size_t a, size_t n) { if (!real_aligned_alloc) real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc"); __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED); return real_aligned_alloc(a, n); }
size_t normd_malloc_count(void) { return counter; }
