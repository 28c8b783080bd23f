#pragma once
// The fused lm/am op (fast_rnnt/smoothed_arc_logprobs.h) written with ATen ops on whole tensors:
// the CUDA kernels (ops/cuda/smoothed_arc_logprobs_kernel.cu, where cuBLAS does the products
// and ATen's kernels the elementwise passes), and a second implementation of the same math that
// cpp_tests/test_smoothed_arc_logprobs.cpp compares with the CPU kernels on CPU tensors. Inputs
// are checked by the caller; results are in the compute dtype (float64 or float32).
#include <ATen/ATen.h>

#include <limits>
#include <tuple>

#include "ops/smoothed_arc_logprobs_checks.h"

namespace fast_rnnt::aten_impl {

using at::Tensor;
using at::indexing::None;
using at::indexing::Slice;

inline double smallest_normal(at::ScalarType t) {
  return t == at::kDouble ? std::numeric_limits<double>::min()
                          : static_cast<double>(std::numeric_limits<float>::min());
}

// w * x, and exactly 0 where w == 0 (a term left out by a zero scale).
inline Tensor scaled(double w, const Tensor& x) { return w == 0.0 ? at::zeros_like(x) : x * w; }

// The row max along dim 2, 0 where it is +-inf.
inline Tensor row_shift(const Tensor& x) {
  const Tensor m = x.amax(2, /*keepdim=*/true);
  return m.masked_fill(m.isinf(), 0.0);
}

// symbols with the blank appended: (B, S+1).
inline Tensor with_blank(const Tensor& symbols, int64_t blank) {
  return at::cat({symbols, at::full({symbols.size(0), 1}, blank, symbols.options())}, 1);
}

inline std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> forward(
    const Tensor& lm_in, const Tensor& am_in, const Tensor& symbols, int64_t blank,
    double lm_only_scale, double am_only_scale, const SmoothedSizes& n) {
  const auto dtype = lm_in.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const double tiny = smallest_normal(dtype);
  const double j = 1.0 - lm_only_scale - am_only_scale, l = lm_only_scale, a = am_only_scale;
  const Tensor lm = lm_in.to(dtype), am = am_in.to(dtype);
  const int64_t S1 = n.S + 1;
  const Tensor am_shift = row_shift(am), lm_shift = row_shift(lm);  // (B, T, 1), (B, S+1, 1)
  const Tensor am_probs = (am - am_shift).exp();
  const Tensor lm_probs = (lm - lm_shift).exp();
  const Tensor lm_sum = lm_probs.sum(2, /*keepdim=*/true).clamp_min(tiny);
  Tensor lm_rows = lm_probs, log_unigram;
  if (n.with_unigram) {
    const Tensor unigram = (lm_probs / lm_sum).mean(at::IntArrayRef{0, 1}) + tiny;  // (C,)
    lm_rows = at::cat({lm_probs, unigram.expand({n.B, 1, n.C})}, 1);
    log_unigram = unigram.log();
  }
  const Tensor sums = at::bmm(lm_rows, am_probs.transpose(1, 2));  // (B, R, T)
  Tensor column = -scaled(j + a, am_shift.transpose(1, 2));         // (B, 1, T)
  if (n.with_unigram) column = column - scaled(a, (sums.narrow(1, S1, 1) + tiny).log());
  const Tensor lm_only = lm_sum.log() + lm_shift;
  const Tensor row_base = -scaled(j, lm_shift) - scaled(l, lm_only);  // (B, S+1, 1)
  const Tensor padded = with_blank(symbols, blank);
  const Tensor am_arcs =
      am.gather(2, padded.unsqueeze(1).expand({n.B, n.T, S1})).transpose(1, 2);  // (B, S+1, T)
  const Tensor joint = scaled(j, (sums.narrow(1, 0, S1) + tiny).log());            // (B, S+1, T)
  Tensor row_y = row_base + scaled(j + l, lm.select(2, blank).unsqueeze(2));
  Tensor row_x = row_base.narrow(1, 0, n.S) +
                 scaled(j + l, lm.narrow(1, 0, n.S).gather(2, symbols.unsqueeze(2)));
  if (n.with_unigram) {
    row_y = row_y + scaled(a, log_unigram.select(0, blank));
    row_x = row_x + scaled(a, log_unigram.index_select(0, symbols.reshape(-1)).view({n.B, n.S, 1}));
  }
  const Tensor common = column - joint;  // (B, S+1, T)
  Tensor px = (scaled(j + a, am_arcs.narrow(1, 0, n.S)) + common.narrow(1, 0, n.S) + row_x)
                  .contiguous();
  Tensor py = (scaled(j + a, am_arcs.narrow(1, n.S, 1)) + common + row_y).contiguous();
  return {px, py, lm_rows, am_probs, sums};
}

inline std::tuple<Tensor, Tensor> backward(const Tensor& px_grad, const Tensor& py_grad,
                                           const Tensor& symbols, int64_t blank,
                                           double lm_only_scale, double am_only_scale,
                                           const Tensor& lm_rows, const Tensor& am_probs,
                                           const Tensor& sums, const SmoothedSizes& n) {
  const double tiny = smallest_normal(am_probs.scalar_type());
  const double j = 1.0 - lm_only_scale - am_only_scale, l = lm_only_scale, a = am_only_scale;
  const int64_t S1 = n.S + 1;
  // g = d(loss)/d(cell) summed over the cell's two arcs (px has no row S).
  const Tensor g = at::cat({px_grad + py_grad.narrow(1, 0, n.S), py_grad.narrow(1, n.S, 1)}, 1);
  Tensor weights = scaled(-j, g) / (sums.narrow(1, 0, S1) + tiny);  // (B, S+1, T)
  if (n.with_unigram) {
    weights = at::cat(
        {weights, scaled(-a, g.sum(1, /*keepdim=*/true)) / (sums.narrow(1, S1, 1) + tiny)}, 1);
  }
  const Tensor lm_rows_grad = at::bmm(weights, am_probs);                      // (B, R, C)
  Tensor am_grad = at::bmm(weights.transpose(1, 2), lm_rows) * am_probs;       // (B, T, C)
  const Tensor padded = with_blank(symbols, blank);
  if (j + a != 0.0) {
    const Tensor direct = at::cat({px_grad.transpose(1, 2), py_grad.sum(1).unsqueeze(2)}, 2);
    am_grad.scatter_add_(2, padded.unsqueeze(1).expand({n.B, n.T, S1}), direct * (j + a));
  }
  const Tensor row_gx = px_grad.sum(2), row_gy = py_grad.sum(2);  // (B, S), (B, S+1)
  const Tensor row_g = row_gy + at::cat({row_gx, at::zeros_like(row_gy.narrow(1, 0, 1))}, 1);
  const Tensor lm_probs = lm_rows.narrow(1, 0, S1);
  const Tensor lm_sum = lm_probs.sum(2);
  const Tensor unclamped = lm_sum.ge(tiny);
  const Tensor clamped = lm_sum.clamp_min(tiny);
  Tensor sum_grad = at::where(unclamped, scaled(-l, row_g) / clamped, 0.0);  // (B, S+1)
  Tensor probs_grad = lm_rows_grad.narrow(1, 0, S1);
  if (n.with_unigram) {
    const Tensor unigram = lm_rows.select(1, S1).select(0, 0);  // (C,)
    Tensor count = at::zeros({n.C}, unigram.options())
                       .index_add_(0, symbols.reshape(-1), row_gx.reshape(-1));
    count.select(0, blank).add_(row_gy.sum());
    const Tensor unigram_grad = count * a / unigram + lm_rows_grad.select(1, S1).sum(0);
    // A masked row (all probabilities 0) takes no part in the unigram: 0, not 1/tiny.
    const Tensor inv_count =
        at::where(unclamped, clamped.reciprocal() / static_cast<double>(n.B * S1), 0.0);
    const Tensor dot = (lm_probs * unigram_grad).sum(2);
    sum_grad = sum_grad - inv_count * dot / clamped;
    probs_grad = probs_grad + unigram_grad * inv_count.unsqueeze(2);
  }
  Tensor lm_grad = (probs_grad + sum_grad.unsqueeze(2)) * lm_probs;
  if (j + l != 0.0) {
    lm_grad.select(2, blank).add_(row_gy * (j + l));
    lm_grad.narrow(1, 0, n.S).scatter_add_(2, symbols.unsqueeze(2),
                                           row_gx.unsqueeze(2) * (j + l));
  }
  return {lm_grad, am_grad};
}

}  // namespace fast_rnnt::aten_impl
