// AVX2+FMA build of the softmax row loops; CMake compiles this file with -mavx2 -mfma and
// CPU_CAPABILITY=AVX2, and softmax_row_kernels() only calls it on CPUs that have both.
#define FAST_RNNT_ISA isa_avx2
#include "ops/cpu/softmax_rows_impl.h"
