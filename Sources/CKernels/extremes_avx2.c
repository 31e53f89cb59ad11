/* ColumnExtremesKernel in 8-lane AVX2:
 *
 *   low[f]  = x < low[f]  ? x : low[f]       over the rows in order
 *   high[f] = x > high[f] ? x : high[f]
 *
 * which is exactly what vminps(x, low) and vmaxps(x, high) compute (they return the second operand
 * when the first is not less / greater, NaN and signed-zero ties included), so the same bits as the
 * Swift kernel. Shape: for each block of 16 rows, 32 features at a time with the running extremes in
 * registers for the block (one load per 8 values), then 8, then one at a time. */
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define BLOCK_ROWS 16
#define UNROLL 4

__attribute__((target("avx2"))) static inline void chunk(const float *first, size_t n, size_t features, size_t f,
                                                         int lanes, float *low, float *high) {
    __m256 lowest[UNROLL], highest[UNROLL];
    for (int v = 0; v < lanes; v++) {
        lowest[v] = _mm256_loadu_ps(low + f + 8 * v);
        highest[v] = _mm256_loadu_ps(high + f + 8 * v);
    }
    const float *row = first + f;
    for (size_t r = 0; r < n; r++, row += features) {
        for (int v = 0; v < lanes; v++) {
            __m256 x = _mm256_loadu_ps(row + 8 * v);
            lowest[v] = _mm256_min_ps(x, lowest[v]);
            highest[v] = _mm256_max_ps(x, highest[v]);
        }
    }
    for (int v = 0; v < lanes; v++) {
        _mm256_storeu_ps(low + f + 8 * v, lowest[v]);
        _mm256_storeu_ps(high + f + 8 * v, highest[v]);
    }
}

__attribute__((target("avx2"))) void normd_extremes_avx2(const float *values, size_t rows, size_t features, float *low,
                                                          float *high) {
    for (size_t block = 0; block < rows; block += BLOCK_ROWS) {
        size_t n = rows - block < BLOCK_ROWS ? rows - block : BLOCK_ROWS;
        const float *first = values + block * features;
        size_t f = 0;
        for (; f + 8 * UNROLL <= features; f += 8 * UNROLL) chunk(first, n, features, f, UNROLL, low, high);
        for (; f + 8 <= features; f += 8) chunk(first, n, features, f, 1, low, high);
        for (; f < features; f++) {
            float lowest = low[f], highest = high[f];
            const float *x = first + f;
            for (size_t r = 0; r < n; r++, x += features) {
                lowest = *x < lowest ? *x : lowest;
                highest = *x > highest ? *x : highest;
            }
            low[f] = lowest;
            high[f] = highest;
        }
    }
}
#else
void normd_extremes_avx2(const float *values, size_t rows, size_t features, float *low, float *high) {
    __builtin_trap(); /* never called: normd_kernels_have_avx2() is false here */
}
#endif
