/* ColumnSummaryKernel in 8-lane AVX2 (the Swift kernel's documentation has the full story):
 *
 *   shift[f] = (float)(mean of the first min(16, rows) rows, summed in Float64)    (written here)
 *   low[f]  = x < low[f]  ? x : low[f],  high[f] = x > high[f] ? x : high[f]    (rows in order)
 *   d = x - shift[f]
 *   per block of 16 rows: Σd, Σd² in Float32, then sums[f] += (double)Σd, squares[f] += (double)Σd²
 *
 * Read only. Shape: for each 16-row block, 16 features at a time (two ymm registers per quantity:
 * shift, running minimum and maximum, Σd, Σd² — 10 live vectors plus the loaded value and a
 * temporary, within AVX2's 16, no spill), then 8, then one at a time; one load per 8 values.
 * vminps(x, low) / vmaxps(x, high) return the second operand unless the first is less / greater,
 * exactly the Swift comparisons (NaN and signed-zero ties included); lanes are features, so every
 * feature gets the same Float32 operations on the same values in the same row order as the Swift
 * kernel: the same bits. FP_CONTRACT off, target "avx2" without "fma": d*d is rounded before the add. */
#pragma STDC FP_CONTRACT OFF
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define BLOCK_ROWS 16
#define UNROLL 2

/* Adds the eight Float32 partials to eight Float64 accumulators (exact widening, one rounding each). */
__attribute__((target("avx2"))) static inline void fold8(__m256 partial, double *into) {
    __m256d lowHalf = _mm256_cvtps_pd(_mm256_castps256_ps128(partial));
    __m256d highHalf = _mm256_cvtps_pd(_mm256_extractf128_ps(partial, 1));
    _mm256_storeu_pd(into, _mm256_add_pd(_mm256_loadu_pd(into), lowHalf));
    _mm256_storeu_pd(into + 4, _mm256_add_pd(_mm256_loadu_pd(into + 4), highHalf));
}

/* `lanes` vectors (UNROLL or 1) of 8 features from f, over one block's `n` rows. */
__attribute__((target("avx2"))) static inline void chunk(const float *first, size_t n, size_t features, size_t f,
                                                         int lanes, const float *shift, float *low, float *high,
                                                         double *sums, double *squares) {
    __m256 k[UNROLL], lowest[UNROLL], highest[UNROLL], partial[UNROLL], partialSquares[UNROLL];
    for (int v = 0; v < lanes; v++) {
        k[v] = _mm256_loadu_ps(shift + f + 8 * v);
        lowest[v] = _mm256_loadu_ps(low + f + 8 * v);
        highest[v] = _mm256_loadu_ps(high + f + 8 * v);
        partial[v] = _mm256_setzero_ps();
        partialSquares[v] = _mm256_setzero_ps();
    }
    const float *row = first + f;
    for (size_t r = 0; r < n; r++, row += features) {
        for (int v = 0; v < lanes; v++) {
            __m256 x = _mm256_loadu_ps(row + 8 * v);
            lowest[v] = _mm256_min_ps(x, lowest[v]);
            highest[v] = _mm256_max_ps(x, highest[v]);
            __m256 d = _mm256_sub_ps(x, k[v]);
            partial[v] = _mm256_add_ps(partial[v], d);
            partialSquares[v] = _mm256_add_ps(partialSquares[v], _mm256_mul_ps(d, d));
        }
    }
    for (int v = 0; v < lanes; v++) {
        _mm256_storeu_ps(low + f + 8 * v, lowest[v]);
        _mm256_storeu_ps(high + f + 8 * v, highest[v]);
        fold8(partial[v], sums + f + 8 * v);
        fold8(partialSquares[v], squares + f + 8 * v);
    }
}

/* shift[f] = (float)((0 + x[0][f] + x[1][f] + ... + x[m-1][f]) * (1/m)) over the first m = min(16, rows)
 * rows, each sum in Float64 in row order (4 features per ymm of doubles): the Swift kernel's loop. */
__attribute__((target("avx2"))) static void firstRowsMean(const float *values, size_t rows, size_t features,
                                                          float *shift) {
    size_t m = rows < BLOCK_ROWS ? rows : BLOCK_ROWS;
    double inverse = 1.0 / (double)m;
    size_t f = 0;
    for (; f + 4 <= features; f += 4) {
        __m256d sum = _mm256_setzero_pd();
        for (size_t r = 0; r < m; r++) sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm_loadu_ps(values + r * features + f)));
        _mm_storeu_ps(shift + f, _mm256_cvtpd_ps(_mm256_mul_pd(sum, _mm256_set1_pd(inverse))));
    }
    for (; f < features; f++) {
        double sum = 0;
        for (size_t r = 0; r < m; r++) sum += (double)values[r * features + f];
        shift[f] = (float)(sum * inverse);
    }
}

__attribute__((target("avx2"))) void normd_summary_avx2(const float *values, size_t rows, size_t features,
                                                         float *shift, float *low, float *high, double *sums,
                                                         double *squares) {
    firstRowsMean(values, rows, features, shift);
    for (size_t block = 0; block < rows; block += BLOCK_ROWS) {
        size_t n = rows - block < BLOCK_ROWS ? rows - block : BLOCK_ROWS;
        const float *first = values + block * features;
        size_t f = 0;
        for (; f + 8 * UNROLL <= features; f += 8 * UNROLL) chunk(first, n, features, f, UNROLL, shift, low, high, sums, squares);
        for (; f + 8 <= features; f += 8) chunk(first, n, features, f, 1, shift, low, high, sums, squares);
        for (; f < features; f++) {
            float lowest = low[f], highest = high[f], partial = 0, partialSquares = 0;
            const float *x = first + f;
            for (size_t r = 0; r < n; r++, x += features) {
                lowest = *x < lowest ? *x : lowest;
                highest = *x > highest ? *x : highest;
                float d = *x - shift[f];
                partial += d;
                partialSquares += d * d;
            }
            low[f] = lowest;
            high[f] = highest;
            sums[f] += (double)partial;
            squares[f] += (double)partialSquares;
        }
    }
}
#else
void normd_summary_avx2(const float *values, size_t rows, size_t features, float *shift, float *low, float *high,
                        double *sums, double *squares) {
    __builtin_trap(); /* never called: normd_kernels_have_avx2() is false here */
}
#endif
