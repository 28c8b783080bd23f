#pragma once
// Pruned RNN-T: a cheap loss with an additive joiner (rnnt_loss_simple / rnnt_loss_smoothed with
// return_grad) yields arc occupancies; from them get_rnnt_prune_ranges picks, for every frame, a
// window of s_range consecutive symbol positions; do_rnnt_pruning gathers the encoder and
// decoder outputs of those windows, the real joiner runs on (B, T, s_range, D) only, and
// rnnt_loss_pruned scores its (B, T, s_range, C) logits on the full lattice, every arc outside
// the windows having weight -inf.
//
// Common notation. B sequences, T frames, S symbol positions (symbols (B, S) int64, padded),
// C classes. boundary: optional (B, 4) int64 rows (s_begin, t_begin, s_end, t_end), default
// (0, 0, S, T); only s_end (the sequence's symbol count S_b) and t_end (its frame count T_b) are
// used here besides being passed to the recursion. rnnt_type is one of
//   "regular":     px (B, S, T+1); any number of symbols per frame;
//   "modified":    px (B, S, T);   a symbol arc also advances the frame (at most one symbol per
//                  frame);
//   "constrained": as "modified" for the lattice, but a symbol arc also pays the blank that
//                  leaves its frame: px[b,s,t] += py[b,s+1,t].
// All functions are registered ops (torch.ops.fast_rnnt.<name>) built from ATen ops, the
// arc_logprobs leaf and the recursion at CompositeImplicitAutograd, so autograd, fake tensors and
// TorchScript behave identically from Python and C++. Shapes, dtypes, devices and options are
// checked on every call; the values of ranges and boundary only for plain CPU tensors (on CUDA
// that would cost a host sync per call, and fake tensors have no values).
#include <ATen/ATen.h>

#include <optional>
#include <string_view>
#include <tuple>

#include "fast_rnnt/macros.h"

namespace fast_rnnt {

// Per-frame windows of s_range consecutive symbol positions, from the arc occupancies of a cheap
// loss (its px_grad, py_grad; the recursion's gradients).
//
//   px_grad:  (B, S, T+1) (regular) or (B, S, T) (modified / constrained; told apart by shape).
//   py_grad:  (B, S+1, T), same dtype and device.
//   boundary: optional (B, 4) int64, as above.
//   s_range:  the window width, 1 <= s_range <= S+1, and s_range >= min(2, S+1) for the regular
//             lattice (a window of one position there admits no path).
//
// Returns ranges (B, T, s_range) int64 with ranges[b,t,k] = s_begin[b,t] + k, where:
//   1. score[b,s,t] = sum_{k<s_range} py_grad[b,s+k,t] - (s > 0 ? px_grad[b,s-1,t] : 0) for
//      s = 0..S+1-s_range (blank mass leaving frame t inside the window minus symbol mass entering
//      it from below); s_begin[b,t] = the first s maximizing it.
//   2. Frames t >= t_end-1 of each sequence take max(0, s_end - s_range + 1), so that the last
//      real frame's window ends at the last symbol.
//   3. Lower-bound adjustment with step r = s_range (regular) or 2 (modified / constrained):
//      s_begin[t] <- min_{t' >= t} s_begin[t'] (non-decreasing); then
//      s_begin[t] <- min((r-1)*t, max_{t' >= t} (s_begin[t'] - (r-1)*(t'-t))), which starts the
//      first frame at 0 and bounds every step by r-1 while keeping the order.
// So every row starts at 0, never decreases, steps by less than r, stays within [0, S], and the
// last real frame reaches s_end whenever s_end - s_range + 1 <= (r-1)*(t_end-1).
//
// Width: the output's width is s_range itself, as given (an op's output shape may not depend on
// a clamp it decides); a width outside the range above throws. The Python wrapper
// fast_rnnt.get_rnnt_prune_ranges reduces s_range > S+1 to S+1 with a warning first, as k2 does.
// Not differentiable (the ranges are integers).
FAST_RNNT_API at::Tensor get_rnnt_prune_ranges(const at::Tensor& px_grad, const at::Tensor& py_grad,
                                               const std::optional<at::Tensor>& boundary,
                                               int64_t s_range);

// Gathers each frame's window of decoder outputs, and broadcasts the encoder output over it:
//   am: (B, T, D_am); lm: (B, S+1, D_lm) (the widths may differ); ranges: (B, T, s_range) int64,
//   ranges[b,t,k] = ranges[b,t,0] + k, values in [0, S].
// Returns (am_pruned (B, T, s_range, D_am), lm_pruned (B, T, s_range, D_lm)):
// am_pruned[b,t,k] = am[b,t] (an expanded view of am, no copy), lm_pruned[b,t,k] =
// lm[b, ranges[b,t,k]]. Differentiable w.r.t. am and lm.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> do_rnnt_pruning(const at::Tensor& am,
                                                                 const at::Tensor& lm,
                                                                 const at::Tensor& ranges);

