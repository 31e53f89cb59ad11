/* 8-lane AVX2 versions of NormCore's row-blocked kernels (AffineMomentsKernel, AffineTransform,
 * ColumnExtremesKernel), used only when the CPU has AVX2 (normd_kernels_have_avx2); the Swift SSE
 * loops are the fallback. Each computes the same bits as its Swift kernel: the same Float32
 * operations per value, each feature's rows in the same order, no fused multiply-add. */
#ifndef NORMD_CKERNELS_H
#define NORMD_CKERNELS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether this CPU runs the AVX2 kernels (checked once; __builtin_cpu_supports). */
bool normd_kernels_have_avx2(void);

/* AffineMomentsKernel: y = (x - center)*scale + offset (then clamped to [low, high] when `clamps`),
 * written in place over `rows` rows of `features` values; d = y - shift, and per 16-row block the
 * Float32 sums of d and d*d are added into the Float64 `sums` and `squares` (not zeroed here). */
void normd_affine_moments_avx2(float *values, size_t rows, size_t features, const float *center, const float *scale,
                               const float *offset, const float *shift, float low, float high, bool clamps, double *sums,
                               double *squares);

/* AffineTransform.apply: y = (x - center)*scale + offset in place, on `count` rows starting at row
 * `first`, `stride` rows apart. */
void normd_affine_avx2(float *values, size_t first, size_t stride, size_t count, size_t features, const float *center,
                       const float *scale, const float *offset);

/* ColumnExtremesKernel: low = x < low ? x : low, high = x > high ? x : high over the rows in order
 * (low and high hold the starting values). */
void normd_extremes_avx2(const float *values, size_t rows, size_t features, float *low, float *high);

/* ColumnSummaryKernel: reads the batch; writes shift = (float)(mean of the first min(16, rows) rows,
 * summed in Float64); low = x < low ? x : low, high = x > high ? x : high over the rows in order (low
 * and high hold the starting values); d = x - shift, and per 16-row block the Float32 sums of d and
 * d*d are added into the Float64 `sums` and `squares` (not zeroed here). */
void normd_summary_avx2(const float *values, size_t rows, size_t features, float *shift, float *low, float *high,
                        double *sums, double *squares);

/* AffineChainKernel: for each of `stages` stages in order, v = (v - center)*scale + offset in place
 * over `rows` rows of `features` values; stage j's coefficients at j*features. `packed` is
 * `AffineChain.packed` (the same coefficients in chunk order), or NULL; it is read only when a row is
 * a multiple of 4 KiB, and without it such rows are walked in 16-row blocks. */
void normd_affine_chain_avx2(float *values, size_t rows, size_t features, const float *center, const float *scale,
                             const float *offset, size_t stages, const float *packed);

/* sqrt(variance[f] + epsilon) for each of `count` features (SSE2 on x86-64, no CPU check needed;
 * see stddev_sse2.c for why this is C). */
void normd_stddev(const double *variance, double epsilon, double *stddev, size_t count);

#endif
