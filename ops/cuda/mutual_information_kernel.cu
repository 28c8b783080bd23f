// CUDA launcher of the recursion: checks, device guard and stream, then the host code of
// ops/cuda/mutual_information_host.h (workspaces sized by recursion_launch, launches), whose
// kernels (ops/cuda/mutual_information_kernels.cuh) also run under emulation in
// cpp_tests/emulation/test_emulated_mutual_information.cpp.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/cuda/cuda_launch.cuh"
#include "ops/cuda/mutual_information_host.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "mutual_information";
constexpr char kWithGradOpName[] = "mutual_information_with_grad";

std::tuple<at::Tensor, at::Tensor, at::Tensor> run(const at::Tensor& px, const at::Tensor& py,
                                                   const std::optional<at::Tensor>& boundary,
                                                   bool with_grad) {
  TORCH_INTERNAL_ASSERT(px.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(px.device());
  const CudaLaunch launch{at::cuda::getCurrentCUDAStream()};
  return mutual_information_on(launch, with_grad ? kWithGradOpName : kOpName, px, py, boundary,
                               with_grad);
}

at::Tensor mutual_information_forward_kernel(const at::Tensor& px, const at::Tensor& py,
                                             const std::optional<at::Tensor>& boundary) {
  return std::get<0>(run(px, py, boundary, /*with_grad=*/false));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mutual_information_with_grad_kernel(
    const at::Tensor& px, const at::Tensor& py, const std::optional<at::Tensor>& boundary) {
  return run(px, py, boundary, /*with_grad=*/true);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("mutual_information", TORCH_FN(mutual_information_forward_kernel));
  m.impl("mutual_information_with_grad", TORCH_FN(mutual_information_with_grad_kernel));
}

}  // namespace fast_rnnt
