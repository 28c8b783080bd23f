// CPU kernels of the fused lm/am op (smoothed_arc_logprobs; the math is in the header).
//
// Scheme. Forward: one pass over each row of lm and am (max, exp and row sum in one sweep,
// softmax_rows.h), the unigram average over lm's rows, one batched product (at::bmm) for the sums
// of every (s, t) pair and of the unigram row, and one pass over the lattice that writes px and
// py (one log per cell). Backward: one pass over the lattice for the weights W = d(loss)/d(sums)
// and the row and column sums of the output gradients; two batched products, W @ am_probs and
// W^T @ lm_rows; then one pass over each row of am and lm that multiplies by the probabilities
// and adds the gradients of the entries read directly (the symbols' and the blank's). Rows
// (of am, of lm, of the lattice) are spread over threads with at::parallel_for; the products are
// BLAS's. The maxima are constants of the math (the result does not depend on them), so they
// carry no gradient.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ops/cpu/softmax_rows.h"
#include "ops/smoothed_arc_logprobs_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kForwardName[] = "smoothed_arc_logprobs";
constexpr char kBackwardName[] = "_smoothed_arc_logprobs_backward";

int64_t grain_size(int64_t width) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(width, 1)); }

// w * v, and exactly 0 where w == 0: a term left out by a zero scale never turns -inf into NaN.
template <typename T>
T scaled(double w, T v) {
  return w == 0.0 ? T(0) : static_cast<T>(w) * v;
}

// The weights of the three models: joint, LM-only, AM-only.
struct Weights {
  double j, l, a;
  Weights(double lm_only_scale, double am_only_scale)
      : j(1.0 - lm_only_scale - am_only_scale), l(lm_only_scale), a(am_only_scale) {}
};

template <typename T>
void forward_impl(const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
                  int64_t blank, const Weights w, const SmoothedSizes& n, at::Tensor& px,
                  at::Tensor& py, at::Tensor& lm_rows, at::Tensor& am_probs, at::Tensor& sums) {
  const auto& k = cpu::softmax_row_kernels<T>();
  const T tiny = std::numeric_limits<T>::min();
  const int64_t B = n.B, S = n.S, S1 = n.S + 1, T1 = n.T, C = n.C, R = n.rows();
  const T* lm_p = lm.const_data_ptr<T>();
  const T* am_p = am.const_data_ptr<T>();
  const int64_t* sym = symbols.const_data_ptr<int64_t>();
  T* rows = lm_rows.data_ptr<T>();
  T* probs = am_probs.data_ptr<T>();
  std::vector<T> am_shift(B * T1), lm_shift(B * S1), lm_sum(B * S1);
  at::parallel_for(0, B * T1, grain_size(C), [&](int64_t begin, int64_t end) {
    T unused;
    for (int64_t r = begin; r < end; ++r) {
      am_shift[r] = k.shifted_exp(C, am_p + r * C, probs + r * C, &unused);
    }
  });
  at::parallel_for(0, B * S1, grain_size(C), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / S1, s = r % S1;
      lm_shift[r] = k.shifted_exp(C, lm_p + r * C, rows + (b * R + s) * C, &lm_sum[r]);
    }
  });
  // unigram[c] = mean over all B*(S+1) rows of softmax(lm[b, s])[c], + tiny: row S+1 of every
  // batch entry of lm_rows, so that one product gives the AM-only sums too.
  std::vector<T> log_unigram(n.with_unigram ? C : 0);
  if (n.with_unigram && B > 0) {
    std::vector<double> mean(C, 0.0);
    for (int64_t r = 0; r < B * S1; ++r) {
      const T* p = rows + ((r / S1) * R + r % S1) * C;
      const double inv = 1.0 / static_cast<double>(std::max(lm_sum[r], tiny));
      for (int64_t c = 0; c < C; ++c) mean[c] += static_cast<double>(p[c]) * inv;
    }
    T* first = rows + S1 * C;
    for (int64_t c = 0; c < C; ++c) {
      first[c] = static_cast<T>(mean[c] / static_cast<double>(B * S1)) + tiny;
      log_unigram[c] = std::log(first[c]);
    }
    for (int64_t b = 1; b < B; ++b) std::copy(first, first + C, rows + (b * R + S1) * C);
  }
  sums = at::bmm(lm_rows, am_probs.transpose(1, 2));  // (B, R, T)
  const T* z = sums.const_data_ptr<T>();

  // column[b, t] = -(j + a) * am_max - a * log(unigram sum): the part of every cell of frame t.
  std::vector<T> column(B * T1);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < T1; ++t) {
      const T log_am_only = n.with_unigram ? std::log(z[(b * R + S1) * T1 + t] + tiny) : T(0);
      column[b * T1 + t] =
          -scaled(w.j + w.a, am_shift[b * T1 + t]) - scaled(w.a, log_am_only);
    }
  }
  T* px_p = px.data_ptr<T>();
  T* py_p = py.data_ptr<T>();
  // One lattice row (b, s) for the arc of symbol y into `out`.
  auto lattice_row = [&](int64_t b, int64_t s, int64_t y, T* out) {
    const int64_t r = b * S1 + s;
    const T lm_y = lm_p[r * C + y];
    const T lm_only = std::log(std::max(lm_sum[r], tiny)) + lm_shift[r];
    const T row = scaled(w.j + w.l, lm_y) - scaled(w.j, lm_shift[r]) - scaled(w.l, lm_only) +
                  (n.with_unigram ? scaled(w.a, log_unigram[y]) : T(0));
    const T* am_y = am_p + b * T1 * C + y;
    for (int64_t t = 0; t < T1; ++t) {
      out[t] = row + column[b * T1 + t] + scaled(w.j + w.a, am_y[t * C]);
    }
    if (w.j != 0.0) k.add_scaled_log(T1, z + (b * R + s) * T1, tiny, static_cast<T>(-w.j), out);
  };
  at::parallel_for(0, B * S1, grain_size(2 * T1), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / S1, s = r % S1;
      lattice_row(b, s, blank, py_p + r * T1);
      if (s < S) lattice_row(b, s, sym[b * S + s], px_p + (b * S + s) * T1);
    }
  });
}

