"""Independent float64 references of the duration-transducer losses (issue 13): plain loops over
the lattice, written from the papers' equations; slow by design, for small sizes only.

- TDT (token-and-duration transducer): Xu et al. 2023, arXiv 2304.06795, Eq. 7.
- Multi-blank transducer: Xu et al. 2022, arXiv 2211.03541.

Both follow NeMo's pure-PyTorch TDTLossPytorch / MultiblankRNNTLossPytorch (and its numba kernels
for omega and FastEmit), with this package's k2 conventions for `boundary` and `reduction`:

Lattice. Node (t, s): s symbols emitted, frame t. For a sequence with boundary row
(s_begin, t_begin, s_end, t_end) the walk starts at (t_begin, s_begin) with log-probability 0,
every intermediate node has t_begin <= t < t_end, and the sequence's log-probability is the total
of every walk into the final node (t_end, s_end), which only a blank arc enters, landing exactly
on t_end (no arc passes the last frame; no symbol arc ends there). Arcs read logits[b, t, s, :]
of their source node and symbols[b, s].

TDT: logits (B, T, S+1, C + D), D = len(durations), durations ascending, distinct, containing 0 and
1. tok = log_softmax(logits[..., :C]) - sigma, dur = log_softmax(logits[..., C:]).
  symbol arc, duration index i: (t, s) -> (t + durations[i], s + 1),
      log-prob tok[t, s, symbols[s]] + dur[t, s, i]   (durations[i] = 0 allowed)
  blank arc, duration index i with durations[i] >= 1: (t, s) -> (t + durations[i], s),
      log-prob tok[t, s, termination_symbol] + dur[t, s, i]
  omega (NeMo's sampled training, GPUTDT.compute_cost_and_score): when omega > 0 one uniform draw
  r in [0, 1) is taken per call (here: torch.rand((), dtype=float64) from torch's default CPU
  generator); if r < omega the whole batch's loss is instead the standard RNN-T loss over the
  token logits alone: log_softmax(logits[..., :C]) with no sigma, symbol arcs (t, s) -> (t, s+1),
  blank arcs (t, s) -> (t+1, s), durations ignored (their gradient is 0). omega = 0 draws nothing.

Multi-blank: logits (B, T, S+1, C); lp = log_softmax(logits) - sigma.
  symbol arc: (t, s) -> (t, s + 1), log-prob lp[t, s, symbols[s]]
  standard blank: (t, s) -> (t + 1, s), log-prob lp[t, s, termination_symbol]
  big blank i: (t, s) -> (t + big_blank_durations[i], s), log-prob lp[t, s, termination_symbol-1-i]
  With no big blanks this is rnnt_loss (regular) on the same logits.

FastEmit (Yu et al. 2021, arXiv 2010.11148), as NeMo's kernels do it: the loss value is unchanged
and the gradient reaching the token log-probability tok[t, s, symbols[s]] (multi-blank:
lp[t, s, symbols[s]]) of every symbol arc is multiplied by (1 + fastemit_lambda); blank arcs and,
for TDT, the duration log-probabilities keep their gradient. (NeMo's numba code reports the cost
multiplied by (1 + lambda); issue 13 fixes the value as unchanged.)

reduction: "none" gives the (B,) losses -log P_b, "sum" their sum, "mean" their mean over B (k2's,
not NeMo's division by the label lengths). A sequence with no walk has loss +inf.
"""

import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from reference import NEG_INF, _log_softmax_row, reduce_reference

# One arc type leaving a node: (kind, dt, ds, log_prob(t, s) -> 0-d float64 Tensor), kind is
# "symbol" or "blank".
Arc = Tuple[str, int, int, Callable[[int, int], Tensor]]


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient is multiplied by `scale` on the way back."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def fastemit_scaled(x: Tensor, fastemit_lambda: float) -> Tensor:
    """x itself in value; its gradient times (1 + fastemit_lambda)."""
    return x if fastemit_lambda == 0.0 else _ScaleGrad.apply(x, 1.0 + fastemit_lambda)


def _bounds(boundary: Optional[Tensor], b: int, S: int, T: int) -> Tuple[int, int, int, int]:
    return tuple(int(v) for v in boundary[b].tolist()) if boundary is not None else (0, 0, S, T)


