// AVX2+FMA build of the wave loops; CMake compiles this file with -mavx2 -mfma and
// CPU_CAPABILITY=AVX2, and log_semiring_kernels() only calls it on CPUs that have both.
#define FAST_RNNT_ISA isa_avx2
#include "ops/cpu/log_semiring_impl.h"
