#pragma once
// FAST_RNNT_HOST_DEVICE marks the functions that the CPU kernels, the CUDA kernels and their
// emulation on the CPU all compile (lattice geometry, the recursion's float math): host and device
// code under nvcc, plain inline functions elsewhere.
#if defined(__CUDACC__)
#define FAST_RNNT_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define FAST_RNNT_HOST_DEVICE inline
#endif