def _log_sum(terms: List[Tensor]) -> Tensor:
    """log sum exp of 0-d tensors, skipping -inf terms (so no nan gradient); -inf if none."""
    terms = [x for x in terms if x.item() != NEG_INF]
    if not terms:
        return torch.tensor(NEG_INF, dtype=torch.float64)
    return torch.logsumexp(torch.stack(terms), 0)


def lattice_logprob(arcs: Sequence[Arc], bounds: Tuple[int, int, int, int]) -> Tensor:
    """log P of one sequence by the forward recursion (TDT paper, Eq. 7): node by node in order
    of t then s, alpha(t, s) = log sum over every arc type (kind, dt, ds) of
    alpha(t - dt, s - ds) + log_prob(t - dt, s - ds), over nodes t_begin <= t < t_end; then
    log P = log sum over blank types of alpha(t_end - dt, s_end) + log_prob(t_end - dt, s_end)."""
    s0, t0, s1, t1 = bounds
    alpha: Dict[Tuple[int, int], Tensor] = {}
    for t in range(t0, t1):
        for s in range(s0, s1 + 1):
            if (t, s) == (t0, s0):
                alpha[t, s] = torch.tensor(0.0, dtype=torch.float64)
                continue
            terms = []
            for _, dt, ds, log_prob in arcs:
                src = (t - dt, s - ds)
                if src in alpha:
                    terms.append(alpha[src] + log_prob(*src))
            alpha[t, s] = _log_sum(terms)
    final = []
    for kind, dt, ds, log_prob in arcs:
        src = (t1 - dt, s1)
        if kind == "blank" and src in alpha:
            final.append(alpha[src] + log_prob(*src))
    return _log_sum(final)


def brute_force_logprob(arcs: Sequence[Arc], bounds: Tuple[int, int, int, int]) -> Tensor:
    """log P of one sequence as the log-sum over every complete walk, enumerated one by one from
    (t_begin, s_begin): a symbol arc must land on a node with t < t_end and s <= s_end, a blank
    arc on such a node or exactly on (t_end, s_end), which ends the walk. Exponential: tiny
    lattices only."""
    s0, t0, s1, t1 = bounds
    scores: List[Tensor] = []

    def walk(t: int, s: int, score: Tensor) -> None:
        for kind, dt, ds, log_prob in arcs:
            nt, ns = t + dt, s + ds
            if ns > s1:
                continue
            if kind == "blank" and (nt, ns) == (t1, s1):
                scores.append(score + log_prob(t, s))
            elif nt < t1:
                walk(nt, ns, score + log_prob(t, s))

    if t0 < t1:
        walk(t0, s0, torch.tensor(0.0, dtype=torch.float64))
    return _log_sum(scores)


def num_walks(arcs: Sequence[Arc], bounds: Tuple[int, int, int, int]) -> int:
    """How many complete walks the lattice has (every arc log-prob set to 0 gives log of it)."""
    zero = [(kind, dt, ds, lambda t, s: torch.tensor(0.0, dtype=torch.float64)) for kind, dt, ds, _ in arcs]
    return round(math.exp(brute_force_logprob(zero, bounds).item()))


# ---------------------------------------------------------------------------------------------
# TDT


def _check_durations(durations: Sequence[int]) -> List[int]:
    durations = [int(d) for d in durations]
    assert durations == sorted(set(durations)) and durations[:2] == [0, 1], durations
    return durations


def tdt_arcs(row: Callable[[int, int], Tuple[Tensor, Tensor]], symbols_b: Tensor, termination_symbol: int,
             durations: Sequence[int], fastemit_lambda: float = 0.0) -> List[Arc]:
    """The arc types of one TDT sequence; row(t, s) gives node (t, s)'s token log-probs (C,)
    (sigma already subtracted) and duration log-probs (D,)."""
    durations = _check_durations(durations)

    def symbol(i):
        return lambda t, s: fastemit_scaled(row(t, s)[0][int(symbols_b[s])], fastemit_lambda) + row(t, s)[1][i]

    def blank(i):
        return lambda t, s: row(t, s)[0][termination_symbol] + row(t, s)[1][i]

    arcs = [("symbol", d, 1, symbol(i)) for i, d in enumerate(durations)]
    arcs += [("blank", d, 0, blank(i)) for i, d in enumerate(durations) if d > 0]
    return arcs


