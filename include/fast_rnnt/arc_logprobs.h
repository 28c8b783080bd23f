#pragma once
// The fused read of joiner logits: each row's log-normalizer and its symbol and blank entries in
// one pass, without materializing a log-softmax of the logits' size. The building block of
// rnnt_loss (K = S+1 rows per frame) and of the pruned losses (K = s_range).
#include <ATen/ATen.h>

#include <cstdint>
#include <tuple>

#include "fast_rnnt/macros.h"

namespace fast_rnnt {

// Log-probabilities of the two arcs leaving each lattice cell, from un-normalized joiner logits.
//
//   logits:             (B, T, K, C) float32, float64, float16 or bfloat16; any strides (a
//                       contiguous last dimension is the fast path).
//   symbols:            (B, T, K) int64, every value in [0, C); may be an expanded view with
//                       zero strides (e.g. symbols[:, None, :].expand(B, T, K)).
//   termination_symbol: the blank, in [0, C).
//   use_hat_loss:       HAT factorization (requires termination_symbol == 0 and C >= 2).
//
// Per row x = logits[b, t, k, :] and v = symbols[b, t, k]:
//   default: lse = logsumexp(x)
//            symbol_logprobs[b,t,k] = x[v] - lse,  blank_logprobs[b,t,k] = x[termination_symbol] - lse
//   HAT:     blank_logprobs[b,t,k]  = logsigmoid(x[0])
//            symbol_logprobs[b,t,k] = x[v] - logsumexp(x[1:]) + logsigmoid(-x[0])
//
// Returns (symbol_logprobs, blank_logprobs), each (B, T, K) contiguous, float64 for float64
// logits and float32 otherwise. Differentiable w.r.t. logits (first order); the gradient is
// written in one pass in the dtype of logits:
//   default: grad[c] = g_sym * [c == v] + g_blank * [c == blank] - (g_sym + g_blank) * softmax(x)[c]
// and peak memory of forward + backward is logits + grad_logits + O(B*T*K).
// Throws c10::Error on bad shapes, dtypes, devices, termination_symbol or symbol values (the
// last by one reduction and one host sync).
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor> arc_logprobs(const at::Tensor& logits,
                                                              const at::Tensor& symbols,
                                                              int64_t termination_symbol,
                                                              bool use_hat_loss = false);

namespace detail {
// The forward pass, also returning the per-row normalizer (B, T, K) (in the output dtype):
// logsumexp(x), or logsumexp(x[1:]) for HAT.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor, at::Tensor> _arc_logprobs_forward(
    const at::Tensor& logits, const at::Tensor& symbols, int64_t termination_symbol,
    bool use_hat_loss);

// The gradient w.r.t. logits, (B, T, K, C) contiguous in the dtype of logits, of
// sum(symbol_grad * symbol_logprobs + blank_grad * blank_logprobs), given the normalizer of
// _arc_logprobs_forward. Not itself differentiable.
FAST_RNNT_API at::Tensor _arc_logprobs_backward(const at::Tensor& logits, const at::Tensor& symbols,
                                                int64_t termination_symbol, bool use_hat_loss,
                                                const at::Tensor& normalizer,
                                                const at::Tensor& symbol_grad,
                                                const at::Tensor& blank_grad);
}  // namespace detail

}  // namespace fast_rnnt
