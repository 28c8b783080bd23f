"""The mutual-information recursion, the lattice sum under every transducer loss."""

from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor


def mutual_information_recursion(
    px: Tensor,
    py: Tensor,
    boundary: Optional[Tensor] = None,
    return_grad: bool = False,
) -> Union[Tensor, Tuple[Tensor, Tuple[Tensor, Tensor]]]:
    r"""Log-domain sum over all monotonic paths through a (S+1) x (T+1) lattice.

    With ``p[b, s_begin, t_begin] = 0`` and every term outside the boundary ``-inf``::

        regular:  p[b,s,t] = logaddexp(p[b,s-1,t] + px[b,s-1,t],     p[b,s,t-1] + py[b,s,t-1])
        modified: p[b,s,t] = logaddexp(p[b,s-1,t-1] + px[b,s-1,t-1], p[b,s,t-1] + py[b,s,t-1])

    Args:
        px: (B, S, T+1) for the regular recursion or (B, S, T) for the modified one (told
            apart by the shape); float32, float64, float16 or bfloat16 (the last two are
            computed in float32). The log-weight of the arc that emits symbol ``s`` at frame ``t``.
        py: (B, S+1, T), same dtype and device as ``px``: the log-weight of the arc that moves
            from frame ``t`` to ``t+1`` at symbol position ``s``.
        boundary: optional (B, 4) int64 rows ``(s_begin, t_begin, s_end, t_end)`` with
            ``0 <= s_begin <= s_end <= S`` and ``0 <= t_begin <= t_end <= T``; default
            ``(0, 0, S, T)`` for every sequence.
        return_grad: also return the gradients of ``scores.sum()`` w.r.t. ``px`` and ``py``
            (the arc occupation probabilities), computed in the same call.

    Returns:
        ``scores`` (B,) in the dtype of ``px``: ``p[b, s_end, t_end]``, ``-inf`` when no path
        exists. With ``return_grad``: ``(scores, (px_grad, py_grad))``, the gradients shaped
        like ``px`` and ``py`` and exactly zero outside each sequence's boundary.
        ``scores`` is differentiable w.r.t. ``px`` and ``py`` either way.

    Raises:
        RuntimeError: on shapes, dtypes, devices or boundary values outside the above.
    """
    if return_grad:
        scores, px_grad, py_grad = torch.ops.fast_rnnt.mutual_information_with_grad(px, py, boundary)
        return scores, (px_grad, py_grad)
    return torch.ops.fast_rnnt.mutual_information(px, py, boundary)


def joint_mutual_information_recursion(
    px: Sequence[Tensor],
    py: Sequence[Tensor],
    boundary: Optional[Tensor] = None,
) -> Tensor:
    r"""The recursion over a lattice whose arc weights are sums of N parts, with the total
    broken down by part.

    Runs :func:`mutual_information_recursion` on ``px = sum(px)``, ``py = sum(py)`` and
    attributes the total to the parts by the arc occupancies: ``ans[n, b] =
    sum(px_grad[b] * px[n][b]) + sum(py_grad[b] * py[n][b])``, where the occupancies are
    those of the summed lattice. ``ans.sum(0)`` equals the scores of the summed lattice, and
    gradients flow to every part.

    Args:
        px: N tensors of shape (B, S, T+1) or (B, S, T), as for
            :func:`mutual_information_recursion`.
        py: N tensors of shape (B, S+1, T).
        boundary: optional (B, 4) int64, as for :func:`mutual_information_recursion`.

    Returns:
        (N, B): each part's share of each sequence's score.
    """
    torch._check(len(px) == len(py) and len(px) > 0, lambda: "joint_mutual_information_recursion: px and py must be non-empty sequences of equal length")
    return torch.ops.fast_rnnt.joint_mutual_information(list(px), list(py), boundary)
