// CPU kernels of the fused joiner-logits ops.
//
// Parallel scheme. The B*T*K rows of C logits are independent: at::parallel_for spreads them
// over threads. Each row is read once from memory; the two sweeps of the log-sum-exp (max, then
// sum of exp) run over the row while it sits in L1, vectorized with ATen's Vectorized<T>
// (softmax_rows.h, chosen per instruction set at run time). float16/bfloat16 rows are widened to
// float32 in a per-thread row buffer first. The backward pass writes each row of grad_logits
// once: -(g_sym + g_blank) * softmax, then the two point corrections at the symbol and the blank.
// Only the per-row normalizer (B*T*K values) is kept between the passes.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "ops/arc_logprobs_checks.h"
#include "ops/cpu/softmax_rows.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "arc_logprobs";

template <typename T>
T log_sigmoid(T z) {
  return std::min(z, T(0)) - std::log1p(std::exp(-std::abs(z)));
}

template <typename T>
T sigmoid(T z) {
  return z >= 0 ? T(1) / (T(1) + std::exp(-z)) : std::exp(z) / (T(1) + std::exp(z));
}

// The rows of logits with a unit-stride class dimension (a copy only when it has none).
at::Tensor with_unit_class_stride(const at::Tensor& logits) {
  return logits.size(3) <= 1 || logits.stride(3) == 1 ? logits : logits.contiguous();
}

// Row r = (b, t, k) of a (B, T, K, ...) tensor with the given strides.
struct RowAddress {
  int64_t T, K, s0, s1, s2;
  int64_t operator()(int64_t r) const {
    const int64_t k = r % K, bt = r / K;
    return (bt / T) * s0 + (bt % T) * s1 + k * s2;
  }
};

int64_t grain_size(int64_t C) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(C, 1)); }

template <typename scalar_t>
void forward_rows(const at::Tensor& logits, const at::Tensor& symbols, int64_t blank, bool hat,
                  const ArcLogprobsSizes& n, at::Tensor& sym_out, at::Tensor& blank_out,
                  at::Tensor& norm_out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr bool kWiden = !std::is_same_v<scalar_t, acc_t>;
  const auto& kernels = cpu::softmax_row_kernels<acc_t>();
  const scalar_t* lp = logits.const_data_ptr<scalar_t>();
  const int64_t* sp = symbols.const_data_ptr<int64_t>();
  const RowAddress logit_row{n.T, n.K, logits.stride(0), logits.stride(1), logits.stride(2)};
  const RowAddress symbol_at{n.T, n.K, symbols.stride(0), symbols.stride(1), symbols.stride(2)};
  acc_t* so = sym_out.data_ptr<acc_t>();
  acc_t* bo = blank_out.data_ptr<acc_t>();
  acc_t* no = norm_out.data_ptr<acc_t>();
  const int64_t C = n.C;
  at::parallel_for(0, n.rows(), grain_size(C), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> row(kWiden ? C : 0);
    for (int64_t r = begin; r < end; ++r) {
      const scalar_t* raw = lp + logit_row(r);
      const acc_t* x;
      if constexpr (kWiden) {
        for (int64_t c = 0; c < C; ++c) row[c] = static_cast<acc_t>(raw[c]);
        x = row.data();
      } else {
        x = raw;
      }
      const int64_t v = sp[symbol_at(r)];
      // A row masked entirely (every logit -inf) has no arcs: -inf, not -inf - -inf = NaN.
      constexpr acc_t kMinusInf = -std::numeric_limits<acc_t>::infinity();
      if (!hat) {
        const acc_t lse = kernels.log_sum_exp(C, x);
        so[r] = lse == kMinusInf ? kMinusInf : x[v] - lse;
        bo[r] = lse == kMinusInf ? kMinusInf : x[blank] - lse;
        no[r] = lse;
      } else {
        const acc_t lse = kernels.log_sum_exp(C - 1, x + 1);
        so[r] = lse == kMinusInf ? kMinusInf : x[v] - lse + log_sigmoid(-x[0]);
        bo[r] = log_sigmoid(x[0]);
        no[r] = lse;
      }
    }
  });
}

