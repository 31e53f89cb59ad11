/* AffineChainKernel in 8-lane AVX2 (the Swift kernel's documentation has the full story):
 *
 *   v = x; for each stage j: v = (v - center[j][f])*scale[j][f] + offset[j][f]; x = v     (in place)
 *
 * with stage j's coefficients at j*features. Two walks, which perform the same operations on every
 * value in the same order (so the same bits), chosen by the row stride:
 *  - 16-row blocks, for each block 8 features at a time with up to three stages' coefficients in
 *    registers (9 ymm, plus the value and a temporary: no spill; 16 features would need 18), then one
 *    feature at a time. One load and one store per 8 values.
 *  - Two rows at a time, 8 features at a time, each chunk's coefficients loaded for the pair from
 *    `packed` (AffineChain.packed: per group of up to three stages, per chunk, the stages' 8 centers,
 *    8 scales and 8 offsets, contiguous), when a row is a multiple of 4 KiB (1024, 2048... features).
 *    Then a block's 16 rows all fall into the same one of L1's 64 sets (8 ways), evict each other
 *    between one chunk and the next, and every row is a new page for the prefetcher: at 1024
 *    features the blocks took 235 us per 256-row batch (1000 features: 52 us). Row pairs over the
 *    flat coefficient arrays took 128 us in a C bench with 4 KiB-aligned arrays (9 loads from places
 *    4 KiB apart per chunk), over the packed ones 77 us. At other widths the blocks are as fast or
 *    faster (clang -O3, BENCHMARKS.md "Wide rows: the affine sweep").
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
 * through the `stages` (1 to 3) stages whose coefficients start at `p` in the packed layout; features
 * is a multiple of 1024 here, so there is no partial chunk. `stages` is a literal at each call. */
__attribute__((target("avx2"))) static inline void pair(float *a, float *b, size_t features, int stages, const float *p) {
    for (size_t f = 0; f < features; f += 8, p += stages * 24) {
        __m256 v = _mm256_loadu_ps(a + f), w = _mm256_loadu_ps(b + f);
        for (int j = 0; j < stages; j++) {
            const __m256 c = _mm256_loadu_ps(p + j * 24), s = _mm256_loadu_ps(p + j * 24 + 8), o = _mm256_loadu_ps(p + j * 24 + 16);
            v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v, c), s), o);
            w = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(w, c), s), o);
        }
        _mm256_storeu_ps(a + f, v);
        _mm256_storeu_ps(b + f, w);
    }
}

/* One sweep of `stages` (1 to 3) stages over every row, two rows at a time. */
__attribute__((target("avx2"))) static inline void sweepPairs(float *values, size_t rows, size_t features, int stages,
                                                              const float *packed) {
    for (size_t r = 0; r < rows; r += 2) {
        float *a = values + r * features;
        float *b = r + 1 < rows ? a + features : a;
        switch (stages) {
        case 1: pair(a, b, features, 1, packed); break;
        case 2: pair(a, b, features, 2, packed); break;
        default: pair(a, b, features, 3, packed); break;
        }
    }
}

__attribute__((target("avx2"))) void normd_affine_chain_avx2(float *values, size_t rows, size_t features,
                                                              const float *center, const float *scale,
                                                              const float *offset, size_t stages, const float *packed) {
    const int pairs = packed != NULL && (features * sizeof(float)) % 4096 == 0;
    for (size_t j = 0; j < stages; j += MAX_STAGES) {
        size_t group = stages - j < MAX_STAGES ? stages - j : MAX_STAGES;
        size_t at = j * features;
        if (pairs)
            sweepPairs(values, rows, features, (int)group, packed + 3 * at);
        else
            sweep(values, rows, features, (int)group, center + at, scale + at, offset + at);
    }
}
#else
void normd_affine_chain_avx2(float *values, size_t rows, size_t features, const float *center, const float *scale,
                             const float *offset, size_t stages, const float *packed) {
    __builtin_trap(); /* never called: normd_kernels_have_avx2() is false here */
}
#endif
