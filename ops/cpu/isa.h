#pragma once
// Run-time choice of instruction set for the CPU's SIMD loops. Every family of them
// (log_semiring.h, softmax_rows.h, duration_waves.h) is compiled twice: into simd_avx2.cpp (with
// -mavx2 -mfma and CPU_CAPABILITY=AVX2 where compiler and target allow; elsewhere a second
// portable build, never chosen) and into simd_default.cpp (portable).

namespace fast_rnnt::cpu {

// The AVX2 build of a family where it was compiled for AVX2 and this CPU runs it, else the
// portable one.
template <typename Kernels>
Kernels fastest(Kernels (*avx2)(), Kernels (*portable)()) {
#if defined(FAST_RNNT_HAS_AVX2_KERNELS)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return avx2();
#endif
  (void)avx2;
  return portable();
}

}  // namespace fast_rnnt::cpu
