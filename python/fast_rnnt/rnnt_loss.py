"""Transducer (RNN-T) losses with k2's signatures and semantics, as ``torch.ops.fast_rnnt`` ops.

Common arguments:

- ``symbols``: (B, S) int64, values in ``[0, C)``.
- ``termination_symbol``: the blank / next-frame symbol, in ``[0, C)``.
- ``boundary``: optional (B, 4) int64 rows ``(s_begin, t_begin, s_end, t_end)``, default
  ``(0, 0, S, T)``; usually ``(0, 0, S_b, T_b)``.
- ``rnnt_type``: ``"regular"`` (any number of symbols per frame; px is (B, S, T+1) with
  ``px[b, :, T]`` and ``px[b, :, t_end]`` set to ``-inf``), ``"modified"`` (one symbol per frame
  at most, emitting also moves to the next frame; px is (B, S, T); requires T >= S) or
  ``"constrained"`` (as modified, and ``px[b, s, t] += py[b, s+1, t]``).
- ``delay_penalty``: when > 0, ``px[b, s, t] += delay_penalty * ((T_b - 1) / 2 - t)`` with
  ``T_b`` the boundary's ``t_end`` (or T); ignored otherwise, as in k2.
- ``reduction``: ``"none"`` (B,), ``"mean"`` or ``"sum"`` of the per-sequence losses.
- ``fastemit_lambda``: FastEmit regularization, >= 0, default 0 (off); see :func:`rnnt_loss`.

Errors (RuntimeError) name the function, the argument, the expected and the actual value.
"""

from typing import Optional, Tuple, Union

import torch
from torch import Tensor


