/* The run-time check that picks the AVX2 kernels: the build targets baseline x86-64, so AVX2 code
 * may only run after the CPU said it has it. (NormCore asks once and keeps the answer.) */
#include "CKernels.h"

bool normd_kernels_have_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}
