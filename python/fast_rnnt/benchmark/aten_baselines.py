"""The baselines of the loss benchmarks: each step composed of ATen ops the way k2
(k2/python/k2/rnnt_loss.py) composes it, for float32 on any device.

The lattice sum itself is fast_rnnt's recursion op: k2's own CPU recursion is a serial loop
(`naive` in the recursion benchmark, 8x slower), so using ours makes the baselines stronger, not
weaker. Everything else (normalizers, gathers, lattice placement, pruning) is plain ATen, with
the layouts and the memory traffic of k2's Python code.

This module imports only torch at the top, so that the torchaudio baseline can run in an
interpreter without fast_rnnt.
"""

from typing import Tuple

import torch
from torch import Tensor

NEG_INF = float("-inf")


def _recursion(px: Tensor, py: Tensor, boundary: Tensor, return_grad: bool = False):
    import fast_rnnt

    return fast_rnnt.mutual_information_recursion(px.contiguous(), py.contiguous(), boundary, return_grad=return_grad)


def regular_px(px: Tensor, boundary: Tensor) -> Tensor:
    """(B, S, T) -> (B, S, T+1), -inf in column T and at t = t_end (k2's regular layout)."""
    B, S, T = px.shape
    px = torch.cat([px, px.new_full((B, S, 1), NEG_INF)], 2)
    last = torch.arange(T + 1, device=px.device)[None, None, :] == boundary[:, 3][:, None, None]
    return px.masked_fill(last, NEG_INF)


def _joint_normalizers(lm: Tensor, am: Tensor) -> Tensor:
    """log sum_c exp(lm[b, s, c] + am[b, t, c]) as a matmul of max-shifted exps: (B, S+1, T)."""
    am_max = am.max(2, keepdim=True)[0]
    lm_max = lm.max(2, keepdim=True)[0]
    norm = (torch.matmul((lm - lm_max).exp(), (am - am_max).exp().transpose(1, 2)) + torch.finfo(am.dtype).tiny).log()
    return norm + lm_max + am_max.transpose(1, 2)


def _symbol_terms(lm: Tensor, am: Tensor, symbols: Tensor) -> Tuple[Tensor, Tensor]:
    """am[b, t, symbols[b, s]] as (B, S, T), gathered from am expanded to (B, S, T, C) (whose
    backward materializes that size, as in k2), and lm[b, s, symbols[b, s]] as (B, S, 1)."""
    B, T, C = am.shape
    S = symbols.size(1)
    px_am = torch.gather(am.unsqueeze(1).expand(B, S, T, C), 3, symbols.reshape(B, S, 1, 1).expand(B, S, T, 1)).squeeze(-1)
    px_lm = torch.gather(lm[:, :S], 2, symbols.unsqueeze(-1))
    return px_am, px_lm


def simple_logprobs(lm: Tensor, am: Tensor, symbols: Tensor, termination_symbol: int, boundary: Tensor):
    """k2's get_rnnt_logprobs (regular): px (B, S, T+1), py (B, S+1, T)."""
    norm = _joint_normalizers(lm, am)
    px_am, px_lm = _symbol_terms(lm, am, symbols)
    px = px_am + px_lm - norm[:, : symbols.size(1)]
    py = am[:, :, termination_symbol].unsqueeze(1) + lm[:, :, termination_symbol].unsqueeze(2) - norm
    return regular_px(px, boundary), py


def smoothed_logprobs(lm: Tensor, am: Tensor, symbols: Tensor, termination_symbol: int,
                      lm_only_scale: float, am_only_scale: float, boundary: Tensor):
    """k2's get_rnnt_logprobs_smoothed (regular): the joint log-probs interpolated with LM-only
    ones and AM-only ones (am against the batch's unigram LM)."""
    B, T, C = am.shape
    tiny = torch.finfo(am.dtype).tiny
    norm = _joint_normalizers(lm, am)
    lm_norm = lm.logsumexp(2, keepdim=True)  # (B, S+1, 1)
    unigram = (lm - lm_norm).exp().mean((0, 1)) + tiny  # (C,)
    log_unigram = unigram.log()
    am_max = am.max(2, keepdim=True)[0]
    am_norm = (torch.mv((am - am_max).exp().reshape(-1, C), unigram).reshape(B, T, 1).log() + am_max).transpose(1, 2)

    px_am, px_lm = _symbol_terms(lm, am, symbols)
    S = symbols.size(1)
    px = px_am + px_lm - norm[:, :S]
    px_amonly = px_am + log_unigram[symbols].unsqueeze(-1) - am_norm
    px_lmonly = px_lm - lm_norm[:, :S]
    py_am = am[:, :, termination_symbol].unsqueeze(1)
    py_lm = lm[:, :, termination_symbol].unsqueeze(2)
    py = py_am + py_lm - norm
    py_amonly = py_am + log_unigram[termination_symbol] - am_norm
    py_lmonly = py_lm - lm_norm

    joint_scale = 1.0 - lm_only_scale - am_only_scale
    lm_only_scale = lm_only_scale or 1e-20  # as k2: an exact 0 would turn -inf terms into nan
    am_only_scale = am_only_scale or 1e-20
    px = px * joint_scale + px_lmonly * lm_only_scale + px_amonly * am_only_scale
    py = py * joint_scale + py_lmonly * lm_only_scale + py_amonly * am_only_scale
    return regular_px(px, boundary), py


