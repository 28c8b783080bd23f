// CPU kernels of the fused joiner-logits read of the duration-lattice losses
// (duration_arc_logprobs in include/fast_rnnt/duration_lattice.h).
//
// Parallel scheme, as arc_logprobs_kernel.cpp: the B*T*K rows are independent and spread over
// threads by at::parallel_for; each row is read once, its log-sum-exps (tokens, durations) run
// over it while it sits in L1 (softmax_rows.h, vectorized), float16/bfloat16 rows are widened
// to float32 in a per-thread buffer. The backward writes each row of grad_logits once from the
// row's arc gradients and the saved normalizers.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "ops/cpu/softmax_rows.h"
#include "ops/duration_lattice_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "duration_arc_logprobs";

// Row r = (b, t, k) of a (B, T, K, ...) tensor with the given strides.
struct RowAddress {
  int64_t T, K, s0, s1, s2;
  int64_t operator()(int64_t r) const {
    const int64_t k = r % K, bt = r / K;
    return (bt / T) * s0 + (bt % T) * s1 + k * s2;
  }
};

int64_t grain_size(int64_t C) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(C, 1)); }

at::ScalarType output_type(const at::Tensor& logits) {
  return logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

// Calls f(r, x, extra) for each row r with x the row widened to acc_t (x points into logits when
// no widening is needed); extra is a per-thread buffer of the row's length.
template <typename scalar_t, typename F>
void for_each_row(const at::Tensor& logits, const at::Tensor& symbols, F&& f) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr bool kWiden = !std::is_same_v<scalar_t, acc_t>;
  const int64_t B = logits.size(0), T = logits.size(1), K = logits.size(2), L = logits.size(3);
  const scalar_t* lp = logits.const_data_ptr<scalar_t>();
  const int64_t* sp = symbols.const_data_ptr<int64_t>();
  const RowAddress logit_row{T, K, logits.stride(0), logits.stride(1), logits.stride(2)};
  const RowAddress symbol_at{T, K, symbols.stride(0), symbols.stride(1), symbols.stride(2)};
  at::parallel_for(0, B * T * K, grain_size(L), [&](int64_t begin, int64_t end) {
    std::vector<acc_t> row(kWiden ? L : 0), extra(L);
    for (int64_t r = begin; r < end; ++r) {
      const scalar_t* raw = lp + logit_row(r);
      const acc_t* x;
      if constexpr (kWiden) {
        for (int64_t c = 0; c < L; ++c) row[c] = static_cast<acc_t>(raw[c]);
        x = row.data();
      } else {
        x = raw;
      }
      f(r, x, sp[symbol_at(r)], extra.data());
    }
  });
}

template <typename scalar_t>
void forward_rows(const at::Tensor& logits, const at::Tensor& symbols, at::IntArrayRef blanks,
                  const DurationArcSizes& n, double sigma, at::Tensor& sym_out,
                  at::Tensor& blank_out, at::Tensor& norm_out) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr acc_t kNegInf = -std::numeric_limits<acc_t>::infinity();
  const auto& kernels = cpu::softmax_row_kernels<acc_t>();
  acc_t* so = sym_out.data_ptr<acc_t>();
  acc_t* bo = blank_out.data_ptr<acc_t>();
  acc_t* no = norm_out.data_ptr<acc_t>();
  const int64_t C = n.C, D = n.D, Ns = n.symbol_columns(), Nb = n.blank_columns();
  const auto sig = static_cast<acc_t>(sigma);
  for_each_row<scalar_t>(logits, symbols, [&](int64_t r, const acc_t* x, int64_t v, acc_t*) {
    const acc_t lse = kernels.log_sum_exp(C, x);
    const acc_t dur_lse = D > 0 ? kernels.log_sum_exp(D, x + C) : acc_t(0);
    no[2 * r] = lse;
    no[2 * r + 1] = dur_lse;
    acc_t* sym = so + r * Ns;
    acc_t* blank = bo + r * Nb;
    // A row masked entirely (every token logit -inf) has no arcs: -inf, not -inf - -inf = NaN.
    if (lse == kNegInf) {
      std::fill(sym, sym + Ns, kNegInf);
      std::fill(blank, blank + Nb, kNegInf);
      return;
    }
    const acc_t sym_tok = x[v] - lse - sig;
    if (D == 0) {
      sym[0] = sym_tok;
      for (int64_t j = 0; j < Nb; ++j) blank[j] = x[blanks[j]] - lse - sig;
    } else {
      const acc_t blank_tok = x[blanks[0]] - lse - sig;
      for (int64_t i = 0; i < D; ++i) sym[i] = sym_tok + (x[C + i] - dur_lse);
      for (int64_t j = 0; j < D - 1; ++j) blank[j] = blank_tok + (x[C + j + 1] - dur_lse);
    }
  });
}

