// AVX2+FMA build of every SIMD loop family: CMake compiles this file with -mavx2 -mfma and
// CPU_CAPABILITY=AVX2 where it can, and isa.h only chooses it on CPUs that have both. Elsewhere it
// is a second portable build that is never chosen.
#ifndef CPU_CAPABILITY
#define CPU_CAPABILITY DEFAULT
#endif
#define FAST_RNNT_ISA isa_avx2
#include "ops/cpu/log_semiring_impl.h"
#include "ops/cpu/softmax_rows_impl.h"
#include "ops/cpu/duration_waves_impl.h"
