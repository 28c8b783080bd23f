// Host launcher of the CUDA recursion kernels (mutual_information_kernels.cuh): checks, device
// guard and stream, workspaces sized by recursion_launch (mutual_information_launch.h), launch.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <limits>

#include "ops/cuda/mutual_information_kernels.cuh"
#include "ops/mutual_information_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "mutual_information";
constexpr char kWithGradOpName[] = "mutual_information_with_grad";

at::Tensor compute_copy(const at::Tensor& t) {
  const bool reduced = t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
  return reduced ? t.to(at::kFloat).contiguous() : t.contiguous();
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> run(const at::Tensor& px_in, const at::Tensor& py_in,
                                                   const std::optional<at::Tensor>& boundary_in,
                                                   bool with_grad) {
  const char* op = with_grad ? kWithGradOpName : kOpName;
  const MutualInformationSizes n = check_mutual_information_inputs(op, px_in, py_in, boundary_in);
  TORCH_INTERNAL_ASSERT(px_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(px_in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const auto out_type = px_in.scalar_type();
  if (n.B == 0) {  // contiguous, like every other path
    return {at::empty({0}, px_in.options()),
            with_grad ? at::empty(px_in.sizes(), px_in.options()) : at::Tensor(),
            with_grad ? at::empty(py_in.sizes(), py_in.options()) : at::Tensor()};
  }
  const RecursionLaunch c = recursion_launch(n.B, n.S, n.T, n.modified, with_grad);
  TORCH_CHECK(c.blocks <= std::numeric_limits<int32_t>::max(), op, ": batch size ", n.B,
              " exceeds the CUDA grid limit of ", std::numeric_limits<int32_t>::max(),
              " sequences");
  const dim3 grid(static_cast<unsigned>(c.blocks)), block(static_cast<unsigned>(c.threads));
  const at::Tensor px = compute_copy(px_in), py = compute_copy(py_in);
  const at::Tensor boundary = boundary_in.has_value() ? boundary_in->contiguous() : at::Tensor();
  const int64_t* boundary_ptr = boundary.defined() ? boundary.data_ptr<int64_t>() : nullptr;
  at::Tensor scores = at::empty({n.B}, px.options());
  at::Tensor rows = at::empty({c.row_elements}, px.options());
  at::Tensor ratios = with_grad ? at::empty({c.ratio_elements}, px.options()) : at::Tensor();
  at::Tensor px_grad, py_grad;
  AT_DISPATCH_FLOATING_TYPES(px.scalar_type(), "mutual_information_cuda", [&] {
    auto forward = with_grad ? recursion_cuda::mutual_information_forward_sweep<scalar_t, true>
                             : recursion_cuda::mutual_information_forward_sweep<scalar_t, false>;
    forward<<<grid, block, c.shared_bytes, stream>>>(
        /*px=*/px.data_ptr<scalar_t>(), /*py=*/py.data_ptr<scalar_t>(), /*boundary=*/boundary_ptr,
        /*S=*/n.S, /*T_=*/n.T, /*modified=*/n.modified, /*waves=*/c.waves,
        /*rows=*/rows.data_ptr<scalar_t>(),
        /*ratios=*/with_grad ? ratios.data_ptr<scalar_t>() : nullptr,
        /*scores=*/scores.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (with_grad) {
      px_grad = at::zeros_like(px);
      py_grad = at::zeros_like(py);
      at::Tensor shares = at::empty({c.share_elements}, px.options());
      recursion_cuda::mutual_information_backward_sweep<scalar_t>
          <<<grid, block, c.shared_bytes, stream>>>(
              /*boundary=*/boundary_ptr, /*S=*/n.S, /*T_=*/n.T, /*modified=*/n.modified,
              /*waves=*/c.waves, /*ratios=*/ratios.data_ptr<scalar_t>(),
              /*scores=*/scores.data_ptr<scalar_t>(), /*shares=*/shares.data_ptr<scalar_t>(),
              /*px_grad=*/px_grad.data_ptr<scalar_t>(), /*py_grad=*/py_grad.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  if (!with_grad) return {scores.to(out_type), px_grad, py_grad};
  return {scores.to(out_type), px_grad.to(out_type), py_grad.to(out_type)};
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
