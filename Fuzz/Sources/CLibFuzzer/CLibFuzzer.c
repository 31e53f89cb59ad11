// Header-only module: LLVMFuzzerRunDriver is defined by libFuzzer (compiler-rt).
#include "CLibFuzzer.h"
