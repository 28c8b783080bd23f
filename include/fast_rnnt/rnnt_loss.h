#pragma once
// Transducer (RNN-T) losses: the simple loss (joiner = lm + am), its smoothed variant and the
// full loss over joiner logits, with the functions that reduce each to the (px, py) arc weights
// of mutual_information_recursion. Semantics follow k2 (k2/python/k2/rnnt_loss.py).
//
// Common arguments:
//   symbols:            (B, S) int64, every value in [0, C).
//   termination_symbol: the blank / next-frame symbol, in [0, C).
//   boundary:           optional (B, 4) int64 rows (s_begin, t_begin, s_end, t_end), default
//                       (0, 0, S, T); usually (0, 0, S_b, T_b) for sequence lengths S_b, T_b.
//   rnnt_type:          "regular"     any number of symbols per frame; the blank moves
//                                     to the next frame; px is (B, S, T+1) with px[b, :, T] and
//                                     px[b, :, t_end_b] = -inf (no symbol after the last frame).
//                       "modified"    at most one symbol per frame, emitting a symbol also moves
//                                     to the next frame; px is (B, S, T); requires T >= S.
//                       "constrained" as "modified", but emitting a symbol also scores the blank
//                                     that leaves the next cell: px[b,s,t] += py[b,s+1,t].
//   delay_penalty:      when > 0, px[b, s, t] += delay_penalty * ((T_b - 1) / 2 - t), where T_b
//                       is t_end of the boundary (or T); ignored otherwise (as k2).
//   reduction:          "none" (B,), "mean" or "sum" (scalars) of the per-sequence losses
//                       -scores[b].
//   fastemit_lambda:    FastEmit (Yu et al. 2021, arXiv 2010.11148) as NeMo and warp-rnnt
//                       define it; finite and >= 0, default 0 (off). The loss value is
//                       unchanged, bit for bit. The gradient that reaches every per-cell symbol
//                       log-probability logp[b, s, t, symbols[b, s]] is multiplied by
//                       1 + fastemit_lambda, and that of every blank log-probability is
//                       unchanged; per cell, through the log-softmax:
//                         grad logits[c] = -(1 + fastemit_lambda) * o_sym * ([c == symbol] - p[c])
//                                          - o_blank * ([c == blank] - p[c])
//                       with o the arc occupancies. "constrained", whose symbol arc also scores
//                       the blank of the next cell, scales only its symbol part, so that the
//                       rule holds per log-probability on every lattice. delay_penalty (a
//                       constant on px) and HAT compose with it. The occupancies that the
//                       *_with_grad functions return describe the lattice: they do not depend
//                       on fastemit_lambda.
// Errors (c10::Error) name the function, the argument, what was expected and what arrived: bad
// shapes, dtypes, devices, rnnt_type, reduction, termination_symbol, symbol values (one host
// sync) and modified with T < S.
//
// All functions are ops of the fast_rnnt library (torch.ops.fast_rnnt.<name>) built from ATen
// ops, arc_logprobs and mutual_information, so they are differentiable, traceable and
// TorchScript-able; the ones here call them through the dispatcher.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>

#include "fast_rnnt/macros.h"

namespace fast_rnnt {

// Arc log-probabilities of the simple loss, whose joiner is addition:
//   logp[b, s, t, :] = log_softmax(lm[b, s, :] + am[b, t, :])
// computed without any (B, S+1, T, C) tensor: the normalizer is a (B, S+1, T) matmul of
// max-shifted exponentials.
//   lm: (B, S+1, C) float; am: (B, T, C), same dtype and device.
// Returns (px, py): px[b, s, t] = logp[b, s, t, symbols[b, s]] as (B, S, T+1) (regular) or
// (B, S, T) (modified, constrained; see rnnt_type above), py[b, s, t] = logp[b, s, t, blank]
// as (B, S+1, T); dtype of lm.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> get_rnnt_logprobs(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, std::string_view rnnt_type = "regular",
    const std::optional<at::Tensor>& boundary = std::nullopt);

