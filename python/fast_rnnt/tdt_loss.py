"""Duration-lattice transducer losses, as ``torch.ops.fast_rnnt`` ops: TDT (token-and-duration
transducer, Xu et al. 2023) and multi-blank RNN-T (Xu et al. 2022), with NeMo's conventions, and
their two leaf ops.

The lattice: nodes ``(t, s)``; symbol arcs ``(t, s) -> (t + d, s + 1)``, blank arcs
``(t, s) -> (t + d, s)`` with ``d >= 1``. No arc passes the sequence's last frame and only a blank
arc enters the final node ``(t_end, s_end)``; the loss is ``-log`` of the total probability of
reaching it from ``(t_begin, s_begin)``.

Common arguments:

- ``symbols``: (B, S) int64, values in ``[0, C)`` (C: the number of token logits).
- ``termination_symbol``: the blank, in ``[0, C)``.
- ``boundary``: optional (B, 4) int64 rows ``(s_begin, t_begin, s_end, t_end)``, default
  ``(0, 0, S, T)`` (k2 semantics: absolute frame and symbol indices).
- ``sigma``: logit under-normalization, subtracted from every token log-probability.
- ``fastemit_lambda``: FastEmit (Yu et al. 2021), ``>= 0``: the loss value is unchanged and the
  gradient reaching every symbol (non-blank) arc's log-probability is multiplied by
  ``1 + fastemit_lambda``. For TDT that is the whole symbol arc (token and duration
  log-probability); NeMo scales only its token part.
- ``reduction``: ``"none"`` (B,), ``"mean"`` or ``"sum"`` of the per-sequence losses.

Errors (RuntimeError) name the function, the argument, the expected and the actual value.
"""

from typing import List, Optional, Tuple

import torch
from torch import Tensor


