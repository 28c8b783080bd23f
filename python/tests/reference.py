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


def mutual_information_occupancy_reference(px: Tensor, py: Tensor, boundary: Optional[Tensor] = None):
    """(px_occ, py_occ) float64 shaped like px and py: the posterior probability of each arc,
    exp(alpha[start] + weight + beta[end] - total), from forward (alpha) and backward (beta) loops
    over the lattice; zero outside each boundary and for sequences with no path."""
    B, S, T = py.size(0), py.size(1) - 1, py.size(2)
    modified = px.size(2) == T
    pxl, pyl = px.double().tolist(), py.double().tolist()
    px_occ = torch.zeros(px.shape, dtype=torch.float64)
    py_occ = torch.zeros(py.shape, dtype=torch.float64)
    for b in range(B):
        s0, t0, s1, t1 = boundary[b].tolist() if boundary is not None else (0, 0, S, T)
        alpha = [[NEG_INF] * (T + 1) for _ in range(S + 1)]
        beta = [[NEG_INF] * (T + 1) for _ in range(S + 1)]

        def symbol_end(s, t):  # the cell the symbol arc leaving (s, t) enters, or None
            if s >= s1 or (modified and t >= t1):
                return None
            return (s + 1, t + 1) if modified else (s + 1, t)

        for s in range(s0, s1 + 1):
            for t in range(t0, t1 + 1):
                if s == s0 and t == t0:
                    alpha[s][t] = 0.0
                    continue
                x_term = NEG_INF
                if s > s0 and (not modified or t > t0):
                    ps, pt = (s - 1, t - 1) if modified else (s - 1, t)
                    x_term = alpha[ps][pt] + pxl[b][ps][pt]
                y_term = alpha[s][t - 1] + pyl[b][s][t - 1] if t > t0 else NEG_INF
                alpha[s][t] = log_add(x_term, y_term)
        for s in range(s1, s0 - 1, -1):
            for t in range(t1, t0 - 1, -1):
                if s == s1 and t == t1:
                    beta[s][t] = 0.0
                    continue
                end = symbol_end(s, t)
                x_term = pxl[b][s][t] + beta[end[0]][end[1]] if end else NEG_INF
                y_term = pyl[b][s][t] + beta[s][t + 1] if t < t1 else NEG_INF
                beta[s][t] = log_add(x_term, y_term)
        total = alpha[s1][t1]
        if total == NEG_INF:
            continue
        for s in range(s0, s1 + 1):
            for t in range(t0, t1 + 1):
                end = symbol_end(s, t)
                if end:
                    px_occ[b, s, t] = math.exp(alpha[s][t] + pxl[b][s][t] + beta[end[0]][end[1]] - total)
                if t < t1:
                    py_occ[b, s, t] = math.exp(alpha[s][t] + pyl[b][s][t] + beta[s][t + 1] - total)
    return px_occ, py_occ


def fastemit_cell_grads_reference(px: Tensor, py: Tensor, boundary: Optional[Tensor], rnnt_type: str,
                                  fastemit_lambda: float, weights: Tensor):
    """FastEmit's gradients of sum_b weights[b] * loss[b] w.r.t. the per-cell log-probabilities
    (before placement): symbol (B, S, T) = -(1 + lambda) * w * (occupancy of the symbol arcs),
    blank (B, S+1, T) = -w * (occupancy of the arcs that emit that blank: the blank arcs, and in
    "constrained" the symbol arc from the cell below). px, py: the recursion's inputs, delay
    penalty included."""
    px_occ, py_occ = mutual_information_occupancy_reference(px, py, boundary)
    T = py.size(2)
    w = weights.double().view(-1, 1, 1)
    symbol_occ = px_occ[:, :, :T]
    blank_occ = py_occ.clone()
    if rnnt_type == "constrained":
        blank_occ[:, 1:, :] += symbol_occ
    return -(1.0 + fastemit_lambda) * w * symbol_occ, -w * blank_occ


# ---------------------------------------------------------------------------------------------
# RNN-T losses: per-cell log-softmax, lattice placement and reductions, written out loop by loop.

RNNT_TYPES = ("regular", "modified", "constrained")


def _log_softmax_row(row: Tensor) -> Tensor:
    """log_softmax of one float64 vector, by max-shift."""
    m = row.max()
    return row - (m + torch.log(torch.exp(row - m).sum()))


def arc_logprobs_reference(logits: Tensor, symbols: Tensor, termination_symbol: int, use_hat_loss: bool = False):
    """(symbol_logprobs, blank_logprobs), float64 (B, T, K), row by row; differentiable."""
    B, T, K, C = logits.shape
    logits = logits.double()
    sym_rows, blank_rows = [], []
    for b in range(B):
        for t in range(T):
            for k in range(K):
                x = logits[b, t, k]
                v = int(symbols[b, t, k])
                if use_hat_loss:
                    nb = torch.nn.functional.logsigmoid(-x[0])
                    sym_rows.append(x[v] - torch.logsumexp(x[1:], 0) + nb)
                    blank_rows.append(torch.nn.functional.logsigmoid(x[0]))
                else:
                    lp = _log_softmax_row(x)
                    sym_rows.append(lp[v])
                    blank_rows.append(lp[termination_symbol])
    return torch.stack(sym_rows).reshape(B, T, K), torch.stack(blank_rows).reshape(B, T, K)


