"""Independent float64 references: plain loops over the lattice, straight from the definitions.

Slow by design; used on small sizes only.
"""

import math
from typing import Optional

import torch
from torch import Tensor

NEG_INF = float("-inf")


def log_add(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def mutual_information_reference(px: Tensor, py: Tensor, boundary: Optional[Tensor] = None) -> Tensor:
    """scores (B,) of the recursion, float64, by the literal double loop over (s, t)."""
    B, S, T = py.size(0), py.size(1) - 1, py.size(2)
    modified = px.size(2) == T
    px = px.double().tolist()
    py = py.double().tolist()
    out = []
    for b in range(B):
        s0, t0, s1, t1 = boundary[b].tolist() if boundary is not None else (0, 0, S, T)
        p = [[NEG_INF] * (T + 1) for _ in range(S + 1)]
        for s in range(s0, s1 + 1):
            for t in range(t0, t1 + 1):
                if s == s0 and t == t0:
                    p[s][t] = 0.0
                    continue
                x_term = NEG_INF
                if s > s0:
                    if modified:
                        if t > t0:
                            x_term = p[s - 1][t - 1] + px[b][s - 1][t - 1]
                    else:
                        x_term = p[s - 1][t] + px[b][s - 1][t]
                y_term = p[s][t - 1] + py[b][s][t - 1] if t > t0 else NEG_INF
                p[s][t] = log_add(x_term, y_term)
        out.append(p[s1][t1])
    return torch.tensor(out, dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# Pruned RNN-T (issue 4): prune ranges, pruned logprobs and loss, by plain loops in float64.
# ---------------------------------------------------------------------------------------------


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def _log_sum_exp(xs) -> float:
    out = NEG_INF
    for x in xs:
        out = log_add(out, x)
    return out


def _monotonic_lower_bound(xs: list) -> list:
    """xs[i] <- min(xs[i:]), walking from the end."""
    out = list(xs)
    for i in range(len(out) - 2, -1, -1):
        out[i] = min(out[i], out[i + 1])
    return out


def prune_ranges_reference(px_grad: Tensor, py_grad: Tensor, boundary: Optional[Tensor], s_range: int) -> Tensor:
    """The published (non-deprecated) k2 prune-range algorithm, step by step, per sequence."""
    B, S, T = py_grad.size(0), py_grad.size(1) - 1, py_grad.size(2)
    regular = px_grad.size(2) == T + 1
    pxg = px_grad.double().tolist()
    pyg = py_grad.double().tolist()
    out = torch.zeros(B, T, s_range, dtype=torch.int64)
    for b in range(B):
        s_end, t_end = (boundary[b, 2].item(), boundary[b, 3].item()) if boundary is not None else (S, T)
        begin = []
        for t in range(T):
            if t >= t_end - 1:
                begin.append(max(0, s_end - s_range + 1))
                continue
            best, best_s = None, 0
            for s in range(S + 2 - s_range):
                score = 0.0
                for k in range(s_range):
                    score += pyg[b][s + k][t]
                if s > 0:
                    score -= pxg[b][s - 1][t]
                if best is None or score > best:
                    best, best_s = score, s
            begin.append(best_s)
        step = s_range if regular else 2
        begin = _monotonic_lower_bound(begin)
        begin = [-(x - (step - 1) * t) for t, x in enumerate(begin)]
        begin = _monotonic_lower_bound(begin)
        begin = [max(x, 0) for x in begin]
        begin = [-(x - (step - 1) * t) for t, x in enumerate(begin)]
        for t in range(T):
            for k in range(s_range):
                out[b, t, k] = begin[t] + k
    return out


def pruned_logprobs_reference(
    logits: Tensor,
    symbols: Tensor,
    ranges: Tensor,
    termination_symbol: int,
    boundary: Optional[Tensor] = None,
    rnnt_type: str = "regular",
    use_hat_loss: bool = False,
):
    """(px, py) float64 of the pruned lattice: each window entry placed at its symbol position,
    -inf elsewhere."""
    B, T, s_range, C = logits.shape
    S = symbols.size(1)
    T1 = T + 1 if rnnt_type == "regular" else T
    px = torch.full((B, S, T1), NEG_INF, dtype=torch.float64)
    py = torch.full((B, S + 1, T), NEG_INF, dtype=torch.float64)
    lg = logits.double().tolist()
    for b in range(B):
        for t in range(T):
            for k in range(s_range):
                s = int(ranges[b, t, k])
                row = lg[b][t][k]
                v = int(symbols[b, s]) if s < S else termination_symbol
                if use_hat_loss:
                    blank = _log_sigmoid(row[0])
                    sym = row[v] - _log_sum_exp(row[1:]) + _log_sigmoid(-row[0])
                else:
                    lse = _log_sum_exp(row)
                    blank = row[termination_symbol] - lse
                    sym = row[v] - lse
                py[b, s, t] = blank
                if s < S:
                    px[b, s, t] = sym
    if rnnt_type == "regular" and boundary is not None:
        for b in range(B):
            px[b, :, int(boundary[b, 3])] = NEG_INF
    if rnnt_type == "constrained":
        px = px + py[:, 1:, :]
    return px, py


def rnnt_loss_pruned_reference(
    logits: Tensor,
    symbols: Tensor,
    ranges: Tensor,
    termination_symbol: int,
    boundary: Optional[Tensor] = None,
    rnnt_type: str = "regular",
    delay_penalty: float = 0.0,
    reduction: str = "none",
    use_hat_loss: bool = False,
) -> Tensor:
    px, py = pruned_logprobs_reference(logits, symbols, ranges, termination_symbol, boundary, rnnt_type, use_hat_loss)
    B, S, T1 = px.shape
    T = py.size(2)
    if delay_penalty > 0.0:
        for b in range(B):
            t_end = int(boundary[b, 3]) if boundary is not None else T
            for t in range(T1):
                px[b, :, t] += delay_penalty * ((t_end - 1) / 2 - t)
    loss = -mutual_information_reference(px, py, boundary)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
