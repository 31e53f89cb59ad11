#ifndef NORMD_CMALLOC_SHIM_H
#define NORMD_CMALLOC_SHIM_H
/* glibc's malloc tuning (mallopt, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD), which the Glibc module leaves out. */
#include <malloc.h>
#endif
