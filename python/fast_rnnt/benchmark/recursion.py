"""Forward+backward of the mutual-information recursion: fast_rnnt vs the serial loop.

    python -m fast_rnnt.benchmark.recursion [--impl all|fast_rnnt|naive] [--device cpu|cuda]

Default sizes B=16, S=100, T=500, float32 (regular recursion, no boundary). `naive` is the plain
serial (b, s, t) loop of a straightforward CPU kernel (naive_mutual_information.cpp, compiled on
first use with torch.utils.cpp_extension; CPU only).
"""

import argparse
import os
from pathlib import Path

import torch

import fast_rnnt
from fast_rnnt.benchmark.common import machine, median_time_ms, peak_extra_memory_mib, print_table


def load_naive():
    from torch.utils.cpp_extension import load

    here = Path(__file__).resolve().parent
    return load(
        name="naive_mutual_information",
        sources=[str(here / "naive_mutual_information.cpp")],
        extra_cflags=["-O3"],
        build_directory=str(_build_dir()),
        verbose=False,
    )


def _build_dir() -> Path:
    d = Path(os.environ.get("FAST_RNNT_BENCH_BUILD", Path.home() / ".cache" / "fast_rnnt_bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", choices=["all", "fast_rnnt", "naive"], default="all")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() and fast_rnnt.with_cuda else "cpu")
    ap.add_argument("-B", type=int, default=16)
    ap.add_argument("-S", type=int, default=100)
    ap.add_argument("-T", type=int, default=500)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--batch-sweep", action="store_true",
                    help="also time fast_rnnt at B=1, 2, 4, ..., 64 (the CUDA kernels run one block per "
                         "sequence: below the SM count most of a GPU idles)")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    px = torch.randn(args.B, args.S, args.T + 1, generator=g).to(device)
    py = torch.randn(args.B, args.S + 1, args.T, generator=g).to(device)

    impls = {}
    if args.impl in ("all", "fast_rnnt"):
        def fast():
            a, b = px.detach().requires_grad_(), py.detach().requires_grad_()
            scores = fast_rnnt.mutual_information_recursion(a, b)
            scores.sum().backward()
            return scores.detach(), a.grad, b.grad

        impls["fast_rnnt"] = fast
    if args.impl in ("all", "naive") and device.type == "cpu":
        naive = load_naive()
        impls["naive (serial b,s,t loop)"] = lambda: naive.forward_backward(px, py)

    print(f"mutual_information forward+backward, B={args.B} S={args.S} T={args.T} float32 on {device}")
    print(machine())
    results, rows = {}, {}
    for name, fn in impls.items():
        results[name] = fn()
        mem = peak_extra_memory_mib(fn, device)
        ms = median_time_ms(fn, device, args.reps)
        rows[name] = {"median ms": f"{ms:.2f}", "peak extra MiB": f"{mem:.1f}"}
    if len(results) == 2:
        (fa, fr), (na, nr) = results.items()
        base = float(rows[na]["median ms"])
        for name in rows:
            rows[name]["speed-up vs naive"] = f"{base / float(rows[name]['median ms']):.1f}x"
        rel = ((fr[0] - nr[0]).abs() / nr[0].abs()).max().item()
        grad_err = max((fr[i] - nr[i]).abs().max().item() for i in (1, 2))
        print(f"max relative difference of scores vs naive: {rel:.2e}; max abs difference of grads: {grad_err:.2e}")
    print_table(rows)
    if args.batch_sweep:
        print_table(batch_sweep(args.S, args.T, device, args.reps))


def batch_sweep(S, T, device, reps, batch_sizes=(1, 2, 4, 8, 16, 32, 64)):
    """fast_rnnt forward+backward time at each batch size, float32, (S, T) fixed."""
    g = torch.Generator().manual_seed(1)
    rows = {}
    for B in batch_sizes:
        px = torch.randn(B, S, T + 1, generator=g).to(device).requires_grad_()
        py = torch.randn(B, S + 1, T, generator=g).to(device).requires_grad_()

        def step():
            fast_rnnt.mutual_information_recursion(px, py).sum().backward()

        ms = median_time_ms(step, device, reps)
        rows[f"B={B}"] = {"median ms": f"{ms:.2f}", "ms per sequence": f"{ms / B:.3f}"}
    return rows


if __name__ == "__main__":
    main()
