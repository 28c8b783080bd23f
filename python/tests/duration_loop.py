"""A scalar float64 loop over a duration lattice, written from the TDT / multi-blank papers'
equations (node by node, no waves, no offsets), differentiable by autograd: the check of the
fused ops in test_tdt_loss.py and test_multiblank_loss.py."""

import torch


def _logsumexp(terms):
    return torch.logsumexp(torch.stack(terms), 0)


def lattice_scores(arcs, B, S, T, boundary=None):
    """scores (B,) of the lattice whose arcs leaving node (t, s) of sequence b are
    ``arcs(b, t, s)``: a list of ``(advances_symbol, duration, weight)``. No arc passes the last
    frame; only a blank arc enters the final node."""
    scores = []
    for b in range(B):
        s_begin, t_begin, s_end, t_end = boundary[b].tolist() if boundary is not None else (0, 0, S, T)
        incoming = {(t_begin, s_begin): [torch.zeros((), dtype=torch.float64)]}
        alpha = {}
        for t in range(t_begin, t_end + 1):
            for s in range(s_begin, s_end + 1):
                if (t, s) not in incoming:
                    continue
                alpha[t, s] = _logsumexp(incoming[t, s])
                if t == t_end:
                    continue
                for advances, d, weight in arcs(b, t, s):
                    dst = (t + d, s + advances)
                    if dst[1] > s_end:
                        continue
                    ok = dst[0] <= t_end - 1 or (not advances and dst == (t_end, s_end))
                    if ok:
                        incoming.setdefault(dst, []).append(alpha[t, s] + weight)
        final = alpha.get((t_end, s_end))
        scores.append(final if final is not None else torch.tensor(float("-inf"), dtype=torch.float64))
    return torch.stack(scores)


def tdt_scores(logits, symbols, blank, durations, boundary=None, sigma=0.0):
    B, T, K, CD = logits.shape
    C = CD - len(durations)
    tok = torch.log_softmax(logits[..., :C].double(), -1) - sigma
    dur = torch.log_softmax(logits[..., C:].double(), -1)

    def arcs(b, t, s):
        out = []
        for i, d in enumerate(durations):
            if s < K - 1:
                out.append((1, d, tok[b, t, s, symbols[b, s]] + dur[b, t, s, i]))
            if d > 0:
                out.append((0, d, tok[b, t, s, blank] + dur[b, t, s, i]))
        return out

    return lattice_scores(arcs, B, K - 1, T, boundary)


def multiblank_scores(logits, symbols, blank, big_blank_durations, boundary=None, sigma=0.0):
    B, T, K, C = logits.shape
    lp = torch.log_softmax(logits.double(), -1) - sigma

    def arcs(b, t, s):
        out = [(0, 1, lp[b, t, s, blank])]
        out += [(0, d, lp[b, t, s, blank - 1 - i]) for i, d in enumerate(big_blank_durations)]
        if s < K - 1:
            out.append((1, 0, lp[b, t, s, symbols[b, s]]))
        return out

    return lattice_scores(arcs, B, K - 1, T, boundary)