def get_rnnt_logprobs(
    lm: Tensor,
    am: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    rnnt_type: str = "regular",
    boundary: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Arc log-probabilities of the simple RNN-T loss, whose joiner is ``lm[b, s] + am[b, t]``.

    With ``logp[b, s, t, :] = log_softmax(lm[b, s, :] + am[b, t, :])`` (computed without any
    (B, S+1, T, C) tensor): ``px[b, s, t] = logp[b, s, t, symbols[b, s]]`` and
    ``py[b, s, t] = logp[b, s, t, termination_symbol]``, placed as ``rnnt_type`` says.

    Args:
        lm: (B, S+1, C) float, the language-model (decoder) part of the logits.
        am: (B, T, C), same dtype and device, the acoustic-model (encoder) part.
        symbols: (B, S) int64.
        termination_symbol: the blank.
        rnnt_type: ``"regular"``, ``"modified"`` or ``"constrained"``.
        boundary: optional (B, 4) int64.

    Returns:
        ``(px, py)``: px (B, S, T+1) for regular, (B, S, T) otherwise; py (B, S+1, T); dtype
        of ``lm``. Inputs of :func:`fast_rnnt.mutual_information_recursion`.
    """
    return torch.ops.fast_rnnt.get_rnnt_logprobs(lm, am, symbols, termination_symbol, rnnt_type, boundary)


def rnnt_loss_simple(
    lm: Tensor,
    am: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    boundary: Optional[Tensor] = None,
    rnnt_type: str = "regular",
    delay_penalty: float = 0.0,
    reduction: str = "mean",
    return_grad: bool = False,
    fastemit_lambda: float = 0.0,
) -> Union[Tensor, Tuple[Tensor, Tuple[Tensor, Tensor]]]:
    r"""The simple RNN-T loss (joiner = addition): ``-mutual_information_recursion(px, py)`` of
    :func:`get_rnnt_logprobs`, with the delay penalty, reduced.

    Args:
        lm: (B, S+1, C) float.
        am: (B, T, C), same dtype and device.
        symbols: (B, S) int64.
        termination_symbol: the blank.
        boundary: optional (B, 4) int64.
        rnnt_type: ``"regular"``, ``"modified"`` or ``"constrained"``.
        delay_penalty: see the module docstring.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        return_grad: also return the gradients of the unreduced scores' sum w.r.t. px and py
            (the arc occupancies; independent of ``reduction`` and ``fastemit_lambda``), for
            the pruned loss.
        fastemit_lambda: FastEmit weight (>= 0): the loss is unchanged, the gradient of the symbol
            log-probabilities is multiplied by ``1 + fastemit_lambda``; see :func:`rnnt_loss`.

    Returns:
        The loss, (B,) for ``"none"`` else a scalar, dtype of ``lm``; with ``return_grad``,
        ``(loss, (px_grad, py_grad))`` shaped like px and py.
    """
    if return_grad:
        loss, px_grad, py_grad = torch.ops.fast_rnnt.rnnt_loss_simple_with_grad(
            lm, am, symbols, termination_symbol, boundary, rnnt_type, delay_penalty, reduction,
            fastemit_lambda,
        )
        return loss, (px_grad, py_grad)
    return torch.ops.fast_rnnt.rnnt_loss_simple(
        lm, am, symbols, termination_symbol, boundary, rnnt_type, delay_penalty, reduction,
        fastemit_lambda,
    )


def get_rnnt_logprobs_smoothed(
    lm: Tensor,
    am: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    lm_only_scale: float = 0.1,
    am_only_scale: float = 0.1,
    boundary: Optional[Tensor] = None,
    rnnt_type: str = "regular",
) -> Tuple[Tensor, Tensor]:
    r"""Arc log-probabilities of the smoothed simple loss: per cell and class, the interpolation

        ``(1 - lm_only_scale - am_only_scale) * logp_joint + lm_only_scale * logp_lm
        + am_only_scale * logp_am``

    of the joint log-softmax (as :func:`get_rnnt_logprobs`), the LM-only
    ``log_softmax(lm[b, s])`` and the AM-only ``log_softmax(am[b, t] + log(unigram))``, where
    ``unigram`` is the mean of ``softmax(lm[b, s])`` over every ``b`` and ``s`` (padding
    included). A zero scale counts as 1e-20, as in k2.

    Args:
        lm: (B, S+1, C) float.
        am: (B, T, C), same dtype and device.
        symbols: (B, S) int64.
        termination_symbol: the blank.
        lm_only_scale: weight of the LM-only log-probabilities.
        am_only_scale: weight of the AM-only log-probabilities.
        boundary: optional (B, 4) int64.
        rnnt_type: ``"regular"``, ``"modified"`` or ``"constrained"``.

    Returns:
        ``(px, py)`` shaped as by :func:`get_rnnt_logprobs`, dtype of ``lm``.
    """
    return torch.ops.fast_rnnt.get_rnnt_logprobs_smoothed(
        lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary, rnnt_type
    )


def rnnt_loss_smoothed(
    lm: Tensor,
    am: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    lm_only_scale: float = 0.1,
    am_only_scale: float = 0.1,
    boundary: Optional[Tensor] = None,
    rnnt_type: str = "regular",
    delay_penalty: float = 0.0,
    reduction: str = "mean",
    return_grad: bool = False,
    fastemit_lambda: float = 0.0,
) -> Union[Tensor, Tuple[Tensor, Tuple[Tensor, Tensor]]]:
    r"""The smoothed simple RNN-T loss: as :func:`rnnt_loss_simple` over
    :func:`get_rnnt_logprobs_smoothed`.

    Args:
        lm: (B, S+1, C) float.
        am: (B, T, C), same dtype and device.
        symbols: (B, S) int64.
        termination_symbol: the blank.
        lm_only_scale: weight of the LM-only log-probabilities.
        am_only_scale: weight of the AM-only log-probabilities.
        boundary: optional (B, 4) int64.
        rnnt_type: ``"regular"``, ``"modified"`` or ``"constrained"``.
        delay_penalty: see the module docstring.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        return_grad: also return ``(px_grad, py_grad)``, as :func:`rnnt_loss_simple`.
        fastemit_lambda: FastEmit weight (>= 0): the loss is unchanged, the gradient of the symbol
            log-probabilities is multiplied by ``1 + fastemit_lambda``; see :func:`rnnt_loss`.

    Returns:
        The loss, (B,) or a scalar; with ``return_grad``, ``(loss, (px_grad, py_grad))``.
    """
    if return_grad:
        loss, px_grad, py_grad = torch.ops.fast_rnnt.rnnt_loss_smoothed_with_grad(
            lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary, rnnt_type,
            delay_penalty, reduction, fastemit_lambda,
        )
        return loss, (px_grad, py_grad)
    return torch.ops.fast_rnnt.rnnt_loss_smoothed(
        lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary, rnnt_type,
        delay_penalty, reduction, fastemit_lambda,
    )


def get_rnnt_logprobs_joint(
    logits: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    rnnt_type: str = "regular",
    boundary: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""Arc log-probabilities of the full RNN-T loss from joiner logits:
    ``logp[b, s, t, :] = log_softmax(logits[b, t, s, :])``, read in one fused pass
    (:func:`fast_rnnt.arc_logprobs`) without a log-softmax of the logits' size.

    Args:
        logits: (B, T, S+1, C) float32, float64, float16 or bfloat16 joiner output.
        symbols: (B, S) int64.
        termination_symbol: the blank.
        rnnt_type: ``"regular"``, ``"modified"`` or ``"constrained"``.
        boundary: optional (B, 4) int64.

    Returns:
        ``(px, py)`` shaped as by :func:`get_rnnt_logprobs`; float64 for float64 logits,
        float32 otherwise.
    """
    return torch.ops.fast_rnnt.get_rnnt_logprobs_joint(logits, symbols, termination_symbol, rnnt_type, boundary)


def rnnt_loss(
    logits: Tensor,
    symbols: Tensor,
    termination_symbol: int,
    boundary: Optional[Tensor] = None,
    rnnt_type: str = "regular",
    delay_penalty: float = 0.0,
    reduction: str = "mean",
    fastemit_lambda: float = 0.0,
) -> Tensor:
    r"""The full RNN-T loss over joiner logits: as :func:`rnnt_loss_simple` over
    :func:`get_rnnt_logprobs_joint`. Peak memory of forward + backward is the logits, their
    gradient (written in one pass, in the dtype of ``logits``) and O(B*T*S) more.

    Args:
        logits: (B, T, S+1, C) float32, float64, float16 or bfloat16.
        symbols: (B, S) int64.
        termination_symbol: the blank.
        boundary: optional (B, 4) int64.
        rnnt_type: ``"regular"``, ``"modified"`` or ``"constrained"``.
        delay_penalty: see the module docstring.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        fastemit_lambda: FastEmit (Yu et al. 2021, arXiv 2010.11148) as NeMo and warp-rnnt
            define it; finite and >= 0, default 0 (off). The loss value is unchanged, bit for
            bit. The gradient that reaches every per-cell symbol log-probability
            ``logp[b, s, t, symbols[b, s]]`` is multiplied by ``1 + fastemit_lambda`` and that
            of every blank log-probability is unchanged; per cell, through the log-softmax,
            ``grad logits[c] = -(1 + fastemit_lambda) * o_sym * ([c == symbol] - p[c])
            - o_blank * ([c == blank] - p[c])`` with ``o`` the arc occupancies. On the
            ``"regular"`` and ``"modified"`` lattices that is the symbol arcs' gradient times
            ``1 + fastemit_lambda``; a ``"constrained"`` symbol arc also scores the blank of the
            next cell, and only its symbol part is scaled (the blank keeps a blank's gradient).
            Composes with ``delay_penalty`` (a constant on px) and, in
            :func:`fast_rnnt.rnnt_loss_pruned`, HAT. The same argument of
            :func:`rnnt_loss_simple`, :func:`rnnt_loss_smoothed` and
            :func:`fast_rnnt.rnnt_loss_pruned` means the same; the occupancies they return with
            ``return_grad=True`` describe the lattice and do not depend on it.

    Returns:
        The loss, (B,) for ``"none"`` else a scalar; float64 for float64 logits, else float32.
    """
    return torch.ops.fast_rnnt.rnnt_loss(
        logits, symbols, termination_symbol, boundary, rnnt_type, delay_penalty, reduction, fastemit_lambda
    )
