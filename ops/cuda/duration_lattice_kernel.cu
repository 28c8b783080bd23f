// CUDA launchers of the duration-lattice recursion: checks (shared with the CPU kernel), device
// guard and stream, then the host code of duration_lattice_host.h (workspaces and launch
// configuration from duration_lattice_launch.h), whose kernels (duration_lattice_kernels.cuh,
// with the parallel scheme) also run under emulation in
// cpp_tests/emulation/test_emulated_duration_lattice.cpp.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/cuda/cuda_launch.cuh"
#include "ops/cuda/duration_lattice_host.h"
#include "ops/duration_lattice_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "duration_lattice";
constexpr char kBackwardOpName[] = "_duration_lattice_backward";

at::Tensor duration_lattice_forward_kernel(const at::Tensor& symbol_w, const at::Tensor& blank_w,
                                           at::IntArrayRef symbol_durations,
                                           at::IntArrayRef blank_durations,
                                           const std::optional<at::Tensor>& boundary) {
  const DurationLatticeSizes n = check_duration_lattice_inputs(
      kOpName, symbol_w, blank_w, symbol_durations, blank_durations, boundary);
  TORCH_INTERNAL_ASSERT(symbol_w.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(symbol_w.device());
  const CudaLaunch launch{at::cuda::getCurrentCUDAStream()};
  return duration_lattice_forward_on(launch, kOpName, n, symbol_w, blank_w, symbol_durations,
                                     blank_durations, boundary);
}

std::tuple<at::Tensor, at::Tensor> duration_lattice_backward_kernel(
    const at::Tensor& symbol_w, const at::Tensor& blank_w, at::IntArrayRef symbol_durations,
    at::IntArrayRef blank_durations, const std::optional<at::Tensor>& boundary,
    const at::Tensor& ans_grad) {
  const DurationLatticeSizes n = check_duration_lattice_inputs(
      kBackwardOpName, symbol_w, blank_w, symbol_durations, blank_durations, boundary,
      /*check_values=*/false);  // the forward checked them
  check_duration_lattice_grad(kBackwardOpName, symbol_w, ans_grad);
  TORCH_INTERNAL_ASSERT(symbol_w.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(symbol_w.device());
  const CudaLaunch launch{at::cuda::getCurrentCUDAStream()};
  return duration_lattice_backward_on(launch, kBackwardOpName, n, symbol_w, blank_w,
                                      symbol_durations, blank_durations, boundary, ans_grad);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("duration_lattice", TORCH_FN(duration_lattice_forward_kernel));
  m.impl("_duration_lattice_backward", TORCH_FN(duration_lattice_backward_kernel));
}

}  // namespace fast_rnnt