def rnnt_loss_simple(lm: Tensor, am: Tensor, symbols: Tensor, boundary: Tensor) -> Tensor:
    """Summed simple loss, blank = 0."""
    px, py = simple_logprobs(lm, am, symbols, 0, boundary)
    return -_recursion(px, py, boundary).sum()


def rnnt_loss_smoothed_with_grad(lm: Tensor, am: Tensor, symbols: Tensor, lm_only_scale: float,
                                 am_only_scale: float, boundary: Tensor):
    """Summed smoothed loss, blank = 0, and the arc occupancies (px_grad, py_grad)."""
    px, py = smoothed_logprobs(lm, am, symbols, 0, lm_only_scale, am_only_scale, boundary)
    scores, grads = _recursion(px, py, boundary, return_grad=True)
    return -scores.sum(), grads


def rnnt_loss(logits: Tensor, symbols: Tensor, boundary: Tensor) -> Tensor:
    """Summed full loss on joiner logits (B, T, S+1, C), blank = 0: log_softmax of the logits'
    size, gathers, the recursion."""
    B, T, S1, C = logits.shape
    S = S1 - 1
    lp = logits.log_softmax(-1)
    px = lp[:, :, :S].gather(3, symbols[:, None, :, None].expand(B, T, S, 1)).squeeze(-1).transpose(1, 2)
    py = lp[..., 0].transpose(1, 2)
    return -_recursion(regular_px(px, boundary), py, boundary).sum()


def do_rnnt_pruning(am: Tensor, lm: Tensor, ranges: Tensor) -> Tuple[Tensor, Tensor]:
    """k2's pruning: am expanded, lm gathered from lm expanded to (B, T, S+1, D) (whose backward
    materializes that size)."""
    B, T, s_range = ranges.shape
    D = lm.size(2)
    am_pruned = am.unsqueeze(2).expand(B, T, s_range, am.size(2))
    lm_pruned = torch.gather(lm.unsqueeze(1).expand(B, T, lm.size(1), D), 2, ranges.unsqueeze(3).expand(B, T, s_range, D))
    return am_pruned, lm_pruned


def rnnt_loss_pruned(logits: Tensor, symbols: Tensor, ranges: Tensor, boundary: Tensor) -> Tensor:
    """Summed pruned loss (regular, blank = 0): log_softmax of the pruned logits, gathers, padding
    and a per-row roll onto the lattice, the recursion."""
    B, T, s_range, _ = logits.shape
    S = symbols.size(1)
    logp = logits.log_softmax(-1)
    padded = torch.cat([symbols, symbols.new_zeros(B, 1)], 1)
    window_symbols = torch.gather(padded.unsqueeze(1).expand(B, T, S + 1), 2, ranges)
    px = logp.gather(3, window_symbols.unsqueeze(3)).squeeze(3)
    py = logp[..., 0]
    neg = logits.new_full((B, T, S + 1 - s_range), NEG_INF)

    def roll(x):  # (B, T, S+1): window entry k moves to column ranges[b, t, 0] + k
        idx = (torch.arange(S + 1, device=x.device).view(1, 1, S + 1) - ranges[:, :, :1]) % (S + 1)
        return x.gather(2, idx)

    px = roll(torch.cat([px, neg], 2))[:, :, :S].transpose(1, 2)
    py = roll(torch.cat([py, neg], 2)).transpose(1, 2)
    return -_recursion(regular_px(px, boundary), py, boundary).sum()
