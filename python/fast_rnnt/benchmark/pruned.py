"""The whole pruned RNN-T training step on LibriSpeech-shaped batches, fast_rnnt vs. the same
step with the pruned loss composed of ATen ops (k2 style: log_softmax + gather + roll + recursion).

    python -m fast_rnnt.benchmark.pruned [--device cuda] [--batch-sizes 8 16] [--iters 10]

Batches: rows of ../shared/bench/shape_info.pt (or the built-in copies of its buckets) (T, U) sorted by (T, U), contiguous buckets
of B rows at a few quantiles (a duration-sorted sampler). Encoder out (B, T, 512) and decoder
out (B, U+1, 512) are random leaves; projections to C=500 feed rnnt_loss_smoothed(lm_only_scale
=0.25, am_only_scale=0.0, return_grad=True); get_rnnt_prune_ranges(s_range=5); do_rnnt_pruning;
joiner tanh + Linear(512, 500); pruned loss; backward through everything. Prints median times.
"""

import argparse
import statistics
import time

import torch

import fast_rnnt
from fast_rnnt.benchmark.common import librispeech_bucket

C, D, S_RANGE = 500, 512, 5


def k2_style_pruned_loss(logits, symbols, ranges, termination_symbol, boundary):
    """The pruned loss from ATen ops as k2 composes it: a log_softmax of the pruned logits,
    gathers, padding + per-row roll onto the lattice, then the recursion."""
    B, T, s_range, _ = logits.shape
    S = symbols.size(1)
    logp = logits.float().log_softmax(-1)
    padded = torch.cat([symbols, torch.full((B, 1), termination_symbol, dtype=torch.int64, device=symbols.device)], 1)
    window_symbols = torch.gather(padded.unsqueeze(1).expand(B, T, S + 1), 2, ranges)
    px = logp.gather(3, window_symbols.unsqueeze(3)).squeeze(3)
    py = logp[..., termination_symbol]
    neg = torch.full((B, T, S + 1 - s_range), float("-inf"), device=logits.device)

    def roll(x):  # (B, T, S+1): window entry k moves to column ranges[b, t, 0] + k
        idx = (torch.arange(S + 1, device=x.device).view(1, 1, S + 1) - ranges[:, :, :1]) % (S + 1)
        return x.gather(2, idx)

    px = roll(torch.cat([px, neg], 2))[:, :, :S].permute(0, 2, 1)
    px = torch.cat([px, torch.full((B, S, 1), float("-inf"), device=px.device)], 2)
    px = px.scatter(2, boundary[:, 3].view(B, 1, 1).expand(B, S, 1), float("-inf"))
    py = roll(torch.cat([py, neg], 2)).permute(0, 2, 1)
    return -fast_rnnt.mutual_information_recursion(px.contiguous(), py.contiguous(), boundary).sum()


def make_batch(rows, device, dtype):
    g = torch.Generator().manual_seed(0)
    T_b, U_b = rows[:, 0].long(), rows[:, 1].long()
    B, T, S = rows.size(0), int(T_b.max()), int(U_b.max())
    enc = torch.randn(B, T, D, generator=g).to(device=device, dtype=dtype).requires_grad_()
    dec = torch.randn(B, S + 1, D, generator=g).to(device=device, dtype=dtype).requires_grad_()
    symbols = torch.randint(1, C, (B, S), generator=g).to(device)
    boundary = torch.stack([torch.zeros_like(T_b), torch.zeros_like(T_b), U_b, T_b], 1).to(device)
    return enc, dec, symbols, boundary


def build_step(device, dtype, pruned_loss):
    torch.manual_seed(0)
    am_proj = torch.nn.Linear(D, C).to(device, dtype)
    lm_proj = torch.nn.Linear(D, C).to(device, dtype)
    joiner = torch.nn.Linear(D, C).to(device, dtype)

    def step(enc, dec, symbols, boundary):
        simple, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
            lm=lm_proj(dec), am=am_proj(enc), symbols=symbols, termination_symbol=0,
            lm_only_scale=0.25, am_only_scale=0.0, boundary=boundary, reduction="sum", return_grad=True,
        )
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, S_RANGE)
        am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(enc, dec, ranges)
        logits = joiner(torch.tanh(am_pruned + lm_pruned))
        loss = pruned_loss(logits, symbols, ranges, 0, boundary)
        (0.5 * simple + loss).backward()
        return loss

    return step


def fast_rnnt_pruned_loss(logits, symbols, ranges, termination_symbol, boundary):
    return fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, termination_symbol, boundary, reduction="sum")


def timed(fns, args, iters, device):
    """Median seconds of each fn(*args); the fns alternate so that load changes hit both alike."""
    times = [[] for _ in fns]
    for i in range(iters + 1):
        for fn, out in zip(fns, times):
            for a in args[:2]:
                a.grad = None
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn(*args)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= 1:  # the first round warms up
                out.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    p.add_argument("--quantiles", type=float, nargs="+", default=[0.25, 0.5, 0.9])
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    ours = build_step(device, dtype, fast_rnnt_pruned_loss)
    theirs = build_step(device, dtype, k2_style_pruned_loss)
    print(f"device={device} dtype={dtype} threads={torch.get_num_threads()} C={C} D={D} s_range={S_RANGE}; median of {args.iters} steps")
    print("whole step (simple loss, ranges, pruning, joiner, pruned loss, backward) | pruned loss alone (fwd+bwd on fixed logits)")
    print(f"{'B':>3} {'T':>4} {'U':>4} {'fast_rnnt ms':>13} {'aten/k2 ms':>11} {'speedup':>8} | {'fast_rnnt ms':>13} {'aten/k2 ms':>11} {'speedup':>8}")
    for B in args.batch_sizes:
        for q in args.quantiles:
            rows = librispeech_bucket(B, q)
            batch = make_batch(rows, device, dtype)
            la, lb = ours(*batch), theirs(*batch)  # same loss both ways (sanity)
            torch.testing.assert_close(la.float(), lb.float(), rtol=1e-4, atol=1e-2)
            a, b = timed([ours, theirs], batch, args.iters, device)
            # The pruned loss alone, on fixed logits and ranges.
            enc, dec, symbols, boundary = batch
            T, S = enc.size(1), symbols.size(1)
            ranges = torch.clamp(torch.arange(T, device=device) * S // max(T, 1), max=max(S + 1 - S_RANGE, 0))
            ranges = ranges.view(1, T, 1).expand(B, T, S_RANGE) + torch.arange(S_RANGE, device=device)
            logits = torch.randn(B, T, S_RANGE, C, device=device, dtype=dtype, requires_grad=True)

            def loss_only(fn):
                return lambda x, y: fn(x, symbols, ranges, 0, boundary).backward()

            c, d = timed([loss_only(fast_rnnt_pruned_loss), loss_only(k2_style_pruned_loss)], (logits, logits), args.iters, device)
            print(
                f"{B:>3} {int(rows[:, 0].max()):>4} {int(rows[:, 1].max()):>4} {a * 1e3:>13.1f} {b * 1e3:>11.1f} {b / a:>7.2f}x"
                f" | {c * 1e3:>13.1f} {d * 1e3:>11.1f} {d / c:>7.2f}x"
            )


if __name__ == "__main__":
    main()
