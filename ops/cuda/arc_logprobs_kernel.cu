// CUDA kernels of the fused joiner-logits ops.
//
// Parallel scheme: one warp per row of C logits, kWarps rows per block. Forward: each lane keeps
// an online (max, sum of exp) pair over the classes c = lane, lane+32, ..., so the row is read
// from global memory exactly once with coalesced loads; the 32 pairs are merged by a butterfly
// of warp shuffles (commutative merges, so every lane holds the same bits and the result does
// not depend on scheduling), and lane 0 writes the row's two log-probabilities and normalizer.
// Backward: the same warp-per-row layout; each lane writes its classes of grad_logits once,
// from the saved normalizer, in the dtype of logits. No atomics, no shared memory.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <limits>

#include "ops/arc_logprobs_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "arc_logprobs";
constexpr int kWarpSize = 32;
constexpr int kWarps = 8;  // rows per block
constexpr int kThreads = kWarps * kWarpSize;

// Row r = (b, t, k) of a (B, T, K, ...) tensor with the given strides.
struct RowAddress {
  int64_t T, K, s0, s1, s2;
  __device__ int64_t operator()(int64_t r) const {
    const int64_t k = r % K, bt = r / K;
    return (bt / T) * s0 + (bt % T) * s1 + k * s2;
  }
};

template <typename T>
__device__ __forceinline__ T neg_inf() {
  return -std::numeric_limits<T>::infinity();
}

template <typename T>
__device__ __forceinline__ T log_sigmoid(T z) {
  return min(z, T(0)) - log1p(exp(-abs(z)));
}

template <typename T>
__device__ __forceinline__ T sigmoid(T z) {
  return z >= T(0) ? T(1) / (T(1) + exp(-z)) : exp(z) / (T(1) + exp(z));
}

// Merges the (max, sum of exp(x - max)) pair (m2, s2) into (m, s).
template <typename T>
__device__ __forceinline__ void merge(T& m, T& s, T m2, T s2) {
  const T hi = max(m, m2);
  if (hi == neg_inf<T>()) return;  // both empty
  s = (m == neg_inf<T>() ? T(0) : s * exp(m - hi)) + (m2 == neg_inf<T>() ? T(0) : s2 * exp(m2 - hi));
  m = hi;
}

template <typename scalar_t, typename acc_t>
__global__ void arc_logprobs_forward_rows(const scalar_t* __restrict__ logits, RowAddress logit_row,
                                          const int64_t* __restrict__ symbols,
                                          RowAddress symbol_at, int64_t rows, int64_t C,
                                          int64_t blank, bool hat, acc_t* __restrict__ sym_out,
                                          acc_t* __restrict__ blank_out,
                                          acc_t* __restrict__ norm_out) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  if (r >= rows) return;  // whole warps leave together
  const scalar_t* x = logits + logit_row(r);
  const int64_t first = hat ? 1 : 0;
  acc_t m = neg_inf<acc_t>(), s = 0;
  bool nan = false;  // max() drops NaNs: they are tracked apart and poison the row at the end
  for (int64_t c = first + lane; c < C; c += kWarpSize) {
    const acc_t v = static_cast<acc_t>(x[c]);
    if (v > m) {
      s = (m == neg_inf<acc_t>() ? acc_t(0) : s * exp(m - v)) + acc_t(1);
      m = v;
    } else if (v != neg_inf<acc_t>()) {
      nan = nan || isnan(v);
      s += exp(v - m);
    }
  }
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const acc_t m2 = __shfl_xor_sync(0xffffffffu, m, offset);
    const acc_t s2 = __shfl_xor_sync(0xffffffffu, s, offset);
    merge(m, s, m2, s2);
  }
  nan = __any_sync(0xffffffffu, nan);
  if (lane != 0) return;
  const acc_t lse = nan ? acc_t(NAN) : (isinf(m) ? m : m + log(s));
  const int64_t v = symbols[symbol_at(r)];
  const acc_t x_sym = (v >= 0 && v < C) ? static_cast<acc_t>(x[v]) : acc_t(NAN);
  // A row masked entirely (every logit -inf) has no arcs: -inf, not -inf - -inf = NaN.
  const bool masked = lse == neg_inf<acc_t>();
  if (!hat) {
    sym_out[r] = masked ? neg_inf<acc_t>() : x_sym - lse;
    blank_out[r] = masked ? neg_inf<acc_t>() : static_cast<acc_t>(x[blank]) - lse;
  } else {
    const acc_t x0 = static_cast<acc_t>(x[0]);
    sym_out[r] = masked ? neg_inf<acc_t>() : x_sym - lse + log_sigmoid(-x0);
    blank_out[r] = log_sigmoid(x0);
  }
  norm_out[r] = lse;
}

template <typename scalar_t, typename acc_t>
__global__ void arc_logprobs_backward_rows(const scalar_t* __restrict__ logits,
                                           RowAddress logit_row,
                                           const int64_t* __restrict__ symbols,
                                           RowAddress symbol_at, int64_t rows, int64_t C,
                                           int64_t blank, bool hat,
                                           const acc_t* __restrict__ norm,
                                           const acc_t* __restrict__ sym_grad,
                                           const acc_t* __restrict__ blank_grad,
                                           scalar_t* __restrict__ grad) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  if (r >= rows) return;
  const scalar_t* x = logits + logit_row(r);
  scalar_t* out = grad + r * C;
  const int64_t v = symbols[symbol_at(r)];
  const acc_t lse = norm[r], g_blank = blank_grad[r];
  // A row masked entirely (normalizer -inf) gave constant -inf outputs: zero gradient.
  const bool masked = lse == neg_inf<acc_t>();
  const acc_t g_sym = masked ? acc_t(0) : sym_grad[r];
  for (int64_t c = lane; c < C; c += kWarpSize) {
    const acc_t xc = static_cast<acc_t>(x[c]);
    acc_t g;
    if (!hat) {
      g = masked ? acc_t(0)
                 : -(g_sym + g_blank) * exp(xc - lse) + (c == blank ? g_blank : acc_t(0));
    } else if (c == 0) {
      g = g_blank * sigmoid(-xc) - g_sym * sigmoid(xc);
    } else {
      g = masked ? acc_t(0) : -g_sym * exp(xc - lse);
    }
    if (c == v) g += g_sym;
    out[c] = static_cast<scalar_t>(g);
  }
}

