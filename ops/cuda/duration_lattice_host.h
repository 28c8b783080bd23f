#pragma once
// Host side of the duration-lattice recursion on CUDA: the op bodies after the checks
// (workspaces sized by duration_lattice_launch, the launch), templated on how a kernel is
// launched. ops/cuda/duration_lattice_kernel.cu instantiates them with CudaLaunch
// (ops/cuda/cuda_launch.cuh), the emulation tests with EmulatedLaunch. Include after the launch
// policy's header. Internal linkage: one translation unit per build includes it.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <optional>
#include <tuple>
#include <vector>

#include "ops/cuda/duration_lattice_kernels.cuh"
#include "ops/cuda/duration_lattice_launch.h"
#include "ops/duration_lattice_checks.h"

namespace fast_rnnt {
namespace {

inline at::Tensor durations_on_device(at::IntArrayRef values, const at::Tensor& like) {
  const std::vector<int64_t> v(values.begin(), values.end());
  return at::tensor(v, at::TensorOptions().dtype(at::kLong)).to(like.device());
}

// The arguments both kernels share; allocates the alpha and offset workspaces.
template <typename T, typename Launch>
cuda::DurationLatticeArgs<T> lattice_args(const Launch& launch, const DurationLatticeSizes& n,
                                          const DurationLatticeLaunch& c, const at::Tensor& sw,
                                          const at::Tensor& bw, const at::Tensor& sd,
                                          const at::Tensor& bd,
                                          const std::optional<at::Tensor>& boundary,
                                          at::Tensor& alpha, at::Tensor& off) {
  cuda::DurationLatticeArgs<T> a{};
  a.sw = global_ptr<const T>(launch, sw, "symbol_w");
  a.bw = global_ptr<const T>(launch, bw, "blank_w");
  a.sd = global_ptr<const int64_t>(launch, sd, "symbol_durations");
  a.bd = global_ptr<const int64_t>(launch, bd, "blank_durations");
  a.boundary = boundary.has_value() ? global_ptr<const int64_t>(launch, *boundary, "boundary")
                                    : GlobalPtr<const int64_t>(nullptr);
  a.B = n.B;
  a.T = n.T;
  a.S = n.S;
  a.Ns = n.Ns;
  a.Nb = n.Nb;
  alpha = launch.workspace({c.alpha_elements}, sw.options());
  off = launch.workspace({c.offset_elements}, sw.options().dtype(at::kDouble));
  a.alpha = global_ptr<T>(launch, alpha, "alpha");
  a.off = global_ptr<double>(launch, off, "offsets");
  return a;
}

inline std::optional<at::Tensor> contiguous_boundary(const std::optional<at::Tensor>& boundary) {
  if (!boundary.has_value()) return std::nullopt;
  return boundary->contiguous();
}

// The scores (B,). Inputs already checked.
template <typename Launch>
at::Tensor duration_lattice_forward_on(const Launch& launch, const char* op,
                                       const DurationLatticeSizes& n, const at::Tensor& symbol_w,
                                       const at::Tensor& blank_w,
                                       at::IntArrayRef symbol_durations,
                                       at::IntArrayRef blank_durations,
                                       const std::optional<at::Tensor>& boundary_in) {
  const at::Tensor sw = symbol_w.contiguous(), bw = blank_w.contiguous();
  const std::optional<at::Tensor> boundary = contiguous_boundary(boundary_in);
  at::Tensor scores = at::empty({n.B}, sw.options());
  if (n.B == 0) return scores;
  const DurationLatticeLaunch c = duration_lattice_launch(n.B, n.T, n.S);
  const LaunchConfig config = duration_lattice_launch_config(op, c);
  const at::Tensor sd = durations_on_device(symbol_durations, sw),
                   bd = durations_on_device(blank_durations, sw);
  AT_DISPATCH_FLOATING_TYPES(sw.scalar_type(), "duration_lattice_cuda", [&] {
    at::Tensor alpha, off;
    auto a = lattice_args<scalar_t>(launch, n, c, sw, bw, sd, bd, boundary, alpha, off);
    a.scores = global_ptr<scalar_t>(launch, scores, "scores");
    launch("duration_lattice_forward_sequence", config,
           cuda::duration_lattice_forward_sequence<scalar_t>, /*a=*/a);
  });
  return scores;
}

// (symbol_grad, blank_grad), shaped like the weights. Inputs already checked.
template <typename Launch>
std::tuple<at::Tensor, at::Tensor> duration_lattice_backward_on(
    const Launch& launch, const char* op, const DurationLatticeSizes& n,
    const at::Tensor& symbol_w, const at::Tensor& blank_w, at::IntArrayRef symbol_durations,
    at::IntArrayRef blank_durations, const std::optional<at::Tensor>& boundary_in,
    const at::Tensor& ans_grad_in) {
  const at::Tensor sw = symbol_w.contiguous(), bw = blank_w.contiguous();
  const at::Tensor ans_grad = ans_grad_in.contiguous();
  const std::optional<at::Tensor> boundary = contiguous_boundary(boundary_in);
  at::Tensor symbol_grad = at::zeros_like(sw), blank_grad = at::zeros_like(bw);
  if (n.B == 0) return {symbol_grad, blank_grad};
  const DurationLatticeLaunch c = duration_lattice_launch(n.B, n.T, n.S);
  const LaunchConfig config = duration_lattice_launch_config(op, c);
  const at::Tensor sd = durations_on_device(symbol_durations, sw),
                   bd = durations_on_device(blank_durations, sw);
  AT_DISPATCH_FLOATING_TYPES(sw.scalar_type(), "duration_lattice_backward_cuda", [&] {
    at::Tensor alpha, off;
    auto a = lattice_args<scalar_t>(launch, n, c, sw, bw, sd, bd, boundary, alpha, off);
    a.ans_grad = global_ptr<const scalar_t>(launch, ans_grad, "ans_grad");
    a.sg = global_ptr<scalar_t>(launch, symbol_grad, "symbol_grad");
    a.bg = global_ptr<scalar_t>(launch, blank_grad, "blank_grad");
    launch("duration_lattice_backward_sequence", config,
           cuda::duration_lattice_backward_sequence<scalar_t>, /*a=*/a);
  });
  return {symbol_grad, blank_grad};
}

}  // namespace
}  // namespace fast_rnnt
