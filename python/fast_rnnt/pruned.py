"""Pruned RNN-T: prune ranges from a cheap loss's arc occupancies, pruning of the joiner inputs,
and the loss on the pruned joiner output. The definitions are in ``include/fast_rnnt/pruned.h``.
"""

import warnings
from typing import Optional, Tuple

import torch
from torch import Tensor


def get_rnnt_prune_ranges(
    px_grad: Tensor,
    py_grad: Tensor,
    boundary: Optional[Tensor],
    s_range: int,
) -> Tensor:
    r"""Per-frame windows of ``s_range`` consecutive symbol positions that keep most of the
    alignment probability, from the arc occupancies of a cheap loss.

    Args:
        px_grad: (B, S, T+1) for the regular lattice or (B, S, T) for the modified and
            constrained ones (told apart by the shape); float. The occupancies of the symbol
            arcs, e.g. from :func:`fast_rnnt.rnnt_loss_smoothed` with ``return_grad=True``.
        py_grad: (B, S+1, T), same dtype and device: the occupancies of the blank arcs.
        boundary: optional (B, 4) int64 rows ``(s_begin, t_begin, s_end, t_end)``; ``None``
            means ``(0, 0, S, T)`` for every sequence.
        s_range: the window width. Values above ``S+1`` are reduced to ``S+1`` (nothing is
            pruned) with a warning; the regular lattice needs at least ``min(2, S+1)``, the
            others at least 1.

    Returns:
        ranges: (B, T, s_range') int64 with ``s_range' = min(s_range, S+1)``, where
        ``ranges[b, t]`` is ``r, r+1, ..., r+s_range'-1``: starting at 0 on the first frame,
        non-decreasing in ``t``, within ``[0, S]``, reaching ``s_end`` on the last real frame.

    Raises:
        RuntimeError: on shapes, dtypes, devices or boundary values outside the above, or a
            too small ``s_range``.
    """
    S = px_grad.size(1)
    if s_range > S + 1:
        warnings.warn(
            f"get_rnnt_prune_ranges: s_range={s_range} is larger than S+1={S + 1}, the number of "
            f"symbol positions; using s_range={S + 1} (no pruning)",
            stacklevel=2,
        )
        s_range = S + 1
    return torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)


def do_rnnt_pruning(am: Tensor, lm: Tensor, ranges: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Gathers the joiner inputs of each frame's window of symbol positions.

    Args:
        am: (B, T, D_am) encoder output (projected for the joiner).
        lm: (B, S+1, D_lm) decoder output (projected for the joiner), same device; the
            widths may differ.
        ranges: (B, T, s_range) int64 from :func:`get_rnnt_prune_ranges`, values in ``[0, S]``.

    Returns:
        ``(am_pruned, lm_pruned)``, (B, T, s_range, D_am) and (B, T, s_range, D_lm):
        ``am_pruned`` is ``am`` broadcast
        over the window (an expanded view, no copy), ``lm_pruned[b, t, k] = lm[b,
        ranges[b, t, k]]``. Both differentiable w.r.t. their inputs.
    """
    am_pruned, lm_pruned = torch.ops.fast_rnnt.do_rnnt_pruning(am, lm, ranges)
    return am_pruned, lm_pruned


def get_rnnt_logprobs_pruned(
    logits: Tensor,
    symbols: Tensor,
    ranges: Tensor,
    termination_symbol: int,
    boundary: Optional[Tensor] = None,
    rnnt_type: str = "regular",
    use_hat_loss: bool = False,
) -> Tuple[Tensor, Tensor]:
    r"""The ``px``, ``py`` of :func:`fast_rnnt.mutual_information_recursion` from pruned joiner
    logits; every arc outside the windows gets ``-inf``.

    Args:
        logits: (B, T, s_range, C) float32, float64, float16 or bfloat16: the joiner output
            at frame ``t`` and symbol position ``ranges[b, t, k]``.
        symbols: (B, S) int64, values in ``[0, C)`` (padding included).
        ranges: (B, T, s_range) int64 from :func:`get_rnnt_prune_ranges`.
        termination_symbol: the blank, in ``[0, C)``.
        boundary: optional (B, 4) int64 rows ``(s_begin, t_begin, s_end, t_end)``.
        rnnt_type: ``"regular"``, ``"modified"`` or ``"constrained"``.
        use_hat_loss: HAT factorization of the output distribution (requires
            ``termination_symbol == 0``).

    Returns:
        ``(px, py)``: px (B, S, T+1) for ``"regular"`` or (B, S, T) otherwise, py (B, S+1, T);
        float64 for float64 logits, float32 otherwise. Differentiable w.r.t. ``logits``.
    """
    px, py = torch.ops.fast_rnnt.get_rnnt_logprobs_pruned(
        logits, symbols, ranges, termination_symbol, boundary, rnnt_type, use_hat_loss
    )
    return px, py


def rnnt_loss_pruned(
    logits: Tensor,
    symbols: Tensor,
    ranges: Tensor,
    termination_symbol: int,
    boundary: Optional[Tensor] = None,
    rnnt_type: str = "regular",
    delay_penalty: float = 0.0,
    reduction: str = "mean",
    use_hat_loss: bool = False,
    fastemit_lambda: float = 0.0,
) -> Tensor:
    r"""The RNN-T loss on pruned joiner logits (negated log-likelihood over the pruned lattice).

    Args:
        logits: (B, T, s_range, C) float32, float64, float16 or bfloat16 pruned joiner output.
        symbols: (B, S) int64, values in ``[0, C)``.
        ranges: (B, T, s_range) int64 from :func:`get_rnnt_prune_ranges`.
        termination_symbol: the blank, in ``[0, C)``.
        boundary: optional (B, 4) int64 rows ``(s_begin, t_begin, s_end, t_end)``.
        rnnt_type: ``"regular"``, ``"modified"`` or ``"constrained"``.
        delay_penalty: when > 0, rewards emitting symbols early (see ``pruned.h``).
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        use_hat_loss: HAT factorization (requires ``termination_symbol == 0``).
        fastemit_lambda: FastEmit weight (>= 0): the loss is unchanged, the gradient of the
            symbol log-probabilities is multiplied by ``1 + fastemit_lambda`` (with HAT: of the
            HAT symbol log-probabilities) and that of the blanks is unchanged; see
            :func:`fast_rnnt.rnnt_loss`.

    Returns:
        (B,) float losses for ``reduction="none"``, else a scalar; float64 for float64 logits,
        float32 otherwise. Differentiable w.r.t. ``logits``.

    Raises:
        RuntimeError: on shapes, dtypes, devices, ranges, boundary or option values outside
            the above.
    """
    return torch.ops.fast_rnnt.rnnt_loss_pruned(
        logits, symbols, ranges, termination_symbol, boundary, rnnt_type, delay_penalty, reduction, use_hat_loss,
        fastemit_lambda,
    )
