#pragma once
// What a kernels header (ops/cuda/<op>_kernels.cuh) may assume, under nvcc and as host C++.
//
// Under nvcc this is CUDA itself: GlobalPtr<T> is T* and RestrictPtr<T> is T* __restrict__, so the
// kernels compile to exactly the code they would without this header. Compiled as host C++ (the
// emulation tests in cpp_tests/), the same kernel source runs on CPU threads with the grid emulated
// (ops/cuda/emulation/cuda_emulation.h), and both pointer types become bounds-checked pointers that
// also report barrier-phase conflicts (ops/cuda/emulation/checked_pointer.h).
//
// Kernel parameters that point to global memory are GlobalPtr<T> (or RestrictPtr<T> where the
// kernel promises no aliasing); pointers derived from them are `auto`, so they keep the type.
// __shared__ variables are declared with the type Shared<T> (T[N], T[N][M] or a scalar T): T under
// nvcc; under emulation, elements whose accesses are checked like global memory's.
#if defined(__CUDACC__)
namespace fast_rnnt {
template <typename T>
using GlobalPtr = T*;
template <typename T>
using RestrictPtr = T* __restrict__;
// `__shared__ Shared<float[256]> x;` is `__shared__ float x[256];`.
template <typename T>
using Shared = T;
}  // namespace fast_rnnt
#else
#include "ops/cuda/emulation/cuda_emulation.h"
#endif
