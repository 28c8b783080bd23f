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
