"""Runs every fast_rnnt benchmark on this machine and prints their tables.

    python -m fast_rnnt.benchmark [--device cpu|cuda] [--only recursion losses pruned durations] [--quick]
                                  [--nemo-python VENV/bin/python] [--fast-rnnt-1-3-python PATH]

--fast-rnnt-1-3-python: adds the released fast_rnnt 1.3 (its venv's python) as a baseline of
the recursion, losses and pruned suites (fast_rnnt.benchmark.peers).

--quick: fewer repetitions and only the B=8 batches (a minute or two on a laptop CPU).
Numbers we measured are in BENCHMARKS.md, with the machines and dates.
"""

import argparse
import time

import torch

import fast_rnnt
from fast_rnnt.benchmark import duration_losses, losses, peers, pruned, recursion
from fast_rnnt.benchmark.common import machine

SUITES = {
    "recursion": (recursion, "mutual-information recursion, fwd+bwd, vs the serial loop (and fast_rnnt 1.3)"),
    "losses": (losses, "full and simple RNN-T loss, fwd+bwd, vs ATen compositions"),
    "pruned": (pruned, "pruned training step and pruned loss vs ATen composition"),
    "durations": (duration_losses, "TDT and multi-blank losses, fwd+bwd, vs ATen compositions and NeMo"),
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() and fast_rnnt.with_cuda else "cpu")
    ap.add_argument("--only", nargs="+", choices=list(SUITES), default=list(SUITES))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--nemo-python", help="interpreter with nemo_toolkit, for the durations suite's NeMo rows")
    peers.add_arguments(ap)
    args = ap.parse_args(argv)
    print(f"fast_rnnt {fast_rnnt.__version__} on {args.device}: {machine()}")
    for i, name in enumerate(args.only, 1):
        module, what = SUITES[name]
        print(f"\n[{i}/{len(args.only)}] {name}: {what}", flush=True)
        start = time.perf_counter()
        suite_args = ["--device", args.device]
        if args.quick:
            suite_args += {"recursion": ["--reps", "5"], "losses": ["--repeat", "2", "--batch-sizes", "8"],
                           "pruned": ["--iters", "2", "--batch-sizes", "8", "--quantiles", "0.5"],
                           "durations": ["--repeat", "1", "--methods", "tdt/fast_rnnt", "tdt/aten",
                                         "multiblank/fast_rnnt", "multiblank/aten"]}[name]
        if name == "durations" and args.nemo_python:
            suite_args += ["--nemo-python", args.nemo_python]
        if name != "durations" and args.fast_rnnt_1_3_python:
            suite_args += ["--fast-rnnt-1-3-python", args.fast_rnnt_1_3_python]
        if name == "recursion" and args.device != "cpu":
            suite_args += ["--impl", "fast_rnnt", "--batch-sweep"]  # the serial baseline is CPU code
        module.main(suite_args)
        print(f"({name}: {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
