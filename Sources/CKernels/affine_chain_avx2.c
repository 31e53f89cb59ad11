/* AffineChainKernel in 8-lane AVX2 (the Swift kernel's documentation has the full story):
 *
 *   v = x; for each stage j: v = (v - center[j][f])*scale[j][f] + offset[j][f]; x = v     (in place)
 *
 * with stage j's coefficients at j*features. Shape: for each 16-row block, 8 features at a time with
 * up to three stages' coefficients in registers (9 ymm, plus the value and a temporary: no spill;
 * 16 features would need 18), then one feature at a time; a chain longer than three is applied three
 * stages per sweep, which performs the same operations on every value in the same order. One load and
 * one store per 8 values per sweep. No fused multiply-add (FP_CONTRACT off, target "avx2" without
 * "fma"): each stage rounds twice, as AffineTransform's kernels and the Swift loop do, so the same bits. */
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

__attribute__((target("avx2"))) void normd_affine_chain_avx2(float *values, size_t rows, size_t features,
                                                              const float *center, const float *scale,
                                                              const float *offset, size_t stages) {
    for (size_t j = 0; j < stages; j += MAX_STAGES) {
        size_t group = stages - j < MAX_STAGES ? stages - j : MAX_STAGES;
        size_t at = j * features;
        sweep(values, rows, features, (int)group, center + at, scale + at, offset + at);
    }
}
#else
void normd_affine_chain_avx2(float *values, size_t rows, size_t features, const float *center, const float *scale,
                             const float *offset, size_t stages) {
    __builtin_trap(); /* never called: normd_kernels_have_avx2() is false here */
}
#endif
