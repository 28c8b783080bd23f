"""The fused reads under the losses: of joiner logits (full and pruned RNN-T losses), and of
separate LM and AM scores (the simple and smoothed losses)."""

from typing import Tuple

import torch
from torch import Tensor


def arc_logprobs(
    logits: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    use_hat_loss: bool = False,
) -> Tuple[Tensor, Tensor]:
    r"""Log-probabilities of the symbol and blank arcs of each lattice cell, from joiner logits,
    in one pass and without materializing a log-softmax of the logits' size.

    Per row ``x = logits[b, t, k, :]`` and ``v = symbols[b, t, k]``::

        default: symbol_logprobs = x[v] - logsumexp(x)
                 blank_logprobs  = x[termination_symbol] - logsumexp(x)
        HAT:     symbol_logprobs = x[v] - logsumexp(x[1:]) + logsigmoid(-x[0])
                 blank_logprobs  = logsigmoid(x[0])

    Args:
        logits: (B, T, K, C) float32, float64, float16 or bfloat16 joiner output (any strides;
            a contiguous last dimension is the fast path).
        symbols: (B, T, K) int64, values in ``[0, C)``; may be an expanded view (stride 0),
            e.g. ``symbols[:, None, :].expand(B, T, K)``.
        termination_symbol: the blank, in ``[0, C)``; must be 0 when ``use_hat_loss``.
        use_hat_loss: use the HAT factorization of blank and non-blank probabilities.

    Returns:
        ``(symbol_logprobs, blank_logprobs)``, each (B, T, K), float64 for float64 logits and
        float32 otherwise. Differentiable w.r.t. ``logits``; the gradient is written in one pass
        in the dtype of ``logits``.

    Raises:
        RuntimeError: on bad shapes, dtypes, devices, ``termination_symbol`` or symbol values.
    """
    return torch.ops.fast_rnnt.arc_logprobs(logits, symbols, termination_symbol, use_hat_loss)


def smoothed_arc_logprobs(
    lm: Tensor,
    am: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    lm_only_scale: float = 0.0,
    am_only_scale: float = 0.0,
) -> Tuple[Tensor, Tensor]:
    r"""Log-probabilities of the symbol and blank arcs of each lattice cell, from separate LM and
    AM scores, interpolated between the joint, LM-only and AM-only models (the cells of
    ``rnnt_loss_simple`` and ``rnnt_loss_smoothed`` before their placement on the lattice).

    With ``y = symbols[b, s]`` (px) or the blank (py), ``j = 1 - l - a``::

        logprob[b, s, t] = j * log_softmax(lm[b, s] + am[b, t])[y]
                         + l * log_softmax(lm[b, s])[y]
                         + a * log_softmax(am[b, t] + log(unigram))[y]

    where ``unigram`` is the mean of ``softmax(lm[b, s])`` over all ``B * (S+1)`` rows; a term whose
    scale is exactly 0 is left out (``l = a = 0`` is the simple loss). One batched matrix product
    gives every joint normalizer; nothing of size (B, S+1, T, C) is made.

    Args:
        lm: (B, S+1, C) float32, float64, float16 or bfloat16 LM (decoder) scores.
        am: (B, T, C) AM (encoder) scores, same dtype and device as ``lm``.
        symbols: (B, S) int64, values in ``[0, C)``.
        termination_symbol: the blank, in ``[0, C)``.
        lm_only_scale: ``l``, the weight of the LM-only model.
        am_only_scale: ``a``, the weight of the AM-only (unigram-LM) model.

    Returns:
        ``(px, py)``: px (B, S, T) for the symbols, py (B, S+1, T) for the blank, contiguous, in
        the dtype of ``lm`` (16-bit inputs are computed in float32). Differentiable w.r.t. ``lm``
        and ``am``; the backward reuses the forward's product.

    Raises:
        RuntimeError: on bad shapes, dtypes, devices, scales, ``termination_symbol`` or symbol
            values.
    """
    return torch.ops.fast_rnnt.smoothed_arc_logprobs(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale)
