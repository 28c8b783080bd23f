// Host launchers of the duration-lattice recursion on CUDA: checks (shared with the CPU kernel),
// device guard, stream, workspaces, dispatch, launch. The device code and its parallel scheme
// are in duration_lattice_kernels.cuh; the launch configuration in duration_lattice_launch.h.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <vector>

#include "ops/cuda/duration_lattice_kernels.cuh"
#include "ops/cuda/duration_lattice_launch.h"
#include "ops/duration_lattice_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "duration_lattice";
constexpr char kBackwardOpName[] = "_duration_lattice_backward";

at::Tensor on_device(at::IntArrayRef values, const at::Tensor& like) {
  const std::vector<int64_t> v(values.begin(), values.end());
  return at::tensor(v, at::TensorOptions().dtype(at::kLong)).to(like.device());
}

template <typename T>
cuda::DurationLatticeArgs<T> lattice_args(const DurationLatticeSizes& n, const at::Tensor& sw,
                                          const at::Tensor& bw, const at::Tensor& sd,
                                          const at::Tensor& bd,
                                          const std::optional<at::Tensor>& boundary,
                                          at::Tensor& alpha, at::Tensor& off) {
  cuda::DurationLatticeArgs<T> a{};
  a.sw = sw.const_data_ptr<T>();
  a.bw = bw.const_data_ptr<T>();
  a.sd = sd.const_data_ptr<int64_t>();
  a.bd = bd.const_data_ptr<int64_t>();
  a.boundary = boundary.has_value() ? boundary->const_data_ptr<int64_t>() : nullptr;
  a.B = n.B;
  a.T = n.T;
  a.S = n.S;
  a.Ns = n.Ns;
  a.Nb = n.Nb;
  alpha = at::empty({n.B, n.T + 1, n.S + 1}, sw.options());
  off = at::empty({n.B, n.T + n.S + 1}, sw.options().dtype(at::kDouble));
  a.alpha = alpha.data_ptr<T>();
  a.off = off.data_ptr<double>();
  return a;
}

at::Tensor duration_lattice_forward_kernel(const at::Tensor& symbol_w_in,
                                           const at::Tensor& blank_w_in,
                                           at::IntArrayRef symbol_durations,
                                           at::IntArrayRef blank_durations,
                                           const std::optional<at::Tensor>& boundary_in,
                                           double fastemit_lambda) {
  const DurationLatticeSizes n =
      check_duration_lattice_inputs(kOpName, symbol_w_in, blank_w_in, symbol_durations,
                                    blank_durations, boundary_in, fastemit_lambda);
  TORCH_INTERNAL_ASSERT(symbol_w_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(symbol_w_in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const at::Tensor sw = symbol_w_in.contiguous(), bw = blank_w_in.contiguous();
  std::optional<at::Tensor> boundary;
  if (boundary_in.has_value()) boundary = boundary_in->contiguous();
  at::Tensor scores = at::empty({n.B}, sw.options());
  if (n.B == 0) return scores;
  const at::Tensor sd = on_device(symbol_durations, sw), bd = on_device(blank_durations, sw);
  AT_DISPATCH_FLOATING_TYPES(sw.scalar_type(), "duration_lattice_cuda", [&] {
    at::Tensor alpha, off;
    auto a = lattice_args<scalar_t>(n, sw, bw, sd, bd, boundary, alpha, off);
    a.scores = scores.data_ptr<scalar_t>();
    const auto launch = cuda::duration_lattice_launch(n.B, cuda::kLatticeThreads);
    cuda::duration_lattice_forward_sequence<scalar_t>
        <<<launch.blocks, launch.threads, 0, stream>>>(/*a=*/a);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return scores;
}

std::tuple<at::Tensor, at::Tensor> duration_lattice_backward_kernel(
    const at::Tensor& symbol_w_in, const at::Tensor& blank_w_in, at::IntArrayRef symbol_durations,
    at::IntArrayRef blank_durations, const std::optional<at::Tensor>& boundary_in,
    const at::Tensor& ans_grad_in, double fastemit_lambda) {
  const DurationLatticeSizes n = check_duration_lattice_inputs(
      kBackwardOpName, symbol_w_in, blank_w_in, symbol_durations, blank_durations, boundary_in,
      fastemit_lambda, /*check_values=*/false);  // the forward checked them
  check_duration_lattice_grad(kBackwardOpName, symbol_w_in, ans_grad_in);
  TORCH_INTERNAL_ASSERT(symbol_w_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(symbol_w_in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const at::Tensor sw = symbol_w_in.contiguous(), bw = blank_w_in.contiguous();
  const at::Tensor ans_grad = ans_grad_in.contiguous();
  std::optional<at::Tensor> boundary;
  if (boundary_in.has_value()) boundary = boundary_in->contiguous();
  at::Tensor symbol_grad = at::zeros_like(sw), blank_grad = at::zeros_like(bw);
  if (n.B == 0) return {symbol_grad, blank_grad};
  const at::Tensor sd = on_device(symbol_durations, sw), bd = on_device(blank_durations, sw);
  AT_DISPATCH_FLOATING_TYPES(sw.scalar_type(), "duration_lattice_backward_cuda", [&] {
    at::Tensor alpha, off;
    auto a = lattice_args<scalar_t>(n, sw, bw, sd, bd, boundary, alpha, off);
    a.ans_grad = ans_grad.const_data_ptr<scalar_t>();
    a.symbol_factor = static_cast<scalar_t>(1.0 + fastemit_lambda);
    a.sg = symbol_grad.data_ptr<scalar_t>();
    a.bg = blank_grad.data_ptr<scalar_t>();
    const auto launch = cuda::duration_lattice_launch(n.B, cuda::kLatticeThreads);
    cuda::duration_lattice_backward_sequence<scalar_t>
        <<<launch.blocks, launch.threads, 0, stream>>>(/*a=*/a);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {symbol_grad, blank_grad};
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("duration_lattice", TORCH_FN(duration_lattice_forward_kernel));
  m.impl("_duration_lattice_backward", TORCH_FN(duration_lattice_backward_kernel));
}

}  // namespace fast_rnnt