template <typename scalar_t>
void backward_rows(const at::Tensor& logits, const at::Tensor& symbols, int64_t blank, bool hat,
                   const ArcLogprobsSizes& n, const at::Tensor& norm, const at::Tensor& sym_grad,
                   const at::Tensor& blank_grad, at::Tensor& grad) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr bool kWiden = !std::is_same_v<scalar_t, acc_t>;
  const auto& kernels = cpu::softmax_row_kernels<acc_t>();
  const scalar_t* lp = logits.const_data_ptr<scalar_t>();
  const int64_t* sp = symbols.const_data_ptr<int64_t>();
  const RowAddress logit_row{n.T, n.K, logits.stride(0), logits.stride(1), logits.stride(2)};
  const RowAddress symbol_at{n.T, n.K, symbols.stride(0), symbols.stride(1), symbols.stride(2)};
  const acc_t* np = norm.const_data_ptr<acc_t>();
  const acc_t* gs = sym_grad.const_data_ptr<acc_t>();
  const acc_t* gb = blank_grad.const_data_ptr<acc_t>();
  scalar_t* gp = grad.data_ptr<scalar_t>();
  const int64_t C = n.C;
  at::parallel_for(0, n.rows(), grain_size(C), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> row(kWiden ? C : 0), out_row(kWiden ? C : 0);
    for (int64_t r = begin; r < end; ++r) {
      const scalar_t* raw = lp + logit_row(r);
      const acc_t* x;
      acc_t* out;
      if constexpr (kWiden) {
        for (int64_t c = 0; c < C; ++c) row[c] = static_cast<acc_t>(raw[c]);
        x = row.data();
        out = out_row.data();
      } else {
        x = raw;
        out = gp + r * C;
      }
      const int64_t v = sp[symbol_at(r)];
      // A row masked entirely (normalizer -inf) gave constant -inf outputs: zero gradient.
      const bool masked = np[r] == -std::numeric_limits<acc_t>::infinity();
      const acc_t g_sym = masked ? acc_t(0) : gs[r], g_blank = gb[r];
      if (!hat) {
        if (masked) {
          std::fill(out, out + C, acc_t(0));
        } else {
          kernels.scaled_exp(C, x, np[r], -(g_sym + g_blank), out);
          out[blank] += g_blank;
        }
      } else {
        if (masked) {
          std::fill(out + 1, out + C, acc_t(0));
        } else {
          kernels.scaled_exp(C - 1, x + 1, np[r], -g_sym, out + 1);
        }
        out[0] = g_blank * sigmoid(-x[0]) - g_sym * sigmoid(x[0]);
      }
      out[v] += g_sym;
      if constexpr (kWiden) {
        scalar_t* dst = gp + r * C;
        for (int64_t c = 0; c < C; ++c) dst[c] = static_cast<scalar_t>(out[c]);
      }
    }
  });
}

at::ScalarType output_type(const at::Tensor& logits) {
  return logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> arc_logprobs_forward_kernel(
    const at::Tensor& logits_in, const at::Tensor& symbols, int64_t termination_symbol,
    bool use_hat_loss) {
  const ArcLogprobsSizes n =
      check_arc_logprobs_inputs(kOpName, logits_in, symbols, termination_symbol, use_hat_loss);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cpu());
  const at::Tensor logits = with_unit_class_stride(logits_in);
  const auto options = logits.options().dtype(output_type(logits));
  at::Tensor sym_out = at::empty({n.B, n.T, n.K}, options);
  at::Tensor blank_out = at::empty({n.B, n.T, n.K}, options);
  at::Tensor norm_out = at::empty({n.B, n.T, n.K}, options);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "arc_logprobs_forward_cpu", [&] {
    forward_rows<scalar_t>(logits, symbols, termination_symbol, use_hat_loss, n, sym_out,
                           blank_out, norm_out);
  });
  return {sym_out, blank_out, norm_out};
}

// grad_logits is as large as the logits and freshly mapped: first touching it one 4 KiB page at a
// time costs a page fault per page, which was about half of the backward. Populate its pages
// up front instead, a few MiB per call and the calls spread over the threads
// (MADV_POPULATE_WRITE, Linux 5.14+; elsewhere a no-op and the faults happen as before).
void populate_pages(const at::Tensor& t) {
#if defined(__linux__)
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE
  constexpr int64_t kChunk = int64_t(4) << 20;
  const int64_t bytes = static_cast<int64_t>(t.nbytes());
  if (bytes < 4 * kChunk) return;
  const int64_t page = 4096;
  const uintptr_t base = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t first = (base + page - 1) & ~uintptr_t(page - 1);
  const uintptr_t last = (base + bytes) & ~uintptr_t(page - 1);
  const int64_t chunks = (static_cast<int64_t>(last - first) + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const uintptr_t lo = first + c * kChunk;
      const uintptr_t hi = std::min<uintptr_t>(lo + kChunk, last);
      madvise(reinterpret_cast<void*>(lo), hi - lo, kPopulateWrite);  // a hint: errors ignored
    }
  });
#endif
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
      check_arc_logprobs_inputs(op, logits_in, symbols, termination_symbol, use_hat_loss);
  check_arc_logprobs_grads(op, logits_in, normalizer, symbol_grad, blank_grad);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cpu());
  const at::Tensor logits = with_unit_class_stride(logits_in);
  at::Tensor grad = at::empty({n.B, n.T, n.K, n.C}, logits.options());
  populate_pages(grad);
  const at::Tensor norm = normalizer.contiguous(), gs = symbol_grad.contiguous(),
                   gb = blank_grad.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "arc_logprobs_backward_cpu", [&] {
    backward_rows<scalar_t>(logits, symbols, termination_symbol, use_hat_loss, n, norm, gs, gb,
                            grad);
  });
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CPU, m) {
  m.impl("arc_logprobs", TORCH_FN(arc_logprobs_kernel));
  m.impl("_arc_logprobs_forward", TORCH_FN(arc_logprobs_forward_kernel));
  m.impl("_arc_logprobs_backward", TORCH_FN(arc_logprobs_backward_kernel));
}

}  // namespace fast_rnnt