template <typename T>
void backward_impl(const at::Tensor& px_grad, const at::Tensor& py_grad,
                   const at::Tensor& symbols, int64_t blank, const Weights w,
                   const SmoothedSizes& n, const at::Tensor& lm_rows, const at::Tensor& am_probs,
                   const at::Tensor& sums, at::Tensor& lm_grad, at::Tensor& am_grad) {
  const T tiny = std::numeric_limits<T>::min();
  const int64_t B = n.B, S = n.S, S1 = n.S + 1, T1 = n.T, C = n.C, R = n.rows();
  const T* gx = px_grad.const_data_ptr<T>();
  const T* gy = py_grad.const_data_ptr<T>();
  const T* z = sums.const_data_ptr<T>();
  const int64_t* sym = symbols.const_data_ptr<int64_t>();
  // W[b, s, t] = -j * (gx + gy) / (sums + tiny) (the joint rows) and, in row S+1,
  // -a * (sum_s gx + gy) / (sums + tiny) (the AM-only row); the gradients' sums over t (per
  // lattice row) and over s (per frame).
  at::Tensor weights = at::empty({B, R, T1}, sums.options());
  T* W = weights.data_ptr<T>();
  std::vector<T> row_gx(B * S), row_gy(B * S1), col_g(B * T1, T(0)), col_gy(B * T1, T(0));
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      T* cg = col_g.data() + b * T1;
      T* cgy = col_gy.data() + b * T1;
      for (int64_t s = 0; s < S1; ++s) {
        const T* y = gy + (b * S1 + s) * T1;
        const T* x = s < S ? gx + (b * S + s) * T1 : nullptr;
        const T* zr = z + (b * R + s) * T1;
        T* wr = W + (b * R + s) * T1;
        T sum_x = 0, sum_y = 0;
        for (int64_t t = 0; t < T1; ++t) {
          const T g = x ? x[t] + y[t] : y[t];
          wr[t] = scaled(-w.j, g) / (zr[t] + tiny);
          cg[t] += g;
          cgy[t] += y[t];
          sum_y += y[t];
          sum_x += x ? x[t] : T(0);
        }
        row_gy[b * S1 + s] = sum_y;
        if (x) row_gx[b * S + s] = sum_x;
      }
      if (n.with_unigram) {
        const T* zr = z + (b * R + S1) * T1;
        T* wr = W + (b * R + S1) * T1;
        for (int64_t t = 0; t < T1; ++t) wr[t] = scaled(-w.a, cg[t]) / (zr[t] + tiny);
      }
    }
  });
  const at::Tensor lm_rows_grad = at::bmm(weights, am_probs);          // (B, R, C)
  am_grad = at::bmm(weights.transpose(1, 2), lm_rows);                  // (B, T, C)

  const T am_weight = static_cast<T>(w.j + w.a), lm_weight = static_cast<T>(w.j + w.l);
  const T* probs = am_probs.const_data_ptr<T>();
  T* ag = am_grad.data_ptr<T>();
  at::parallel_for(0, B * T1, grain_size(C), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      T* g = ag + r * C;
      const T* p = probs + r * C;
      for (int64_t c = 0; c < C; ++c) g[c] *= p[c];
      if (am_weight == T(0)) continue;
      const int64_t b = r / T1, t = r % T1;
      g[blank] += am_weight * col_gy[r];
      for (int64_t s = 0; s < S; ++s) g[sym[b * S + s]] += am_weight * gx[(b * S + s) * T1 + t];
    }
  });

  const T* rows = lm_rows.const_data_ptr<T>();
  const T* dr = lm_rows_grad.const_data_ptr<T>();
  // d(loss)/d(unigram[c]): through the AM-only sums (row S+1 of lm_rows_grad, summed over b) and
  // through log(unigram[y]) of every arc.
  std::vector<T> unigram_grad(n.with_unigram ? C : 0, T(0));
  const double rows_count = static_cast<double>(B * S1);
  if (n.with_unigram && B > 0) {
    std::vector<double> count(C, 0.0);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t s = 0; s < S; ++s) count[sym[b * S + s]] += row_gx[b * S + s];
      for (int64_t s = 0; s < S1; ++s) count[blank] += row_gy[b * S1 + s];
    }
    const T* unigram = rows + S1 * C;
    for (int64_t c = 0; c < C; ++c) {
      double g = w.a * count[c] / static_cast<double>(unigram[c]);
      for (int64_t b = 0; b < B; ++b) g += static_cast<double>(dr[(b * R + S1) * C + c]);
      unigram_grad[c] = static_cast<T>(g);
    }
  }
  T* lg = lm_grad.data_ptr<T>();
  at::parallel_for(0, B * S1, grain_size(C), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / S1, s = r % S1;
      const T* p = rows + (b * R + s) * C;
      const T* d = dr + (b * R + s) * C;
      T* g = lg + r * C;
      T lm_sum = 0;
      for (int64_t c = 0; c < C; ++c) lm_sum += p[c];
      const bool unclamped = lm_sum >= tiny;  // where max(lm_sum, tiny) passes a gradient
      const T clamped = std::max(lm_sum, tiny);
      const T row_g = row_gy[r] + (s < S ? row_gx[b * S + s] : T(0));
      // d(loss)/d(lm_sum) through log(lm_sum) (LM-only) and the unigram's division by it.
      T sum_grad = unclamped ? scaled(-w.l, row_g) / clamped : T(0);
      T inv_count = 0;
      if (n.with_unigram) {
        // A masked row (all probabilities 0) takes no part in the unigram: 0, not 1/tiny.
        inv_count = unclamped ? static_cast<T>(1.0 / rows_count) / clamped : T(0);
        T dot = 0;
        for (int64_t c = 0; c < C; ++c) dot += unigram_grad[c] * p[c];
        sum_grad -= inv_count * dot / clamped;
        for (int64_t c = 0; c < C; ++c) g[c] = (d[c] + unigram_grad[c] * inv_count + sum_grad) * p[c];
      } else {
        for (int64_t c = 0; c < C; ++c) g[c] = (d[c] + sum_grad) * p[c];
      }
      if (lm_weight == T(0)) continue;
      g[blank] += lm_weight * row_gy[r];
      if (s < S) g[sym[b * S + s]] += lm_weight * row_gx[b * S + s];
    }
  });
}

