"""fast_rnnt.duration_lattice (the leaf recursion of tdt_loss and multiblank_rnnt_loss) at the
edges of its CPU kernel's SIMD loops: lattice sizes S+1 and T around multiples of the vector
widths (4 doubles, 8 floats with AVX2) and of the 16 lanes the wave rows are padded to, with
ragged and offset boundaries so that each sequence's waves have their own lengths. Scores and
gradients against a float64 forward-backward written here from the lattice's definition
(include/fast_rnnt/duration_lattice.h), in plain Python floats."""

import math

import pytest
import torch

import fast_rnnt

NEG_INF = float("-inf")

# (symbol durations, blank durations): TDT {0..4} and multi-blank with big blanks 2, 4, 8.
DURATIONS = {"tdt01234": ([0, 1, 2, 3, 4], [1, 2, 3, 4]), "multiblank1248": ([1], [1, 2, 4, 8])}


def _log_sum(terms):
    terms = [x for x in terms if x != NEG_INF]
    if not terms:
        return NEG_INF
    m = max(terms)
    return m + math.log(sum(math.exp(x - m) for x in terms))


def _arcs(t, s, T, S, sd, bd):
    """The arcs out of local node (t, s): (kind, column, end node)."""
    out = []
    for i, d in enumerate(sd):  # symbol: may not end on the last frame
        if s + 1 <= S and t + d < T:
            out.append(("symbol", i, (t + d, s + 1)))
    for j, d in enumerate(bd):  # blank: only the final node may be on the last frame
        if t + d < T or (t + d, s) == (T, S):
            out.append(("blank", j, (t + d, s)))
    return out


def reference(sw, bw, sd, bd, boundary):
    """Scores (B,) and d score / d weights by alpha-beta in float64, sequence by sequence."""
    B, T_all, K, _ = sw.shape
    sw64, bw64 = sw.double(), bw.double()
    scores = torch.empty(B, dtype=torch.float64)
    sg, bg = torch.zeros_like(sw64), torch.zeros_like(bw64)
    for b in range(B):
        s0, t0, s1, t1 = boundary[b].tolist() if boundary is not None else (0, 0, K - 1, T_all)
        S, T = s1 - s0, t1 - t0
        ws = sw64[b, t0:t1, s0:s1 + 1].tolist()
        wb = bw64[b, t0:t1, s0:s1 + 1].tolist()
        weight = lambda kind, c, t, s: (ws if kind == "symbol" else wb)[t][s][c]
        nodes = [(t, s) for t in range(T + 1) for s in range(S + 1)]  # sources before ends
        incoming = {n: [] for n in nodes}
        for t, s in nodes:
            if t < T:
                for kind, c, end in _arcs(t, s, T, S, sd, bd):
                    incoming[end].append((kind, c, (t, s)))
        alpha = {}
        for n in nodes:
            alpha[n] = 0.0 if n == (0, 0) else _log_sum(
                [alpha[src] + weight(kind, c, *src) for kind, c, src in incoming[n]])
        beta = {}
        for t, s in reversed(nodes):
            out = _arcs(t, s, T, S, sd, bd) if t < T else []
            beta[t, s] = 0.0 if (t, s) == (T, S) else _log_sum(
                [weight(kind, c, t, s) + beta[end] for kind, c, end in out])
        score = alpha[T, S]
        scores[b] = score
        if score == NEG_INF:
            continue
        for end, arcs in incoming.items():
            for kind, c, (t, s) in arcs:
                x = alpha[t, s] + weight(kind, c, t, s) + beta[end] - score
                if x != NEG_INF:
                    (sg if kind == "symbol" else bg)[b, t0 + t, s0 + s, c] = math.exp(x)
    return scores, sg, bg


def random_case(seed, S, T, sd, bd, dtype):
    """Log-probability-like weights, ~5% -inf; sequence 0 spans everything, the others have
    ragged ends and offset begins around it."""
    g = torch.Generator().manual_seed(seed)

    def weights(n):
        w = -torch.rand(5, T, S + 1, n, generator=g, dtype=torch.float64) * 3 - 0.05
        return w.masked_fill(torch.rand(w.shape, generator=g) < 0.05, NEG_INF).to(dtype)

    boundary = torch.tensor([[0, 0, S, T], [0, 0, max(S - 1, 0), T - 1], [1 % (S + 1), 0, S, T],
                             [0, 1, S, T], [S // 2, T // 3, S, T - T // 4]])
    return weights(len(sd)), weights(len(bd)), boundary


# S+1 in {1, 4, 7, 8, 9, 15, 16, 17, 24, 32, 33} and T alike: a wave of n nodes ends its SIMD
# loop on every remainder n mod 8 somewhere, and the rows' padding on both sides of 16.
SIZES = [(0, 5), (3, 8), (6, 9), (7, 7), (8, 16), (14, 17), (15, 15), (16, 4), (23, 24),
         (31, 9), (32, 33)]


@pytest.mark.parametrize("durations", sorted(DURATIONS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("S,T", SIZES)
def test_matches_alpha_beta_at_simd_edges(durations, dtype, S, T):
    sd, bd = DURATIONS[durations]
    sw, bw, boundary = random_case(S * 100 + T, S, T, sd, bd, dtype)
    tol = {"rtol": 1e-11, "atol": 1e-11} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 2e-5}
    for bnd in (None, boundary):
        ref, ref_sg, ref_bg = reference(sw, bw, sd, bd, bnd)
        a, b = sw.clone().requires_grad_(True), bw.clone().requires_grad_(True)
        scores = fast_rnnt.duration_lattice(a, b, sd, bd, bnd)
        torch.testing.assert_close(scores.double(), ref, **tol)
        sg, bg = torch.autograd.grad(scores.sum(), (a, b))  # unreachable sequences: 0
        torch.testing.assert_close(sg.double(), ref_sg, **tol)
        torch.testing.assert_close(bg.double(), ref_bg, **tol)