def tdt_rows(logits_b: Tensor, num_durations: int, sigma: float) -> Callable[[int, int], Tuple[Tensor, Tensor]]:
    """row(t, s) of logits_b (T, S+1, C + D): (log_softmax of the C token logits - sigma,
    log_softmax of the D duration logits), computed once per node on first use (differentiable)."""
    C = logits_b.size(-1) - num_durations
    rows: Dict[Tuple[int, int], Tuple[Tensor, Tensor]] = {}

    def row(t: int, s: int) -> Tuple[Tensor, Tensor]:
        if (t, s) not in rows:
            x = logits_b[t, s].double()
            rows[t, s] = (_log_softmax_row(x[:C]) - sigma, _log_softmax_row(x[C:]))
        return rows[t, s]

    return row


def multiblank_arcs(lp: Callable[[int, int], Tensor], symbols_b: Tensor, termination_symbol: int,
                    big_blank_durations: Sequence[int], fastemit_lambda: float = 0.0) -> List[Arc]:
    """The arc types of one multi-blank sequence; lp(t, s) gives node (t, s)'s log-probs (C,)
    (sigma already subtracted)."""

    def blank(index):
        return lambda t, s: lp(t, s)[index]

    arcs = [("symbol", 0, 1, lambda t, s: fastemit_scaled(lp(t, s)[int(symbols_b[s])], fastemit_lambda)),
            ("blank", 1, 0, blank(termination_symbol))]
    for i, d in enumerate(big_blank_durations):
        assert d > 1 and termination_symbol - 1 - i >= 0, (big_blank_durations, termination_symbol)
        arcs.append(("blank", int(d), 0, blank(termination_symbol - 1 - i)))
    return arcs


def multiblank_rows(logits_b: Tensor, sigma: float) -> Callable[[int, int], Tensor]:
    """lp(t, s) of logits_b (T, S+1, C): log_softmax - sigma, once per node (differentiable)."""
    rows: Dict[Tuple[int, int], Tensor] = {}

    def lp(t: int, s: int) -> Tensor:
        if (t, s) not in rows:
            rows[t, s] = _log_softmax_row(logits_b[t, s].double()) - sigma
        return rows[t, s]

    return lp


def _batch_loss(arcs_of: Callable[[int], List[Arc]], logits: Tensor, boundary: Optional[Tensor],
                reduction: str, logprob: Callable = lattice_logprob) -> Tensor:
    B, T, S1 = logits.shape[:3]
    logp = torch.stack([logprob(arcs_of(b), _bounds(boundary, b, S1 - 1, T)) for b in range(B)])
    return reduce_reference(logp, reduction)


def omega_draw(omega: float) -> bool:
    """NeMo's per-call choice of the RNN-T loss in TDT training: r < omega for one r uniform in
    [0, 1) from torch's default CPU generator; no draw when omega <= 0."""
    return omega > 0.0 and torch.rand((), dtype=torch.float64).item() < omega


def tdt_loss_reference(logits: Tensor, symbols: Tensor, termination_symbol: int, durations: Sequence[int],
                       boundary: Optional[Tensor] = None, sigma: float = 0.0, omega: float = 0.0,
                       fastemit_lambda: float = 0.0, reduction: str = "mean", *,
                       logprob: Callable = lattice_logprob) -> Tensor:
    """The TDT loss (module docstring), float64, differentiable w.r.t. logits.

    logprob: lattice_logprob (the recursion) or brute_force_logprob (every walk)."""
    if omega_draw(omega):
        C = logits.size(-1) - len(durations)
        return multiblank_rnnt_loss_reference(logits[..., :C], symbols, termination_symbol, [], boundary, 0.0,
                                              fastemit_lambda, reduction, logprob=logprob)
    D = len(durations)
    return _batch_loss(
        lambda b: tdt_arcs(tdt_rows(logits[b], D, sigma), symbols[b], termination_symbol, durations, fastemit_lambda),
        logits, boundary, reduction, logprob)


