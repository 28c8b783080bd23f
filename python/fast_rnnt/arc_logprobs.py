"""The fused read of joiner logits under the full and pruned RNN-T losses."""

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
