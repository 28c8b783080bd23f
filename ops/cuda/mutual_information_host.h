#pragma once
// Host side of the CUDA recursion: workspaces sized by recursion_launch
// (mutual_information_launch.h) and the launches, templated on how a kernel is launched.
// ops/cuda/mutual_information_kernel.cu instantiates it with CudaLaunch (cuda_launch.cuh), the
// emulation tests with EmulatedLaunch. Include after the launch policy's header. Internal
// linkage: one translation unit per build includes it.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <optional>
#include <tuple>

#include "ops/cuda/launch_config.h"
#include "ops/cuda/mutual_information_kernels.cuh"
#include "ops/cuda/mutual_information_launch.h"
#include "ops/mutual_information_checks.h"

namespace fast_rnnt {
namespace {

// One block of c.threads per sequence; checked against CUDA's limits.
inline LaunchConfig launch_config(const char* op, const RecursionLaunch& c) {
  return checked_launch_config(op, {/*grid=*/{c.blocks}, /*block=*/{c.threads},
                                    /*shared_bytes=*/c.shared_bytes});
}

inline at::Tensor compute_copy(const at::Tensor& t) {
  const bool reduced = t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
  return reduced ? t.to(at::kFloat).contiguous() : t.contiguous();
}

// (scores, px_grad, py_grad); the gradients undefined unless with_grad. Checks the inputs.
template <typename Launch>
std::tuple<at::Tensor, at::Tensor, at::Tensor> mutual_information_on(
    const Launch& launch, const char* op, const at::Tensor& px_in, const at::Tensor& py_in,
    const std::optional<at::Tensor>& boundary_in, bool with_grad) {
  const MutualInformationSizes n = check_mutual_information_inputs(op, px_in, py_in, boundary_in);
  const auto out_type = px_in.scalar_type();
  if (n.B == 0) {  // contiguous, like every other path
    return {at::empty({0}, px_in.options()),
            with_grad ? at::empty(px_in.sizes(), px_in.options()) : at::Tensor(),
            with_grad ? at::empty(py_in.sizes(), py_in.options()) : at::Tensor()};
  }
  const RecursionLaunch c = recursion_launch(n.B, n.S, n.T, n.modified, with_grad);
  const LaunchConfig config = launch_config(op, c);
  const at::Tensor px = compute_copy(px_in), py = compute_copy(py_in);
  const at::Tensor boundary = boundary_in.has_value() ? boundary_in->contiguous() : at::Tensor();
  at::Tensor scores = at::empty({n.B}, px.options());
  at::Tensor rows = launch.workspace({c.row_elements}, px.options());
  at::Tensor ratios = with_grad ? launch.workspace({c.ratio_elements}, px.options()) : at::Tensor();
  at::Tensor px_grad, py_grad;
  AT_DISPATCH_FLOATING_TYPES(px.scalar_type(), "mutual_information_cuda", [&] {
    const auto boundary_ptr = boundary.defined()
                                  ? global_ptr<const int64_t>(launch, boundary, "boundary")
                                  : GlobalPtr<const int64_t>(nullptr);
    const auto ratios_ptr =
        with_grad ? global_ptr<scalar_t>(launch, ratios, "ratios") : GlobalPtr<scalar_t>(nullptr);
    launch("mutual_information_forward_sweep", config,
           with_grad ? recursion_cuda::mutual_information_forward_sweep<scalar_t, true>
                     : recursion_cuda::mutual_information_forward_sweep<scalar_t, false>,
           /*px=*/global_ptr<const scalar_t>(launch, px, "px"),
           /*py=*/global_ptr<const scalar_t>(launch, py, "py"), /*boundary=*/boundary_ptr,
           /*S=*/n.S, /*T_=*/n.T, /*modified=*/n.modified, /*waves=*/c.waves,
           /*rows=*/global_ptr<scalar_t>(launch, rows, "rows"), /*ratios=*/ratios_ptr,
           /*scores=*/global_ptr<scalar_t>(launch, scores, "scores"));
    if (with_grad) {
      px_grad = at::zeros_like(px);
      py_grad = at::zeros_like(py);
      at::Tensor shares = launch.workspace({c.share_elements}, px.options());
      launch("mutual_information_backward_sweep", config,
             recursion_cuda::mutual_information_backward_sweep<scalar_t>,
             /*boundary=*/boundary_ptr, /*S=*/n.S, /*T_=*/n.T, /*modified=*/n.modified,
             /*waves=*/c.waves, /*ratios=*/GlobalPtr<const scalar_t>(ratios_ptr),
             /*scores=*/global_ptr<const scalar_t>(launch, scores, "scores"),
             /*shares=*/global_ptr<scalar_t>(launch, shares, "shares"),
             /*px_grad=*/global_ptr<scalar_t>(launch, px_grad, "px_grad"),
             /*py_grad=*/global_ptr<scalar_t>(launch, py_grad, "py_grad"));
    }
  });
  if (!with_grad) return {scores.to(out_type), px_grad, py_grad};
  return {scores.to(out_type), px_grad.to(out_type), py_grad.to(out_type)};
}

}  // namespace
}  // namespace fast_rnnt