template <typename scalar_t>
void backward_rows(const at::Tensor& logits, const at::Tensor& symbols, at::IntArrayRef blanks,
                   const DurationArcSizes& n, const at::Tensor& norm, const at::Tensor& sym_grad,
                   const at::Tensor& blank_grad, double fastemit_lambda, at::Tensor& grad) {
  using acc_t = at::opmath_type<scalar_t>;
  constexpr bool kWiden = !std::is_same_v<scalar_t, acc_t>;
  constexpr acc_t kNegInf = -std::numeric_limits<acc_t>::infinity();
  const auto& kernels = cpu::softmax_row_kernels<acc_t>();
  const acc_t* np = norm.const_data_ptr<acc_t>();
  const acc_t* gs = sym_grad.const_data_ptr<acc_t>();
  const acc_t* gb = blank_grad.const_data_ptr<acc_t>();
  scalar_t* gp = grad.data_ptr<scalar_t>();
  const int64_t C = n.C, D = n.D, L = C + D, Ns = n.symbol_columns(), Nb = n.blank_columns();
  const auto fastemit = static_cast<acc_t>(1.0 + fastemit_lambda);
  for_each_row<scalar_t>(logits, symbols, [&](int64_t r, const acc_t* x, int64_t v,
                                              acc_t* buffer) {
    acc_t* out = kWiden ? buffer : reinterpret_cast<acc_t*>(gp + r * L);
    const acc_t* g_sym = gs + r * Ns;
    const acc_t* g_blank = gb + r * Nb;
    if (np[2 * r] == kNegInf) {  // masked row: constant -inf outputs, zero gradient
      std::fill(out, out + L, acc_t(0));
    } else {
      acc_t sym_total = 0, blank_total = 0;
      for (int64_t i = 0; i < Ns; ++i) sym_total += g_sym[i];
      for (int64_t j = 0; j < Nb; ++j) blank_total += g_blank[j];
      // Token logits: every arc's token log-prob is x[token] - logsumexp(x[0:C]); FastEmit
      // scales what reaches the symbol's.
      const acc_t sym_token = sym_total * fastemit;
      kernels.scaled_exp(C, x, np[2 * r], -(sym_token + blank_total), out);
      out[v] += sym_token;
      if (D == 0) {
        for (int64_t j = 0; j < Nb; ++j) out[blanks[j]] += g_blank[j];
      } else {
        out[blanks[0]] += blank_total;
        // Duration logits: duration i carries symbol arc i and (i >= 1) blank arc i - 1.
        kernels.scaled_exp(D, x + C, np[2 * r + 1], -(sym_total + blank_total), out + C);
        for (int64_t i = 0; i < D; ++i) out[C + i] += g_sym[i] + (i >= 1 ? g_blank[i - 1] : 0);
      }
    }
    if constexpr (kWiden) {
      scalar_t* dst = gp + r * L;
      for (int64_t c = 0; c < L; ++c) dst[c] = static_cast<scalar_t>(out[c]);
    }
  });
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> duration_arc_logprobs_forward_kernel(
    const at::Tensor& logits_in, const at::Tensor& symbols, at::IntArrayRef blanks,
    int64_t num_durations, double sigma) {
  const DurationArcSizes n = check_duration_arc_inputs(kOpName, logits_in, symbols, blanks,
                                                       num_durations, /*fastemit_lambda=*/0.0);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cpu());
  const at::Tensor logits =
      logits_in.size(3) <= 1 || logits_in.stride(3) == 1 ? logits_in : logits_in.contiguous();
  const auto options = logits.options().dtype(output_type(logits));
  at::Tensor sym_out = at::empty({n.B, n.T, n.K, n.symbol_columns()}, options);
  at::Tensor blank_out = at::empty({n.B, n.T, n.K, n.blank_columns()}, options);
  at::Tensor norm_out = at::empty({n.B, n.T, n.K, 2}, options);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "duration_arc_logprobs_forward_cpu", [&] {
    forward_rows<scalar_t>(logits, symbols, blanks, n, sigma, sym_out, blank_out, norm_out);
  });
  return {sym_out, blank_out, norm_out};
}

at::Tensor duration_arc_logprobs_backward_kernel(const at::Tensor& logits_in,
                                                 const at::Tensor& symbols,
                                                 at::IntArrayRef blanks, int64_t num_durations,
                                                 const at::Tensor& normalizer,
                                                 const at::Tensor& symbol_grad,
                                                 const at::Tensor& blank_grad,
                                                 double fastemit_lambda) {
  constexpr char op[] = "_duration_arc_logprobs_backward";
  const DurationArcSizes n =
      check_duration_arc_inputs(op, logits_in, symbols, blanks, num_durations, fastemit_lambda);
  check_duration_arc_grads(op, logits_in, n, normalizer, symbol_grad, blank_grad);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cpu());
  const at::Tensor logits =
      logits_in.size(3) <= 1 || logits_in.stride(3) == 1 ? logits_in : logits_in.contiguous();
  at::Tensor grad = at::empty(logits.sizes(), logits.options());
  const at::Tensor norm = normalizer.contiguous(), gs = symbol_grad.contiguous(),
                   gb = blank_grad.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "duration_arc_logprobs_backward_cpu", [&] {
    backward_rows<scalar_t>(logits, symbols, blanks, n, norm, gs, gb, fastemit_lambda, grad);
  });
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CPU, m) {
  m.impl("_duration_arc_logprobs_forward", TORCH_FN(duration_arc_logprobs_forward_kernel));
  m.impl("_duration_arc_logprobs_backward", TORCH_FN(duration_arc_logprobs_backward_kernel));
}

}  // namespace fast_rnnt
