#pragma once
// The two leaf ops of the duration-lattice losses (TDT, multi-blank; see tdt_loss.h): the
// recursion over a lattice whose arcs may skip frames, and the fused read of joiner logits that
// gives its arc weights.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <tuple>

#include "fast_rnnt/macros.h"

namespace fast_rnnt {

// Log-domain forward recursion over a "duration lattice".
//
//   symbol_w:         (B, T, S+1, Ns) float32 or float64: symbol_w[b, t, s, i] is the weight of
//                     the symbol arc (t, s) -> (t + symbol_durations[i], s + 1); row s = S unused.
//   blank_w:          (B, T, S+1, Nb), same dtype and device: blank_w[b, t, s, j] is the weight
//                     of the blank arc (t, s) -> (t + blank_durations[j], s).
//   symbol_durations: Ns values >= 0 (0: the symbol does not advance the frame).
//   blank_durations:  Nb values >= 1.
//   boundary:         optional (B, 4) int64 rows (s_begin, t_begin, s_end, t_end), default
//                     (0, 0, S, T); symbols and frames are absolute indices (k2 semantics).
//   fastemit_lambda:  >= 0; changes only the gradient (see below).
//
// Nodes (t, s) with t_begin <= t <= t_end, s_begin <= s <= s_end. No arc passes the last frame:
// a symbol arc must end at t + d <= t_end - 1, a blank arc at t + d <= t_end - 1 or at the final
// node (t_end, s_end), which therefore only a blank arc enters. With alpha(t_begin, s_begin) = 0,
//   alpha(n) = log sum over the arcs a = (m -> n) of exp(alpha(m) + weight(a))   (-inf if none)
// and scores[b] = alpha(t_end, s_end) (0 when the start is the final node). Returns (B,), dtype
// of the weights.
//
// Gradient: d scores[b] / d weight(a) is the occupancy of arc a (the posterior probability that
// a path takes it); unreachable lattices (scores -inf) get zero gradients. With fastemit_lambda
// the gradient of every symbol arc is multiplied by (1 + fastemit_lambda) (FastEmit, Yu et al.
// 2021); the value is unchanged.
//
// Numerics: values are stored per anti-diagonal wave t + s relative to a per-wave offset kept in
// double, and the backward splits each node's occupancy among its incoming arcs with shares that
// sum to the node's occupancy exactly, so float32 stays accurate for T in the thousands.
FAST_RNNT_API at::Tensor duration_lattice(const at::Tensor& symbol_w, const at::Tensor& blank_w,
                                          at::IntArrayRef symbol_durations,
                                          at::IntArrayRef blank_durations,
                                          const std::optional<at::Tensor>& boundary = std::nullopt,
                                          double fastemit_lambda = 0.0);

// Arc weights of a duration lattice from un-normalized joiner logits, in one pass per row.
//
//   logits:        (B, T, K, C + D) float32, float64, float16 or bfloat16: C token logits, then
//                  D = num_durations duration logits (TDT; D = 0 for multi-blank).
//   symbols:       (B, T, K) int64 in [0, C); may be an expanded view with zero strides.
//   blanks:        token indices in [0, C): multi-blank: the blank and the big blanks; TDT:
//                  exactly one, the blank.
//   num_durations: D; when > 0 the duration logits are read as durations [0, d_1, ..., d_{D-1}]
//                  with d_i >= 1 (the first duration is 0, as the TDT loss requires).
//   sigma:         logit under-normalization, subtracted from every token log-probability.
//
// Per row x, v = symbols[b, t, k], tok(c) = x[c] - logsumexp(x[0:C]) - sigma and, for D > 0,
// dur(i) = x[C+i] - logsumexp(x[C:C+D]):
//   D == 0: symbol_logprobs (B, T, K, 1) = tok(v),  blank_logprobs (B, T, K, len(blanks))[j] =
//           tok(blanks[j]);
//   D > 0:  symbol_logprobs (B, T, K, D)[i] = tok(v) + dur(i),  blank_logprobs (B, T, K, D-1)[j]
//           = tok(blanks[0]) + dur(j + 1).
// Float64 for float64 logits, float32 otherwise; a row whose token logits are all -inf gives -inf.
// Differentiable w.r.t. logits (first order); the gradient is written in one pass, in the dtype
// of logits, and memory beyond the inputs is grad_logits + O(B*T*K*(D + len(blanks))).
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> duration_arc_logprobs(
    const at::Tensor& logits, const at::Tensor& symbols, at::IntArrayRef blanks,
    int64_t num_durations, double sigma = 0.0);

namespace detail {
// Gradients of duration_lattice w.r.t. symbol_w and blank_w, scaled by ans_grad (B,) (symbol
// arcs also by 1 + fastemit_lambda). Shapes of the weights, contiguous.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> _duration_lattice_backward(
    const at::Tensor& symbol_w, const at::Tensor& blank_w, at::IntArrayRef symbol_durations,
    at::IntArrayRef blank_durations, const std::optional<at::Tensor>& boundary,
    const at::Tensor& ans_grad, double fastemit_lambda);

// duration_arc_logprobs, also returning the per-row normalizers (B, T, K, 2): logsumexp of the
// token logits and of the duration logits (0 when D == 0).
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor, at::Tensor> _duration_arc_logprobs_forward(
    const at::Tensor& logits, const at::Tensor& symbols, at::IntArrayRef blanks,
    int64_t num_durations, double sigma);

// The gradient w.r.t. logits (dtype of logits, contiguous) of
// sum(symbol_grad * symbol_logprobs + blank_grad * blank_logprobs).
FAST_RNNT_API at::Tensor _duration_arc_logprobs_backward(
    const at::Tensor& logits, const at::Tensor& symbols, at::IntArrayRef blanks,
    int64_t num_durations, const at::Tensor& normalizer, const at::Tensor& symbol_grad,
    const at::Tensor& blank_grad);
}  // namespace detail

}  // namespace fast_rnnt