def _default_boundary(B: int, S: int, T: int, boundary: Optional[Tensor]) -> list:
    return boundary.tolist() if boundary is not None else [[0, 0, S, T]] * B


def _place_on_lattice(
    sym_lp: Tensor, blank_lp: Tensor, symbols: Tensor, rnnt_type: str, boundary: Optional[Tensor]
):
    """px, py (float64) from per-cell log-probabilities sym_lp[b][s][t] (emit symbols[b][s] at
    cell (s, t)) and blank_lp[b][s][t] (leave frame t at symbol position s), cell by cell.

    regular: px (B, S, T+1), px[b, :, T] and px[b, :, t_end] = -inf;
    modified: px (B, S, T); constrained: px (B, S, T), px[b,s,t] += py[b,s+1,t]."""
    B, S1, T = blank_lp.shape
    S = S1 - 1
    T1 = T + 1 if rnnt_type == "regular" else T
    px = torch.full((B, S, T1), NEG_INF, dtype=torch.float64)
    py = torch.full((B, S + 1, T), NEG_INF, dtype=torch.float64)
    for b in range(B):
        for s in range(S + 1):
            for t in range(T):
                py[b, s, t] = blank_lp[b, s, t]
    for b in range(B):
        for s in range(S):
            for t in range(T):
                v = sym_lp[b, s, t]
                if rnnt_type == "constrained":
                    v = v + py[b, s + 1, t]
                px[b, s, t] = v
    if rnnt_type == "regular" and boundary is not None:
        for b in range(B):
            px[b, :, int(boundary[b, 3])] = NEG_INF
    return px, py


def get_rnnt_logprobs_joint_reference(logits: Tensor, symbols: Tensor, termination_symbol: int, rnnt_type: str = "regular", boundary: Optional[Tensor] = None):
    """px, py of the full loss: log_softmax of each logits[b, t, s, :] (float64)."""
    B, T, S1, C = logits.shape
    S = S1 - 1
    sym_lp = torch.empty(B, S + 1, T, dtype=torch.float64)
    blank_lp = torch.empty(B, S + 1, T, dtype=torch.float64)
    for b in range(B):
        for t in range(T):
            for s in range(S + 1):
                lp = _log_softmax_row(logits[b, t, s].double())
                sym_lp[b, s, t] = lp[int(symbols[b, s])] if s < S else NEG_INF
                blank_lp[b, s, t] = lp[termination_symbol]
    return _place_on_lattice(sym_lp, blank_lp, symbols, rnnt_type, boundary)


def get_rnnt_logprobs_reference(lm: Tensor, am: Tensor, symbols: Tensor, termination_symbol: int, rnnt_type: str = "regular", boundary: Optional[Tensor] = None):
    """px, py of the simple loss: the joiner is lm[b, s] + am[b, t] (float64)."""
    B, T, C = am.shape
    S = lm.size(1) - 1
    sym_lp = torch.empty(B, S + 1, T, dtype=torch.float64)
    blank_lp = torch.empty(B, S + 1, T, dtype=torch.float64)
    for b in range(B):
        for s in range(S + 1):
            for t in range(T):
                lp = _log_softmax_row(lm[b, s].double() + am[b, t].double())
                sym_lp[b, s, t] = lp[int(symbols[b, s])] if s < S else NEG_INF
                blank_lp[b, s, t] = lp[termination_symbol]
    return _place_on_lattice(sym_lp, blank_lp, symbols, rnnt_type, boundary)


def get_rnnt_logprobs_smoothed_reference(
    lm: Tensor, am: Tensor, symbols: Tensor, termination_symbol: int, lm_only_scale: float = 0.1,
    am_only_scale: float = 0.1, rnnt_type: str = "regular", boundary: Optional[Tensor] = None,
):
    """px, py of the smoothed loss (float64): per cell, the interpolation
        (1 - l - a) * log P_joint + l * log P_lm + a * log P_am
    of the joint log-softmax, the LM-only log-softmax of lm[b, s] and the AM-only one, where
    P_am(c | t) is proportional to exp(am[b, t, c]) * unigram(c) and unigram is the mean over all
    (b, s) (padding included) of softmax(lm[b, s]). Zero scales count as 1e-20 (as k2)."""
    B, T, C = am.shape
    S = lm.size(1) - 1
    lm, am = lm.double(), am.double()
    l_scale = lm_only_scale if lm_only_scale != 0.0 else 1e-20
    a_scale = am_only_scale if am_only_scale != 0.0 else 1e-20
    joint_scale = 1.0 - lm_only_scale - am_only_scale
    unigram = torch.zeros(C, dtype=torch.float64)
    for b in range(B):
        for s in range(S + 1):
            unigram += torch.exp(_log_softmax_row(lm[b, s]))
    unigram = unigram / (B * (S + 1)) + torch.finfo(torch.float64).tiny
    log_unigram = unigram.log()
    sym_lp = torch.empty(B, S + 1, T, dtype=torch.float64)
    blank_lp = torch.empty(B, S + 1, T, dtype=torch.float64)
    for b in range(B):
        for s in range(S + 1):
            lm_lp = _log_softmax_row(lm[b, s])
            for t in range(T):
                joint_lp = _log_softmax_row(lm[b, s] + am[b, t])
                am_lp = _log_softmax_row(am[b, t] + log_unigram)
                mix = joint_scale * joint_lp + l_scale * lm_lp + a_scale * am_lp
                sym_lp[b, s, t] = mix[int(symbols[b, s])] if s < S else NEG_INF
                blank_lp[b, s, t] = mix[termination_symbol]
    return _place_on_lattice(sym_lp, blank_lp, symbols, rnnt_type, boundary)


