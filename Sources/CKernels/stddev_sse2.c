/* Standard deviations from variances, two features per SSE2 vector:
 *
 *   stddev[f] = sqrt(variance[f] + epsilon)
 *
 * Why in C: Swift's Double.squareRoot() keeps a call to libm's sqrt for negative inputs (errno), so
 * no loop containing it is vectorised, and a batch-norm stage takes one square root per feature per
 * batch (two stages of a min_max -> batch_norm -> batch_renorm chain: 256 scalar sqrtsd per batch at
 * ~9 cycles each). SSE2 is baseline x86-64, so no CPU check. The add and the square root are each
 * correctly rounded in any lane width: the same bits as the Swift expression
 * `(variance + epsilon).squareRoot()` for every input it is given (variances >= 0; a NaN stays that
 * NaN; only a negative sum, which no stage produces, could differ, in the sign of the NaN). */
#include "CKernels.h"

#if defined(__x86_64__)
#include <emmintrin.h>

void normd_stddev(const double *variance, double epsilon, double *stddev, size_t count) {
    const __m128d e = _mm_set1_pd(epsilon);
    size_t f = 0;
    for (; f + 2 <= count; f += 2) _mm_storeu_pd(stddev + f, _mm_sqrt_pd(_mm_add_pd(_mm_loadu_pd(variance + f), e)));
    for (; f < count; f++) _mm_store_sd(stddev + f, _mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(variance[f] + epsilon)));
}
#else
#include <math.h>

void normd_stddev(const double *variance, double epsilon, double *stddev, size_t count) {
    for (size_t f = 0; f < count; f++) stddev[f] = sqrt(variance[f] + epsilon);
}
#endif