at::ScalarType compute_dtype(const at::Tensor& t) {
  return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> forward_kernel(
    const at::Tensor& lm_in, const at::Tensor& am_in, const at::Tensor& symbols_in,
    int64_t termination_symbol, double lm_only_scale, double am_only_scale) {
  const SmoothedSizes n = check_smoothed_inputs(kForwardName, lm_in, am_in, symbols_in,
                                                termination_symbol, lm_only_scale, am_only_scale);
  const auto dtype = compute_dtype(lm_in);
  const at::Tensor lm = lm_in.to(dtype).contiguous(), am = am_in.to(dtype).contiguous();
  const at::Tensor symbols = symbols_in.contiguous();
  const auto opts = lm.options();
  at::Tensor px = at::empty({n.B, n.S, n.T}, opts), py = at::empty({n.B, n.S + 1, n.T}, opts);
  at::Tensor lm_rows = at::empty({n.B, n.rows(), n.C}, opts), am_probs = at::empty_like(am);
  at::Tensor sums;
  AT_DISPATCH_FLOATING_TYPES(dtype, "smoothed_arc_logprobs_forward_cpu", [&] {
    forward_impl<scalar_t>(lm, am, symbols, termination_symbol,
                           Weights(lm_only_scale, am_only_scale), n, px, py, lm_rows, am_probs,
                           sums);
  });
  return {px.to(lm_in.scalar_type()), py.to(lm_in.scalar_type()), lm_rows, am_probs, sums};
}

std::tuple<at::Tensor, at::Tensor> public_forward_kernel(const at::Tensor& lm,
                                                         const at::Tensor& am,
                                                         const at::Tensor& symbols,
                                                         int64_t termination_symbol,
                                                         double lm_only_scale,
                                                         double am_only_scale) {
  auto [px, py, lm_rows, am_probs, sums] =
      forward_kernel(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale);
  return {px, py};
}

std::tuple<at::Tensor, at::Tensor> backward_kernel(
    const at::Tensor& px_grad, const at::Tensor& py_grad, const at::Tensor& symbols_in,
    int64_t termination_symbol, double lm_only_scale, double am_only_scale,
    const at::Tensor& lm_rows_in, const at::Tensor& am_probs_in, const at::Tensor& sums_in) {
  const SmoothedSizes n = check_smoothed_backward_inputs(
      kBackwardName, px_grad, py_grad, symbols_in, termination_symbol, lm_only_scale,
      am_only_scale, lm_rows_in, am_probs_in, sums_in);
  const at::Tensor gx = px_grad.contiguous(), gy = py_grad.contiguous();
  const at::Tensor symbols = symbols_in.contiguous(), lm_rows = lm_rows_in.contiguous();
  const at::Tensor am_probs = am_probs_in.contiguous(), sums = sums_in.contiguous();
  at::Tensor lm_grad = at::empty({n.B, n.S + 1, n.C}, lm_rows.options()), am_grad;
  AT_DISPATCH_FLOATING_TYPES(am_probs.scalar_type(), "smoothed_arc_logprobs_backward_cpu", [&] {
    backward_impl<scalar_t>(gx, gy, symbols, termination_symbol,
                            Weights(lm_only_scale, am_only_scale), n, lm_rows, am_probs, sums,
                            lm_grad, am_grad);
  });
  return {lm_grad, am_grad};
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CPU, m) {
  m.impl("smoothed_arc_logprobs", TORCH_FN(public_forward_kernel));
  m.impl("_smoothed_arc_logprobs_forward", TORCH_FN(forward_kernel));
  m.impl("_smoothed_arc_logprobs_backward", TORCH_FN(backward_kernel));
}

}  // namespace fast_rnnt