// The px, py of the recursion from pruned joiner logits.
//
//   logits:  (B, T, s_range, C) float (float32, float64, float16, bfloat16); logits[b,t,k] is the
//            joiner output at frame t and symbol position ranges[b,t,k].
//   symbols: (B, S) int64 in [0, C) (padding positions too).
//   ranges:  (B, T, s_range) int64, ranges[b,t,k] = ranges[b,t,0] + k, values in [0, S]
//            (as get_rnnt_prune_ranges returns); 1 <= s_range <= S+1, >= min(2, S+1) regular.
//   termination_symbol: the blank, in [0, C).
//   boundary: optional (B, 4) int64.
//   use_hat_loss: HAT factorization (requires termination_symbol == 0), see arc_logprobs.
//
// With sym = symbols padded by termination_symbol at position S, and per row of logits
// lse = logsumexp_c logits[b,t,k,c]:
//   a[b,t,k] = logits[b,t,k, sym[ranges[b,t,k]]] - lse    (HAT: see arc_logprobs)
//   e[b,t,k] = logits[b,t,k, termination_symbol] - lse
//   py[b, ranges[b,t,k], t] = e[b,t,k];      px[b, ranges[b,t,k], t] = a[b,t,k] (for ranges < S)
// and -inf everywhere else: positions outside frame t's window, px[b,:,T] (regular) and, for a
// regular lattice with a boundary, px[b,:,t_end]. "constrained" then adds py[b,s+1,t] to
// px[b,s,t]. Returns (px, py): px (B, S, T+1) regular or (B, S, T) otherwise, py (B, S+1, T);
// float32 for float32/16-bit logits, float64 for float64. Differentiable w.r.t. logits.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> get_rnnt_logprobs_pruned(
    const at::Tensor& logits, const at::Tensor& symbols, const at::Tensor& ranges,
    int64_t termination_symbol, const std::optional<at::Tensor>& boundary = std::nullopt,
    std::string_view rnnt_type = "regular", bool use_hat_loss = false);

// The RNN-T loss on pruned logits: -mutual_information_recursion(px, py, boundary) with px, py
// from get_rnnt_logprobs_pruned, and, when delay_penalty > 0, px[b,s,t] +=
// delay_penalty * ((t_end[b] - 1) / 2 - t) (t_end defaults to T), which favours early emission.
// reduction: "none" (B,), "mean" or "sum" (scalar). fastemit_lambda >= 0: FastEmit as in
// rnnt_loss.h, on the symbol log-probabilities a[b,t,k] (the loss is unchanged, their gradient is
// multiplied by 1 + fastemit_lambda, the blanks' e[b,t,k] keep theirs). With s_range = S+1
// (nothing pruned) it equals rnnt_loss on the same joiner outputs, gradients included.
// Differentiable w.r.t. logits.
FAST_RNNT_API at::Tensor rnnt_loss_pruned(
    const at::Tensor& logits, const at::Tensor& symbols, const at::Tensor& ranges,
    int64_t termination_symbol, const std::optional<at::Tensor>& boundary = std::nullopt,
    std::string_view rnnt_type = "regular", double delay_penalty = 0.0,
    std::string_view reduction = "mean", bool use_hat_loss = false, double fastemit_lambda = 0.0);

}  // namespace fast_rnnt
