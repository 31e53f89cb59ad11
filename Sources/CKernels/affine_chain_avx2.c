/* AffineChainKernel in 8-lane AVX2 (the Swift kernel's documentation has the full story):
 *
 *   v = x; for each stage j: v = (v - center[j][f])*scale[j][f] + offset[j][f]; x = v     (in place)
 *
 * with stage j's coefficients at j*features. Two walks, which perform the same operations on every
 * value in the same order (so the same bits), chosen by the row stride:
 *  - 16-row blocks, for each block 8 features at a time with up to three stages' coefficients in
 *    registers (9 ymm, plus the value and a temporary: no spill; 16 features would need 18), then one
 *    feature at a time. One load and one store per 8 values.
 *  - Two rows at a time, 8 features at a time, each chunk's coefficients loaded for the pair, when a
 *    row is a multiple of 4 KiB (1024, 2048... features). Then a block's 16 rows all fall into the
 *    same one of L1's 64 sets (8 ways), evict each other between one chunk and the next, and every
 *    row is a new page for the prefetcher: at 1024 features the blocks took 235 us per 256-row batch
 *    (1000 features: 52 us), the row pairs 75 us. At other widths the blocks are as fast or faster
 *    (clang -O3, BENCHMARKS.md "Wide rows: the affine sweep").
 * A chain longer than three is applied three stages per sweep. No fused multiply-add (FP_CONTRACT
 * off, target "avx2" without "fma"): each stage rounds twice, as AffineTransform's kernels and the
 * Swift loop do. */
#pragma STDC FP_CONTRACT OFF
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define BLOCK_ROWS 16
#define MAX_STAGES 3

/* Features f ..< f+8 of one block's `n` rows through `stages` (1 to 3) stages; `stages` is a literal at
 * each call, so the stage loop is unrolled and the coefficients stay in registers. */
__attribute__((target("avx2"))) static inline void chunk(float *first, size_t n, size_t features, size_t f, int stages,
                                                         const float *center, const float *scale, const float *offset) {
    __m256 c[MAX_STAGES], s[MAX_STAGES], o[MAX_STAGES];
    for (int j = 0; j < stages; j++) {
        c[j] = _mm256_loadu_ps(center + j * features + f);
        s[j] = _mm256_loadu_ps(scale + j * features + f);
        o[j] = _mm256_loadu_ps(offset + j * features + f);
    }
    float *row = first + f;
    for (size_t r = 0; r < n; r++, row += features) {
        __m256 v = _mm256_loadu_ps(row);
        for (int j = 0; j < stages; j++) v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v, c[j]), s[j]), o[j]);
        _mm256_storeu_ps(row, v);
    }
}

/* One sweep of `stages` (1 to 3) stages over every row. */
__attribute__((target("avx2"))) static inline void sweep(float *values, size_t rows, size_t features, int stages,
                                                         const float *center, const float *scale, const float *offset) {
    for (size_t block = 0; block < rows; block += BLOCK_ROWS) {
        size_t n = rows - block < BLOCK_ROWS ? rows - block : BLOCK_ROWS;
        float *first = values + block * features;
        size_t f = 0;
        for (; f + 8 <= features; f += 8) {
            switch (stages) {
            case 1: chunk(first, n, features, f, 1, center, scale, offset); break;
            case 2: chunk(first, n, features, f, 2, center, scale, offset); break;
            default: chunk(first, n, features, f, 3, center, scale, offset); break;
            }
        }
        for (; f < features; f++) {
            float *x = first + f;
            for (size_t r = 0; r < n; r++, x += features) {
                float v = *x;
                for (int j = 0; j < stages; j++) v = (v - center[j * features + f]) * scale[j * features + f] + offset[j * features + f];
                *x = v;
            }
        }
    }
}

/* Rows `a` and `b` (`b == a` for a last odd row: it is then computed and stored twice, the same value)
 * through `stages` (1 to 3) stages; `stages` is a literal at each call, so the stage loop unrolls. */
__attribute__((target("avx2"))) static inline void pair(float *a, float *b, size_t features, int stages,
                                                        const float *center, const float *scale, const float *offset) {
    size_t f = 0;
    for (; f + 8 <= features; f += 8) {
        __m256 v = _mm256_loadu_ps(a + f), w = _mm256_loadu_ps(b + f);
        for (int j = 0; j < stages; j++) {
            const size_t at = (size_t)j * features + f;
            const __m256 c = _mm256_loadu_ps(center + at), s = _mm256_loadu_ps(scale + at), o = _mm256_loadu_ps(offset + at);
            v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v, c), s), o);
            w = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(w, c), s), o);
        }
        _mm256_storeu_ps(a + f, v);
        _mm256_storeu_ps(b + f, w);
    }
    for (; f < features; f++) {
        float v = a[f], w = b[f];
        for (int j = 0; j < stages; j++) {
            const size_t at = (size_t)j * features + f;
            v = (v - center[at]) * scale[at] + offset[at];
            w = (w - center[at]) * scale[at] + offset[at];
        }
        a[f] = v;
        b[f] = w;
    }
}

/* One sweep of `stages` (1 to 3) stages over every row, two rows at a time. */
__attribute__((target("avx2"))) static inline void sweepPairs(float *values, size_t rows, size_t features, int stages,
                                                              const float *center, const float *scale, const float *offset) {
    for (size_t r = 0; r < rows; r += 2) {
        float *a = values + r * features;
        float *b = r + 1 < rows ? a + features : a;
        switch (stages) {
        case 1: pair(a, b, features, 1, center, scale, offset); break;
        case 2: pair(a, b, features, 2, center, scale, offset); break;
        default: pair(a, b, features, 3, center, scale, offset); break;
        }
    }
}

__attribute__((target("avx2"))) void normd_affine_chain_avx2(float *values, size_t rows, size_t features,
                                                              const float *center, const float *scale,
                                                              const float *offset, size_t stages) {
    for (size_t j = 0; j < stages; j += MAX_STAGES) {
        size_t group = stages - j < MAX_STAGES ? stages - j : MAX_STAGES;
        size_t at = j * features;
        if ((features * sizeof(float)) % 4096 == 0)
            sweepPairs(values, rows, features, (int)group, center + at, scale + at, offset + at);
        else
            sweep(values, rows, features, (int)group, center + at, scale + at, offset + at);
    }
}
#else
void normd_affine_chain_avx2(float *values, size_t rows, size_t features, const float *center, const float *scale,
                             const float *offset, size_t stages) {
    __builtin_trap(); /* never called: normd_kernels_have_avx2() is false here */
}
#endif
