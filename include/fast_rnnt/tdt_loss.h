#pragma once
// The duration-lattice transducer losses over joiner logits: TDT (token-and-duration transducer,
// Xu et al. 2023, arXiv 2304.06795) and multi-blank RNN-T (Xu et al. 2022, arXiv 2211.03541),
// with NeMo's conventions (TDTLossPytorch, MultiblankRNNTLossPytorch). Both are composites over
// the leaf ops of duration_lattice.h: one fused pass over the logits (arc weights), the duration
// recursion, the reduction.
//
// Common arguments (as rnnt_loss.h):
//   symbols:            (B, S) int64, every value in [0, C) (C: number of token logits).
//   termination_symbol: the blank, in [0, C).
//   boundary:           optional (B, 4) int64 rows (s_begin, t_begin, s_end, t_end), default
//                       (0, 0, S, T); k2 semantics (absolute frame and symbol indices).
//   sigma:              logit under-normalization: subtracted from every token log-probability.
//   fastemit_lambda:    FastEmit (Yu et al. 2021), >= 0: the loss value is unchanged and the
//                       gradient reaching every symbol (non-blank) arc's log-probability is
//                       multiplied by 1 + fastemit_lambda (for TDT: the whole arc, token and
//                       duration log-probability; NeMo scales the token part only).
//   reduction:          "none" (B,), "mean" or "sum" of the per-sequence losses -scores[b].
// The lattice: nodes (t, s); no arc passes the sequence's last frame, and the final node
// (t_end, s_end) is entered only by a blank arc; the loss is -log of the total probability of
// reaching it from (t_begin, s_begin).
// Errors (c10::Error) name the function, the argument, what was expected and what arrived.
// Returns (B,) or a scalar, float64 for float64 logits, else float32; differentiable w.r.t.
// logits, whose gradient is written in one pass in their dtype.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "fast_rnnt/macros.h"

namespace fast_rnnt {

// TDT loss. logits: (B, T, S+1, C + D) with D = len(durations): C token logits (the blank is
// termination_symbol), then D duration logits (NeMo's joint layout). durations: distinct,
// ascending, non-negative, starting 0, 1 (NeMo's rule).
//   token(t, s, c) = log_softmax(logits[b, t, s, :C])[c] - sigma,
//   duration(t, s, i) = log_softmax(logits[b, t, s, C:])[i].
// Arcs from (t, s): symbol symbols[b, s] with duration durations[i] (0 allowed) to
// (t + durations[i], s + 1), weight token(t, s, symbols[b, s]) + duration(t, s, i); blank with
// duration durations[i] >= 1 to (t + durations[i], s), weight token(t, s, blank) + duration(t, s, i).
// omega (NeMo's): with probability omega, drawn once per call from torch's default CPU
// generator, the call computes the standard RNN-T loss of the token logits instead (durations
// ignored, no sigma; fastemit_lambda still applies). omega = 0 (the default) never draws.
FAST_RNNT_API at::Tensor tdt_loss(const at::Tensor& logits, const at::Tensor& symbols,
                                  int64_t termination_symbol, at::IntArrayRef durations,
                                  const std::optional<at::Tensor>& boundary = std::nullopt,
                                  double sigma = 0.0, double omega = 0.0,
                                  double fastemit_lambda = 0.0,
                                  std::string_view reduction = "mean");

// Multi-blank RNN-T loss. logits: (B, T, S+1, C). The standard blank (duration 1) is
// termination_symbol; big blank i, of duration big_blank_durations[i] > 1, is the token
// termination_symbol - 1 - i (which must be >= 0). token(t, s, c) = log_softmax(logits[b, t, s])[c]
// - sigma. Arcs from (t, s): symbol symbols[b, s] to (t, s + 1); blank to (t + 1, s); big blank i
// to (t + big_blank_durations[i], s). With no big blanks (and sigma = 0) this is rnnt_loss.
FAST_RNNT_API at::Tensor multiblank_rnnt_loss(
    const at::Tensor& logits, const at::Tensor& symbols, int64_t termination_symbol,
    at::IntArrayRef big_blank_durations, const std::optional<at::Tensor>& boundary = std::nullopt,
    double sigma = 0.0, double fastemit_lambda = 0.0, std::string_view reduction = "mean");

}  // namespace fast_rnnt
