// Portable build of every SIMD loop family (ATen's Vectorized<T> falls back to plain loops).
#ifndef CPU_CAPABILITY
#define CPU_CAPABILITY DEFAULT
#endif
#define FAST_RNNT_ISA isa_default
#include "ops/cpu/log_semiring_impl.h"
#include "ops/cpu/softmax_rows_impl.h"
#include "ops/cpu/duration_waves_impl.h"
