"""The named baselines of the TDT and multi-blank benchmarks: each loss composed of ATen ops with
autograd, the way a PyTorch user writes it without a kernel (NeMo's pure-PyTorch losses, but
vectorized): log_softmax of the logits' size, gathers of the arc log-probs, then the forward
recursion one anti-diagonal t + s = n of the (T, S+1) lattice at a time.

Every arc of these lattices moves from (t, s) to (t + dt, s + ds) with dt + ds >= 1, so node
(t, s) on diagonal n only reads diagonals n - 1, n - 2, ...: each step is a handful of (B, T)
ops. Semantics: those of fast_rnnt.tdt_loss / fast_rnnt.multiblank_rnnt_loss (python/tests/
tdt_reference.py) for boundaries (0, 0, S_b, T_b), summed over the batch.

Imports only torch, like aten_baselines.
"""

from typing import List, Sequence, Tuple

import torch
from torch import Tensor

# -inf stand-in: a finite value keeps logsumexp's backward free of nan where every term is
# "impossible" (-inf - -inf), and is still exp() = 0 against any real log-probability.
_IMPOSSIBLE = -1e30


def _lattice_logprob(arc_types: Sequence[Tuple[int, int]], weights: Tensor, boundary: Tensor) -> Tensor:
    """(B,) log-probability of reaching (T_b, S_b) from (0, 0).

    arc_types: (dt, ds) per arc type k; weights (B, T, S+1, K): the log-prob of arc type k
    leaving node (t, s). Intermediate nodes have t < T_b; the final node is entered only by the
    arc types with ds = 0 (blanks), landing exactly on T_b."""
    B, T, S1, K = weights.shape
    device = weights.device
    N = T + S1 - 1
    t_grid = torch.arange(T, device=device).expand(N, T)
    s_grid = torch.arange(N, device=device)[:, None] - t_grid  # s of diagonal n at position t
    on_lattice = (s_grid >= 0) & (s_grid < S1)
    # Skew once: diag_weights[b, n, t, k] = weights[b, t, n - t, k] (0 off the lattice).
    diag_weights = torch.where(on_lattice[None, :, :, None], weights[:, t_grid, s_grid.clamp(0, S1 - 1)], 0.0)
    alphas: List[Tensor] = [weights.new_full((B, T), _IMPOSSIBLE).index_fill(1, torch.tensor([0], device=device), 0.0)]
    for n in range(1, N):
        terms = []
        for k, (dt, ds) in enumerate(arc_types):
            m = n - dt - ds
            if m < 0 or dt >= T:
                continue
            src = alphas[m] + diag_weights[:, m, :, k]  # arcs leaving diagonal m, by source t
            terms.append(torch.cat([src.new_full((B, dt), _IMPOSSIBLE), src[:, : T - dt]], 1) if dt else src)
        alpha = torch.stack(terms).logsumexp(0)
        alphas.append(torch.where(on_lattice[n], alpha, _IMPOSSIBLE))
    alpha = torch.stack(alphas, 1)  # (B, N, T): node (t, s) at [t + s, t]
    S_b, T_b = boundary[:, 2], boundary[:, 3]
    batch = torch.arange(B, device=device)
    final = []
    for k, (dt, ds) in enumerate(arc_types):
        if ds == 0:
            t = T_b - dt
            ok = t >= 0
            t = t.clamp(min=0)
            term = alpha[batch, t + S_b, t] + weights[batch, t, S_b, k]
            final.append(torch.where(ok, term, _IMPOSSIBLE))
    return torch.stack(final).logsumexp(0)


def _symbol_logprobs(lp: Tensor, symbols: Tensor) -> Tensor:
    """lp[b, t, s, symbols[b, s]] as (B, T, S+1), 0 at s = S."""
    B, T, S1, _ = lp.shape
    padded = torch.cat([symbols, symbols.new_zeros(B, 1)], 1)
    return lp.gather(3, padded[:, None, :, None].expand(B, T, S1, 1)).squeeze(3)


def tdt_loss(logits: Tensor, symbols: Tensor, termination_symbol: int, durations: Sequence[int],
             boundary: Tensor, sigma: float = 0.0) -> Tensor:
    """Summed TDT loss on logits (B, T, S+1, C + D), boundary rows (0, 0, S_b, T_b)."""
    D = len(durations)
    token_lp = logits[..., :-D].log_softmax(-1) - sigma
    duration_lp = logits[..., -D:].log_softmax(-1)
    sym = _symbol_logprobs(token_lp, symbols)
    blank = token_lp[..., termination_symbol]
    arc_types = [(d, 1) for d in durations] + [(d, 0) for d in durations if d > 0]
    weights = torch.cat([sym.unsqueeze(3) + duration_lp,
                         blank.unsqueeze(3) + duration_lp[..., [i for i, d in enumerate(durations) if d > 0]]], 3)
    return -_lattice_logprob(arc_types, weights, boundary).sum()


def multiblank_rnnt_loss(logits: Tensor, symbols: Tensor, termination_symbol: int,
                         big_blank_durations: Sequence[int], boundary: Tensor, sigma: float = 0.0) -> Tensor:
    """Summed multi-blank loss on logits (B, T, S+1, C), boundary rows (0, 0, S_b, T_b); big
    blank i is token termination_symbol - 1 - i."""
    lp = logits.log_softmax(-1) - sigma
    blanks = [termination_symbol] + [termination_symbol - 1 - i for i in range(len(big_blank_durations))]
    arc_types = [(0, 1), (1, 0)] + [(d, 0) for d in big_blank_durations]
    weights = torch.cat([_symbol_logprobs(lp, symbols).unsqueeze(3), lp[..., blanks]], 3)
    return -_lattice_logprob(arc_types, weights, boundary).sum()
