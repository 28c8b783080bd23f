"""A short tour of the recursion op (the full transducer demo arrives with the pruned loss).

Builds a random lattice batch with ragged lengths, computes the scores and the arc
occupancies in one call, checks them against autograd and prints a summary.
"""

import time

import torch

import fast_rnnt


def main() -> None:
    torch.manual_seed(0)
    B, S, T = 8, 40, 200
    device = torch.device("cuda" if torch.cuda.is_available() and fast_rnnt.with_cuda else "cpu")
    px = torch.randn(B, S, T + 1, device=device).log_softmax(-1).requires_grad_()
    py = torch.randn(B, S + 1, T, device=device).log_softmax(-1).requires_grad_()
    lengths_s = torch.randint(S // 2, S + 1, (B,))
    lengths_t = torch.randint(T // 2, T + 1, (B,))
    boundary = torch.stack([torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.long), lengths_s, lengths_t], 1).to(device)

    start = time.perf_counter()
    scores, (px_occ, py_occ) = fast_rnnt.mutual_information_recursion(px, py, boundary, return_grad=True)
    (-scores.sum()).backward()
    elapsed = (time.perf_counter() - start) * 1e3

    print(f"fast_rnnt {fast_rnnt.__version__} on {device} (CUDA kernels built: {fast_rnnt.with_cuda})")
    print(f"batch of {B} lattices, up to S={S} symbols x T={T} frames, ragged boundaries")
    print("scores:", " ".join(f"{v:.2f}" for v in scores.tolist()))
    print(f"forward + occupancies + backward: {elapsed:.1f} ms")
    agree = torch.allclose(-px.grad, px_occ) and torch.allclose(-py.grad, py_occ)
    print(f"occupancies equal autograd's gradients: {agree}")
    b = 0
    print(f"sequence 0: {int(lengths_s[b])} symbols over {int(lengths_t[b])} frames; "
          f"expected frame of each symbol (first 10): "
          + " ".join(f"{v:.1f}" for v in (px_occ[b] * torch.arange(T + 1, device=device)).sum(1)[:10].tolist()))


if __name__ == "__main__":
    main()