def smoothed_arc_logprobs_reference(lm: Tensor, am: Tensor, symbols: Tensor, termination_symbol: int,
                                    lm_only_scale: float, am_only_scale: float):
    """(px (B, S, T), py (B, S+1, T)) of the fused lm/am op, cell by cell in float64 and
    differentiable: (1 - l - a) * log P_joint + l * log P_lm + a * log P_am (each a log-softmax over
    C), with a term whose scale is exactly 0 left out and unigram as in
    get_rnnt_logprobs_smoothed_reference."""
    B, T, C = am.shape
    S = lm.size(1) - 1
    lm, am = lm.double(), am.double()
    weights = [w for w in (("joint", 1.0 - lm_only_scale - am_only_scale), ("lm", lm_only_scale), ("am", am_only_scale)) if w[1] != 0.0]
    probs = [torch.exp(_log_softmax_row(lm[b, s])) for b in range(B) for s in range(S + 1)]
    log_unigram = (sum(probs) / len(probs) + torch.finfo(torch.float64).tiny).log() if B else None
    px, py = [], []
    for b in range(B):
        for s in range(S + 1):
            lm_lp = _log_softmax_row(lm[b, s])
            row_x, row_y = [], []
            for t in range(T):
                parts = {"joint": lambda: _log_softmax_row(lm[b, s] + am[b, t]), "lm": lambda: lm_lp,
                         "am": lambda: _log_softmax_row(am[b, t] + log_unigram)}
                mix = sum(w * parts[name]() for name, w in weights)
                row_y.append(mix[termination_symbol])
                if s < S:
                    row_x.append(mix[int(symbols[b, s])])
            py.append(torch.stack(row_y) if T else lm.new_empty(0))
            if s < S:
                px.append(torch.stack(row_x) if T else lm.new_empty(0))
    stack = lambda rows, R: torch.stack(rows).view(B, R, T) if rows else lm.new_empty(B, R, T)  # noqa: E731
    return stack(px, S), stack(py, S + 1)


def apply_delay_penalty_reference(px: Tensor, delay_penalty: float, rnnt_type: str, boundary: Optional[Tensor]) -> Tensor:
    """px[b, s, t] += delay_penalty * ((T_b - 1) / 2 - t), T_b = t_end (or T); only when > 0."""
    if delay_penalty <= 0.0:
        return px
    B, S, T1 = px.shape
    T = T1 - 1 if rnnt_type == "regular" else T1
    px = px.clone()
    for b in range(B):
        T_b = int(boundary[b, 3]) if boundary is not None else T
        for s in range(S):
            for t in range(T1):
                px[b, s, t] += delay_penalty * ((T_b - 1) / 2 - t)
    return px


def reduce_reference(negated: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return -negated
    if reduction == "sum":
        return -negated.sum()
    return -negated.mean()


def rnnt_loss_from_px_py_reference(px, py, boundary, rnnt_type, delay_penalty, reduction):
    px = apply_delay_penalty_reference(px, delay_penalty, rnnt_type, boundary)
    return reduce_reference(mutual_information_reference(px, py, boundary), reduction)


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
    """The published (non-deprecated) k2 prune-range algorithm, step by step, per sequence;
    its ramp starts at (t_begin, s_begin) instead of (0, 0) (the same without offsets)."""
    B, S, T = py_grad.size(0), py_grad.size(1) - 1, py_grad.size(2)
    regular = px_grad.size(2) == T + 1
    pxg = px_grad.double().tolist()
    pyg = py_grad.double().tolist()
    out = torch.zeros(B, T, s_range, dtype=torch.int64)
    for b in range(B):
        s0, t0, s_end, t_end = boundary[b].tolist() if boundary is not None else (0, 0, S, T)
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
        begin = [max(x, s0 - s_range + 1) for x in begin]
        step = s_range if regular else 2
        ramp = [s0 + (step - 1) * (t - t0) for t in range(T)]
        begin = _monotonic_lower_bound(begin)
        begin = [-(x - r) for r, x in zip(ramp, begin)]
        begin = _monotonic_lower_bound(begin)
        begin = [max(x, 0) for x in begin]
        begin = [max(0, -(x - r)) for r, x in zip(ramp, begin)]
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