def tdt_loss(
    logits: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    durations: List[int],
    boundary: Optional[Tensor] = None,
    sigma: float = 0.0,
    omega: float = 0.0,
    fastemit_lambda: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    r"""The TDT loss over joiner logits, with NeMo's joint layout (``TDTLossPytorch``).

    With ``D = len(durations)`` and ``C = logits.size(3) - D`` token logits::

        token(t, s, c)    = log_softmax(logits[b, t, s, :C])[c] - sigma
        duration(t, s, i) = log_softmax(logits[b, t, s, C:])[i]

    From node ``(t, s)``: symbol ``symbols[b, s]`` with duration ``durations[i]`` (0 allowed) to
    ``(t + durations[i], s + 1)``, weight ``token(t, s, symbols[b, s]) + duration(t, s, i)``;
    blank with duration ``durations[i] >= 1`` to ``(t + durations[i], s)``, weight
    ``token(t, s, blank) + duration(t, s, i)``. One fused pass reads the logits (no log-softmax
    of their size); the gradient is written in one pass in their dtype.

    ``omega`` follows NeMo: with probability ``omega``, drawn once per call from torch's default
    CPU generator (``torch.manual_seed`` makes it reproducible), the call computes the standard
    RNN-T loss of the token logits instead (durations ignored, no ``sigma``;
    ``fastemit_lambda`` still applies). The default 0 never draws.

    Args:
        logits: (B, T, S+1, C + D) float32, float64, float16 or bfloat16.
        symbols: (B, S) int64, values in ``[0, C)``.
        termination_symbol: the blank, in ``[0, C)``.
        durations: distinct ascending non-negative ints starting ``0, 1`` (NeMo's rule),
            ``len(durations) < logits.size(3)``.
        boundary: optional (B, 4) int64.
        sigma: see the module docstring.
        omega: in ``[0, 1]``, see above.
        fastemit_lambda: see the module docstring.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss, (B,) for ``"none"`` else a scalar; float64 for float64 logits, else float32.
    """
    return torch.ops.fast_rnnt.tdt_loss(
        logits, symbols, termination_symbol, durations, boundary, sigma, omega, fastemit_lambda,
        reduction,
    )


def multiblank_rnnt_loss(
    logits: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    big_blank_durations: List[int],
    boundary: Optional[Tensor] = None,
    sigma: float = 0.0,
    fastemit_lambda: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    r"""The multi-blank RNN-T loss over joiner logits (NeMo's ``MultiblankRNNTLossPytorch``).

    ``token(t, s, c) = log_softmax(logits[b, t, s])[c] - sigma``. From node ``(t, s)``: symbol
    ``symbols[b, s]`` to ``(t, s + 1)``; the blank ``termination_symbol`` to ``(t + 1, s)``; big
    blank ``i``, the token ``termination_symbol - 1 - i``, to
    ``(t + big_blank_durations[i], s)``. With no big blanks and ``sigma = 0`` this is
    :func:`fast_rnnt.rnnt_loss`. Fused as :func:`tdt_loss`.

    Args:
        logits: (B, T, S+1, C) float32, float64, float16 or bfloat16.
        symbols: (B, S) int64, values in ``[0, C)``.
        termination_symbol: the blank, in ``[0, C)``; at least ``len(big_blank_durations)``.
        big_blank_durations: durations ``> 1`` of the big blanks.
        boundary: optional (B, 4) int64.
        sigma: see the module docstring.
        fastemit_lambda: see the module docstring.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        The loss, (B,) for ``"none"`` else a scalar; float64 for float64 logits, else float32.
    """
    return torch.ops.fast_rnnt.multiblank_rnnt_loss(
        logits, symbols, termination_symbol, big_blank_durations, boundary, sigma,
        fastemit_lambda, reduction,
    )


def duration_lattice(
    symbol_w: Tensor,
    blank_w: Tensor,
    symbol_durations: List[int],
    blank_durations: List[int],
    boundary: Optional[Tensor] = None,
    fastemit_lambda: float = 0.0,
) -> Tensor:
    r"""Log-domain forward recursion over a duration lattice, the leaf under both losses.

    ``symbol_w[b, t, s, i]`` weighs the arc ``(t, s) -> (t + symbol_durations[i], s + 1)``,
    ``blank_w[b, t, s, j]`` the arc ``(t, s) -> (t + blank_durations[j], s)``; nodes and arcs as
    in the module docstring. With ``alpha(t_begin, s_begin) = 0`` and
    ``alpha(n) = logsumexp over arcs (m -> n) of alpha(m) + weight``, returns
    ``alpha(t_end, s_end)``. The gradient w.r.t. each weight is the arc's occupancy (symbol arcs
    times ``1 + fastemit_lambda``); unreachable lattices get zero gradients.

    Args:
        symbol_w: (B, T, S+1, Ns) float32 or float64 (row ``s = S`` unused).
        blank_w: (B, T, S+1, Nb), same dtype and device.
        symbol_durations: Ns ints ``>= 0``.
        blank_durations: Nb ints ``>= 1``.
        boundary: optional (B, 4) int64.
        fastemit_lambda: ``>= 0``, gradient only.

    Returns:
        scores (B,), dtype of the weights.
    """
    return torch.ops.fast_rnnt.duration_lattice(
        symbol_w, blank_w, symbol_durations, blank_durations, boundary, fastemit_lambda
    )


def duration_arc_logprobs(
    logits: Tensor,
    symbols: Tensor,
    blanks: List[int],
    num_durations: int,
    sigma: float = 0.0,
) -> Tuple[Tensor, Tensor]:
    r"""Arc weights of a duration lattice from joiner logits, one fused pass per row.

    With ``D = num_durations``, ``C = logits.size(3) - D``, per row ``x``, ``v = symbols[b, t, k]``,
    ``tok(c) = x[c] - logsumexp(x[:C]) - sigma`` and ``dur(i) = x[C + i] - logsumexp(x[C:])``::

        D == 0: symbol_logprobs (B, T, K, 1) = tok(v)
                blank_logprobs (B, T, K, len(blanks))[j] = tok(blanks[j])
        D > 0:  symbol_logprobs (B, T, K, D)[i] = tok(v) + dur(i)
                blank_logprobs (B, T, K, D-1)[j] = tok(blanks[0]) + dur(j + 1)

    Args:
        logits: (B, T, K, C + D) float32, float64, float16 or bfloat16.
        symbols: (B, T, K) int64, values in ``[0, C)``; may be an expanded view.
        blanks: token indices in ``[0, C)``; exactly one when ``D > 0``.
        num_durations: D, 0 or at least 2 (the first duration logit is duration 0).
        sigma: subtracted from every token log-probability.

    Returns:
        ``(symbol_logprobs, blank_logprobs)``, float64 for float64 logits, else float32.
        Differentiable w.r.t. ``logits``.
    """
    return torch.ops.fast_rnnt.duration_arc_logprobs(logits, symbols, blanks, num_durations, sigma)