// The simple RNN-T loss: -mutual_information_recursion(px, py, boundary) of get_rnnt_logprobs
// (plus delay_penalty), reduced. Returns (B,) for "none", else a scalar; dtype of lm.
FAST_RNNT_API at::Tensor rnnt_loss_simple(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, const std::optional<at::Tensor>& boundary = std::nullopt,
    std::string_view rnnt_type = "regular", double delay_penalty = 0.0,
    std::string_view reduction = "mean", double fastemit_lambda = 0.0);

// As rnnt_loss_simple, and the gradients of the unreduced scores' sum w.r.t. px and py (the arc
// occupancies, independent of reduction; shapes of px and py, not differentiable). Returns
// (loss, px_grad, py_grad); loss is differentiable.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor, at::Tensor> rnnt_loss_simple_with_grad(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, const std::optional<at::Tensor>& boundary = std::nullopt,
    std::string_view rnnt_type = "regular", double delay_penalty = 0.0,
    std::string_view reduction = "mean", double fastemit_lambda = 0.0);

// Arc log-probabilities of the smoothed simple loss: per cell and class, the interpolation
//   (1 - lm_only_scale - am_only_scale) * logp_joint + lm_only_scale * logp_lm
//     + am_only_scale * logp_am
// of the joint log-softmax (as get_rnnt_logprobs), the LM-only log_softmax(lm[b, s]) and the
// AM-only log_softmax(am[b, t] + log(unigram)), where unigram (C,) is the mean of
// softmax(lm[b, s]) over all b and s (padding included) plus the smallest normal float. A zero
// scale counts as 1e-20. Shapes and placement as get_rnnt_logprobs.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> get_rnnt_logprobs_smoothed(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale = 0.1, double am_only_scale = 0.1,
    const std::optional<at::Tensor>& boundary = std::nullopt,
    std::string_view rnnt_type = "regular");

// The smoothed simple loss: as rnnt_loss_simple over get_rnnt_logprobs_smoothed.
FAST_RNNT_API at::Tensor rnnt_loss_smoothed(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale = 0.1, double am_only_scale = 0.1,
    const std::optional<at::Tensor>& boundary = std::nullopt,
    std::string_view rnnt_type = "regular", double delay_penalty = 0.0,
    std::string_view reduction = "mean", double fastemit_lambda = 0.0);

// As rnnt_loss_smoothed, and (px_grad, py_grad) as rnnt_loss_simple_with_grad.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor, at::Tensor> rnnt_loss_smoothed_with_grad(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale = 0.1, double am_only_scale = 0.1,
    const std::optional<at::Tensor>& boundary = std::nullopt,
    std::string_view rnnt_type = "regular", double delay_penalty = 0.0,
    std::string_view reduction = "mean", double fastemit_lambda = 0.0);

// Arc log-probabilities of the full loss from joiner logits (B, T, S+1, C) (float32, float64,
// float16 or bfloat16): logp[b, s, t, :] = log_softmax(logits[b, t, s, :]), read by
// arc_logprobs (one pass, no log-softmax of the logits' size). Placement as get_rnnt_logprobs;
// px, py are float64 for float64 logits and float32 otherwise.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> get_rnnt_logprobs_joint(
    const at::Tensor& logits, const at::Tensor& symbols, int64_t termination_symbol,
    std::string_view rnnt_type = "regular",
    const std::optional<at::Tensor>& boundary = std::nullopt);

// The full RNN-T loss over joiner logits (B, T, S+1, C): as rnnt_loss_simple over
// get_rnnt_logprobs_joint. Differentiable w.r.t. logits; the gradient is written in one pass in
// the dtype of logits. Returns (B,) or a scalar, float64 for float64 logits, else float32.
FAST_RNNT_API at::Tensor rnnt_loss(const at::Tensor& logits, const at::Tensor& symbols,
                                   int64_t termination_symbol,
                                   const std::optional<at::Tensor>& boundary = std::nullopt,
                                   std::string_view rnnt_type = "regular",
                                   double delay_penalty = 0.0,
                                   std::string_view reduction = "mean",
                                   double fastemit_lambda = 0.0);

}  // namespace fast_rnnt
