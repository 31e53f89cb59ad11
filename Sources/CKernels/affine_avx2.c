/* AffineTransform.apply in 8-lane AVX2:
 *
 *   y = (x - center[f])*scale[f] + offset[f]     in place, on rows first, first + stride, ... (count)
 *
 * Shape: for each block of 16 selected rows, 32 features at a time (the three coefficient vectors of
 * each of four ymm lanes in registers for the block), then 8, then one at a time: one load and one
 * store per 8 values. The same two roundings per value as the Swift kernel (no fused multiply-add:
 * FP_CONTRACT off, target "avx2" without "fma"), so the same bits. */
#pragma STDC FP_CONTRACT OFF
#include "CKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define BLOCK_ROWS 16
#define UNROLL 4

__attribute__((target("avx2"))) static inline void chunk(float *first, size_t n, size_t rowStride, size_t f, int lanes,
                                                         const float *center, const float *scale, const float *offset) {
    __m256 c[UNROLL], s[UNROLL], o[UNROLL];
    for (int v = 0; v < lanes; v++) {
        c[v] = _mm256_loadu_ps(center + f + 8 * v);
        s[v] = _mm256_loadu_ps(scale + f + 8 * v);
        o[v] = _mm256_loadu_ps(offset + f + 8 * v);
    }
    float *row = first + f;
    for (size_t r = 0; r < n; r++, row += rowStride) {
        for (int v = 0; v < lanes; v++) {
            __m256 x = _mm256_loadu_ps(row + 8 * v);
            _mm256_storeu_ps(row + 8 * v, _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(x, c[v]), s[v]), o[v]));
        }
    }
}

__attribute__((target("avx2"))) void normd_affine_avx2(float *values, size_t first, size_t stride, size_t count,
                                                        size_t features, const float *center, const float *scale,
                                                        const float *offset) {
    const size_t rowStride = stride * features;
    for (size_t block = 0; block < count; block += BLOCK_ROWS) {
        size_t n = count - block < BLOCK_ROWS ? count - block : BLOCK_ROWS;
        float *start = values + (first + block * stride) * features;
        size_t f = 0;
        for (; f + 8 * UNROLL <= features; f += 8 * UNROLL) chunk(start, n, rowStride, f, UNROLL, center, scale, offset);
        for (; f + 8 <= features; f += 8) chunk(start, n, rowStride, f, 1, center, scale, offset);
        for (; f < features; f++) {
            float *x = start + f;
            for (size_t r = 0; r < n; r++, x += rowStride) *x = (*x - center[f]) * scale[f] + offset[f];
        }
    }
}
#else
void normd_affine_avx2(float *values, size_t first, size_t stride, size_t count, size_t features, const float *center,
                       const float *scale, const float *offset) {
    __builtin_trap(); /* never called: normd_kernels_have_avx2() is false here */
}
#endif
