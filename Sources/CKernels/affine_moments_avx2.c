/* AffineMomentsKernel in 8-lane AVX2 (the Swift kernel's documentation has the full story):
 *
 *   y = (x - center[f])*scale[f] + offset[f]         then y = min(max(y, low), high) when clamped
 *   d = y - shift[f]
 *   per block of 16 rows: Σd, Σd² in Float32, then sums[f] += (double)Σd, squares[f] += (double)Σd²
 *
 * Shape: for each 16-row block, 16 features at a time (two ymm registers per quantity: the partial
 * sums and the coefficients stay in registers for the block's rows, the batch is touched once per
 * value), then 8 at a time, then one at a time. Why 16 and not 32: per 8 features the loop keeps
 * six vectors live (center, scale, offset, shift, Σd, Σd²); four of them make 24 ymm registers where
 * AVX2 has 16, and clang spilled the coefficients to the stack, reloading four per 8 values (~6.3 µs
 * per 256 × 128 batch against 5.6 µs with two, ChainCPU; BENCHMARKS.md, branch chain8). Two make 12, plus the
 * loaded value and a temporary: no spill, one load and one store per 8 values, and still two
 * independent Σd chains per row (the Float32 adds' latency, not their throughput, would bind with
 * one). The clamp is decided outside the row loop (a literal per call of `chunk`), not per vector.
 * Moving some adds onto the FMA pipes (fma(a, 1, b) == a + b, the same bits) measured no faster
 * (BENCHMARKS.md), so there is no FMA variant. Lanes are features, so every feature gets the same Float32 operations on the same values in the same row order as the Swift kernel: the same bits.
 * No fused multiply-add: FP_CONTRACT is off and the target is "avx2" without "fma", so (x-c)*s+o
 * rounds twice, as Swift's does. The clamp keeps Swift's exact choices: max(y, low) is
 * `low >= y ? low : y` and min(v, high) is `high < v ? high : v` (ordered compares, then blend). */
#pragma STDC FP_CONTRACT OFF
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define BLOCK_ROWS 16
#define UNROLL 2

__attribute__((target("avx2"))) static inline __m256 clamp8(__m256 y, __m256 low, __m256 high) {
    y = _mm256_blendv_ps(y, low, _mm256_cmp_ps(low, y, _CMP_GE_OQ));
    return _mm256_blendv_ps(y, high, _mm256_cmp_ps(high, y, _CMP_LT_OQ));
}

/* Adds the eight Float32 partials to eight Float64 accumulators (exact widening, one rounding each). */
__attribute__((target("avx2"))) static inline void fold8(__m256 partial, double *into) {
    __m256d lowHalf = _mm256_cvtps_pd(_mm256_castps256_ps128(partial));
    __m256d highHalf = _mm256_cvtps_pd(_mm256_extractf128_ps(partial, 1));
    _mm256_storeu_pd(into, _mm256_add_pd(_mm256_loadu_pd(into), lowHalf));
    _mm256_storeu_pd(into + 4, _mm256_add_pd(_mm256_loadu_pd(into + 4), highHalf));
}

/* `lanes` vectors (UNROLL or 1) of 8 features from f, over one block's `n` rows. */
__attribute__((target("avx2"))) static inline void chunk(float *first, size_t n, size_t features, size_t f, int lanes,
                                                         const float *center, const float *scale, const float *offset,
                                                         const float *shift, __m256 low, __m256 high, bool clamps,
                                                         double *sums, double *squares) {
    __m256 c[UNROLL], s[UNROLL], o[UNROLL], k[UNROLL], partial[UNROLL], partialSquares[UNROLL];
    for (int v = 0; v < lanes; v++) {
        c[v] = _mm256_loadu_ps(center + f + 8 * v);
        s[v] = _mm256_loadu_ps(scale + f + 8 * v);
        o[v] = _mm256_loadu_ps(offset + f + 8 * v);
        k[v] = _mm256_loadu_ps(shift + f + 8 * v);
        partial[v] = _mm256_setzero_ps();
        partialSquares[v] = _mm256_setzero_ps();
    }
    float *row = first + f;
    for (size_t r = 0; r < n; r++, row += features) {
        for (int v = 0; v < lanes; v++) {
            __m256 y = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + 8 * v), c[v]), s[v]), o[v]);
            if (clamps) y = clamp8(y, low, high);
            _mm256_storeu_ps(row + 8 * v, y);
            __m256 d = _mm256_sub_ps(y, k[v]);
            partial[v] = _mm256_add_ps(partial[v], d);
            partialSquares[v] = _mm256_add_ps(partialSquares[v], _mm256_mul_ps(d, d));
        }
    }
    for (int v = 0; v < lanes; v++) {
        fold8(partial[v], sums + f + 8 * v);
        fold8(partialSquares[v], squares + f + 8 * v);
    }
}

__attribute__((target("avx2"))) void normd_affine_moments_avx2(float *values, size_t rows, size_t features,
                                                                const float *center, const float *scale,
                                                                const float *offset, const float *shift, float low,
                                                                float high, bool clamps, double *sums, double *squares) {
    const __m256 low8 = _mm256_set1_ps(low), high8 = _mm256_set1_ps(high);
    for (size_t block = 0; block < rows; block += BLOCK_ROWS) {
        size_t n = rows - block < BLOCK_ROWS ? rows - block : BLOCK_ROWS;
        float *first = values + block * features;
        size_t f = 0;
        for (; f + 8 * UNROLL <= features; f += 8 * UNROLL) {
            if (clamps)
                chunk(first, n, features, f, UNROLL, center, scale, offset, shift, low8, high8, true, sums, squares);
            else
                chunk(first, n, features, f, UNROLL, center, scale, offset, shift, low8, high8, false, sums, squares);
        }
        for (; f + 8 <= features; f += 8)
            chunk(first, n, features, f, 1, center, scale, offset, shift, low8, high8, clamps, sums, squares);
        for (; f < features; f++) {
            float partial = 0, partialSquares = 0;
            float *x = first + f;
            for (size_t r = 0; r < n; r++, x += features) {
                float y = (*x - center[f]) * scale[f] + offset[f];
                if (clamps) {
                    y = low >= y ? low : y;
                    y = high < y ? high : y;
                }
                *x = y;
                float d = y - shift[f];
                partial += d;
                partialSquares += d * d;
            }
            sums[f] += (double)partial;
            squares[f] += (double)partialSquares;
        }
    }
}
#else
void normd_affine_moments_avx2(float *values, size_t rows, size_t features, const float *center, const float *scale,
                               const float *offset, const float *shift, float low, float high, bool clamps, double *sums,
                               double *squares) {
    __builtin_trap(); /* never called: normd_kernels_have_avx2() is false here */
}
#endif