def multiblank_rnnt_loss_reference(logits: Tensor, symbols: Tensor, termination_symbol: int,
                                   big_blank_durations: Sequence[int], boundary: Optional[Tensor] = None,
                                   sigma: float = 0.0, fastemit_lambda: float = 0.0, reduction: str = "mean", *,
                                   logprob: Callable = lattice_logprob) -> Tensor:
    """The multi-blank loss (module docstring), float64, differentiable w.r.t. logits."""
    return _batch_loss(
        lambda b: multiblank_arcs(multiblank_rows(logits[b], sigma), symbols[b], termination_symbol, big_blank_durations,
                                  fastemit_lambda),
        logits, boundary, reduction, logprob)


# ---------------------------------------------------------------------------------------------
# Hand-computed lattices: logits are logs of chosen probabilities, so every walk's probability is
# a product of simple fractions, added up by hand below.


def hand_tdt_case():
    """TDT, T=2 frames, S=1 symbol, C=3 tokens (blank 0, symbol 1), durations [0, 1, 2].
    Every node: P(blank) = 1/2, P(symbol 1) = 1/4, P(token 2) = 1/4; P(d=0) = 1/2, P(d=1) = 1/4,
    P(d=2) = 1/4. Walks from (t=0, s=0) into (t=2, s=1) (arc = token/duration):
      1/0 then blank/2:            (1/4 * 1/2) * (1/2 * 1/4)               = 1/64  = 8/512
      1/0, blank/1, blank/1:       (1/4 * 1/2) * (1/2 * 1/4) * (1/2 * 1/4) = 1/512
      1/1 then blank/1:            (1/4 * 1/4) * (1/2 * 1/4)               = 1/128 = 4/512
      blank/1, 1/0, blank/1:       (1/2 * 1/4) * (1/4 * 1/2) * (1/2 * 1/4) = 1/512
    (1/2 would land a symbol on t = 2 = T and blank/2 from s = 0 would leave frame 1 unused at
    s = 0 < S: both excluded.) P = 14/512 = 7/256, loss = log(256/7) = 3.599267295...
    With sigma = 0.5 each arc's token log-prob drops by 0.5: P = (12/512) e^-1 + (2/512) e^-1.5.

    Returns (logits (1, 2, 2, 6), symbols (1, 1), termination_symbol, durations, walks, loss)."""
    token = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64).log()
    duration = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64).log()
    logits = torch.cat([token, duration]).expand(1, 2, 2, 6).clone()
    return logits, torch.tensor([[1]]), 0, [0, 1, 2], 4, math.log(256 / 7)


def hand_tdt_sigma_loss(sigma: float) -> float:
    """hand_tdt_case's loss with logit under-normalization sigma (its docstring's last line)."""
    return -math.log(12 / 512 * math.exp(-2 * sigma) + 2 / 512 * math.exp(-3 * sigma))


def hand_multiblank_case():
    """Multi-blank, T=3 frames, S=1 symbol, C=4 (symbols 0, 1; big blank of duration 2 at index
    2; standard blank 3 = termination_symbol). Every node: P(blank) = 1/2, P(big blank) = 1/4,
    P(0) = P(1) = 1/8; symbols = [0].
    The symbol is emitted on frame t in {0, 1, 2}; frames 0..t-1 before it (at s=0) and t..2
    after it (at s=1) are covered by blanks of lengths 1 (1/2) and 2 (1/4). With W(n) the total
    weight of covering n frames: W(0) = 1, W(1) = 1/2, W(2) = 1/2 * 1/2 + 1/4 = 1/2,
    W(3) = W(2)/2 + W(1)/4 = 3/8 (walk counts: 1, 1, 2, 3).
      P = 1/8 * (W(0) W(3) + W(1) W(2) + W(2) W(1)) = 1/8 * (3/8 + 1/4 + 1/4) = 7/64,
    from 3 + 2 + 2 = 7 walks; loss = log(64/7) = 2.212973...

    Returns (logits (1, 3, 2, 4), symbols (1, 1), termination_symbol, big_blank_durations, walks,
    loss)."""
    probs = torch.tensor([1 / 8, 1 / 8, 1 / 4, 1 / 2], dtype=torch.float64)
    logits = probs.log().expand(1, 3, 2, 4).clone()
    return logits, torch.tensor([[0]]), 3, [2], 7, math.log(64 / 7)
