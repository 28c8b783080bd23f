#pragma once
// The fused read of separate LM and AM scores (the "simple" and "smoothed" losses): the
// log-probabilities of each lattice cell's two arcs from lm and am, with one batched matrix
// product for the joint normalizers and a hand-written backward that reuses it, instead of a graph
// of ATen ops. The building block of rnnt_loss_simple and rnnt_loss_smoothed.
#include <ATen/ATen.h>

#include <cstdint>
#include <tuple>

#include "fast_rnnt/macros.h"

namespace fast_rnnt {

// Per-cell arc log-probabilities interpolated between the joint, LM-only and AM-only models.
//
//   lm:                 (B, S+1, C) float32, float64, float16 or bfloat16 (any strides).
//   am:                 (B, T, C), same dtype and device as lm.
//   symbols:            (B, S) int64, every value in [0, C).
//   termination_symbol: the blank, in [0, C).
//   lm_only_scale, am_only_scale: l and a, finite; j = 1 - l - a.
//
// With y = symbols[b, s] (px) or the blank (py), and every log-sum-exp over the C classes:
//   joint[b,s,t]   = log(sum_c exp(lm[b,s,c] + am[b,t,c] - M) + tiny) + M,
//                    M = lm_max[b,s] + am_max[b,t] (a row's max, 0 where it is +-inf)
//   lm_only[b,s]   = log(max(sum_c exp(lm[b,s,c] - lm_max[b,s]), tiny)) + lm_max[b,s]
//   unigram[c]     = mean_{b,s} (exp(lm[b,s,c] - lm_max[b,s]) / max(sum_c ..., tiny)) + tiny
//                    (over all B * (S+1) rows, as k2)
//   am_only[b,t]   = log(sum_c unigram[c] * exp(am[b,t,c] - am_max[b,t]) + tiny) + am_max[b,t]
//   logprob        = j * (am[b,t,y] + lm[b,s,y] - joint[b,s,t])
//                  + l * (lm[b,s,y] - lm_only[b,s])
//                  + a * (am[b,t,y] + log(unigram[y]) - am_only[b,t])
// tiny is the dtype's smallest normal number. A term whose scale is exactly 0 is left out (so
// -inf scores give -inf, not NaN, and l = a = 0 is the simple loss exactly); k2's smoothed loss
// passes 1e-20 for a zero scale. Returns (px, py): px (B, S, T) for y = symbols[b, s], py
// (B, S+1, T) for the blank, contiguous, in the dtype of lm (float16/bfloat16 are computed in
// float32). Differentiable w.r.t. lm and am (first order); the backward is two more batched
// products of the forward's sizes and one pass over each of lm and am.
// Throws c10::Error on bad shapes, dtypes, devices, scales, termination_symbol or symbol values.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> smoothed_arc_logprobs(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale = 0.0, double am_only_scale = 0.0);

namespace detail {
// The forward pass, also returning what the backward reuses (in the compute dtype, float64 for
// float64 and float32 otherwise):
//   lm_rows (B, R, C): exp(lm - lm_max), and when am_only_scale != 0 one more row, unigram
//                      (R = S+2; else R = S+1);
//   am_probs (B, T, C): exp(am - am_max);
//   sums (B, R, T):    lm_rows @ am_probs^T, the sums inside joint and am_only.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
_smoothed_arc_logprobs_forward(const at::Tensor& lm, const at::Tensor& am,
                               const at::Tensor& symbols, int64_t termination_symbol,
                               double lm_only_scale, double am_only_scale);

// The gradients w.r.t. lm and am (in the compute dtype) of sum(px_grad * px + py_grad * py),
// given the saved tensors of _smoothed_arc_logprobs_forward. Not itself differentiable.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> _smoothed_arc_logprobs_backward(
    const at::Tensor& px_grad, const at::Tensor& py_grad, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale, double am_only_scale,
    const at::Tensor& lm_rows, const at::Tensor& am_probs, const at::Tensor& sums);
}  // namespace detail

}  // namespace fast_rnnt