at::Tensor with_unit_class_stride(const at::Tensor& logits) {
  return logits.size(3) <= 1 || logits.stride(3) == 1 ? logits : logits.contiguous();
}

RowAddress row_address(const at::Tensor& t, const ArcLogprobsSizes& n) {
  return {n.T, n.K, t.stride(0), t.stride(1), t.stride(2)};
}

int64_t num_blocks(int64_t rows) { return (rows + kWarps - 1) / kWarps; }

std::tuple<at::Tensor, at::Tensor, at::Tensor> arc_logprobs_forward_kernel(
    const at::Tensor& logits_in, const at::Tensor& symbols, int64_t termination_symbol,
    bool use_hat_loss) {
  const ArcLogprobsSizes n =
      check_arc_logprobs_inputs(kOpName, logits_in, symbols, termination_symbol, use_hat_loss);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(logits_in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const at::Tensor logits = with_unit_class_stride(logits_in);
  const auto out_type = logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto options = logits.options().dtype(out_type);
  at::Tensor sym_out = at::empty({n.B, n.T, n.K}, options);
  at::Tensor blank_out = at::empty({n.B, n.T, n.K}, options);
  at::Tensor norm_out = at::empty({n.B, n.T, n.K}, options);
  if (n.rows() == 0) return {sym_out, blank_out, norm_out};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "arc_logprobs_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    arc_logprobs_forward_rows<scalar_t, acc_t><<<num_blocks(n.rows()), kThreads, 0, stream>>>(
        /*logits=*/logits.const_data_ptr<scalar_t>(), /*logit_row=*/row_address(logits, n),
        /*symbols=*/symbols.const_data_ptr<int64_t>(), /*symbol_at=*/row_address(symbols, n),
        /*rows=*/n.rows(), /*C=*/n.C, /*blank=*/termination_symbol, /*hat=*/use_hat_loss,
        /*sym_out=*/sym_out.data_ptr<acc_t>(), /*blank_out=*/blank_out.data_ptr<acc_t>(),
        /*norm_out=*/norm_out.data_ptr<acc_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {sym_out, blank_out, norm_out};
}

std::tuple<at::Tensor, at::Tensor> arc_logprobs_kernel(const at::Tensor& logits,
                                                       const at::Tensor& symbols,
                                                       int64_t termination_symbol,
                                                       bool use_hat_loss) {
  auto [sym_out, blank_out, norm_out] =
      arc_logprobs_forward_kernel(logits, symbols, termination_symbol, use_hat_loss);
  return {sym_out, blank_out};
}

at::Tensor arc_logprobs_backward_kernel(const at::Tensor& logits_in, const at::Tensor& symbols,
                                        int64_t termination_symbol, bool use_hat_loss,
                                        const at::Tensor& normalizer,
                                        const at::Tensor& symbol_grad,
                                        const at::Tensor& blank_grad) {
  constexpr char op[] = "_arc_logprobs_backward";
  const ArcLogprobsSizes n =
      // No host sync for the symbol values here: the forward checked them, and a symbol out of
      // range only drops its term in the kernel (c == v never holds), it is never an address.
      check_arc_logprobs_inputs(op, logits_in, symbols, termination_symbol, use_hat_loss,
                                /*check_values=*/false);
  check_arc_logprobs_grads(op, logits_in, normalizer, symbol_grad, blank_grad);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(logits_in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const at::Tensor logits = with_unit_class_stride(logits_in);
  at::Tensor grad = at::empty({n.B, n.T, n.K, n.C}, logits.options());
  if (n.rows() == 0) return grad;
  const at::Tensor norm = normalizer.contiguous(), gs = symbol_grad.contiguous(),
                   gb = blank_grad.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "arc_logprobs_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    arc_logprobs_backward_rows<scalar_t, acc_t><<<num_blocks(n.rows()), kThreads, 0, stream>>>(
        /*logits=*/logits.const_data_ptr<scalar_t>(), /*logit_row=*/row_address(logits, n),
        /*symbols=*/symbols.const_data_ptr<int64_t>(), /*symbol_at=*/row_address(symbols, n),
        /*rows=*/n.rows(), /*C=*/n.C, /*blank=*/termination_symbol, /*hat=*/use_hat_loss,
        /*norm=*/norm.const_data_ptr<acc_t>(), /*sym_grad=*/gs.const_data_ptr<acc_t>(),
        /*blank_grad=*/gb.const_data_ptr<acc_t>(), /*grad=*/grad.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("arc_logprobs", TORCH_FN(arc_logprobs_kernel));
  m.impl("_arc_logprobs_forward", TORCH_FN(arc_logprobs_forward_kernel));
  m.impl("_arc_logprobs_backward", TORCH_FN(arc_logprobs_backward_kernel));
}

}  // namespace fast_rnnt
