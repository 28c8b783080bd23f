"""Forward+backward of the mutual-information recursion: fast_rnnt vs fast_rnnt 1.3 and the serial
loop.

    python -m fast_rnnt.benchmark.recursion [--impl all|fast_rnnt|naive] [--device cpu|cuda]
                                            [--fast-rnnt-1-3-python PATH]

Default sizes B=16, S=100, T=500, float32 (regular recursion, no boundary), inputs from seed 0.
`naive` is the plain serial (b, s, t) loop of a straightforward CPU kernel
(naive_mutual_information.cpp, compiled on first use with torch.utils.cpp_extension; CPU only).
`fast_rnnt 1.3` is the released package (see fast_rnnt.benchmark.peers). Each implementation runs
in its own process on the same inputs; scores and gradients are checked against fast_rnnt's.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

try:
    from fast_rnnt.benchmark import peers
    from fast_rnnt.benchmark.common import machine, median_time_ms, peak_extra_memory_mib, print_table
except ImportError:  # a peer's interpreter (its fast_rnnt has no benchmark package)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peers
    from common import machine, median_time_ms, peak_extra_memory_mib, print_table

NAIVE = "naive (serial b,s,t loop)"


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


def child(impl, args):
    """Times impl on the seed-0 inputs; saves scores and gradients to args.save."""
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    px = torch.randn(args.B, args.S, args.T + 1, generator=g).to(device)
    py = torch.randn(args.B, args.S + 1, args.T, generator=g).to(device)
    if impl == NAIVE:
        naive = load_naive()
        fn = lambda: naive.forward_backward(px, py)  # noqa: E731
    else:
        lib = peers.library(impl)

        def fn():
            a, b = px.detach().requires_grad_(), py.detach().requires_grad_()
            scores = peers.recursion(lib, a, b)
            scores.sum().backward()
            return scores.detach(), a.grad, b.grad

    scores, px_grad, py_grad = fn()
    torch.save({"loss_scores": scores.cpu(), "px_grad": px_grad.cpu(), "py_grad": py_grad.cpu()}, args.save)
    mem = peak_extra_memory_mib(fn, device)
    ms = median_time_ms(fn, device, args.reps)
    return {"median ms": f"{ms:.2f}", "peak extra MiB": f"{mem:.1f}"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impl", choices=["all", "fast_rnnt", "naive"], default="all",
                    help="fast_rnnt: without the serial loop (fast_rnnt 1.3 still runs when its python is given)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("-B", type=int, default=16)
    ap.add_argument("-S", type=int, default=100)
    ap.add_argument("-T", type=int, default=500)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--batch-sweep", action="store_true",
                    help="also time fast_rnnt at B=1, 2, 4, ..., 64 (the CUDA kernels run one block per "
                         "sequence: below the SM count most of a GPU idles)")
    peers.add_arguments(ap)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--save", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args.child, args)))
        return

    impls = [NAIVE] if args.impl == "naive" else peers.available(args)
    if args.impl == "all" and args.device == "cpu":
        impls.insert(1, NAIVE)
    print(f"mutual_information forward+backward, B={args.B} S={args.S} T={args.T} float32 on {args.device}")
    print(machine())
    rows, saved = {}, {}
    flags = ["-B", str(args.B), "-S", str(args.S), "-T", str(args.T), "--reps", str(args.reps),
             "--device", args.device, "--threads", str(args.threads)]
    with tempfile.TemporaryDirectory() as tmp:
        for i, impl in enumerate(impls):
            path = os.path.join(tmp, f"{i}.pt")
            python = sys.executable if impl == NAIVE else peers.python_for(impl, args)
            proc = subprocess.run([python, os.path.abspath(__file__), "--child", impl, "--save", path] + flags,
                                  capture_output=True, text=True, env=peers.env_for(impl))
            if proc.returncode != 0:
                lines = proc.stderr.strip().splitlines()
                print(f"  ({impl} skipped: {lines[-1] if lines else f'exit {proc.returncode}'})")
                continue
            rows[impl] = json.loads(proc.stdout.strip().splitlines()[-1])
            saved[impl] = torch.load(path, weights_only=True)
    ours_ms = float(rows[peers.OURS]["median ms"]) if peers.OURS in rows else None
    for impl, row in rows.items():
        if ours_ms is not None:
            row["fast_rnnt speed-up"] = f"{float(row['median ms']) / ours_ms:.1f}x"
        if impl == peers.OURS and len(rows) > 1:
            row["same results"] = "(the reference)"
        elif impl != peers.OURS and peers.OURS in saved:
            problem = peers.compare(saved[peers.OURS], saved[impl])
            row["same results"] = "no: " + problem if problem else (
                f"yes (grads within {peers.max_grad_difference(saved[peers.OURS], saved[impl]):.1e} of their largest magnitude)")
    print_table(rows)
    if args.batch_sweep:
        print_table(batch_sweep(args.S, args.T, torch.device(args.device), args.reps))


def batch_sweep(S, T, device, reps, batch_sizes=(1, 2, 4, 8, 16, 32, 64)):
    """fast_rnnt's forward+backward time at each batch size (one block per sequence on CUDA)."""
    import fast_rnnt

    rows = {}
    g = torch.Generator().manual_seed(0)
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
