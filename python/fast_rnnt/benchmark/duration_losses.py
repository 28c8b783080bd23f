"""TDT and multi-blank loss forward + backward on LibriSpeech-shaped CPU batches: fast_rnnt's ops
vs their ATen compositions (duration_baselines) and NeMo's pure-PyTorch losses.

Batches: as fast_rnnt.benchmark.losses (B consecutive utterances at the median of the (T, U)-sorted
LibriSpeech list), C = 1024 tokens with the blank last (NeMo's convention, index 1023), float32,
random logits and tokens, boundary (0, 0, U_b, T_b).
- TDT: durations [0, 1, 2, 3, 4]; logits (B, T, U+1, 1024 + 5), the duration logits last.
- multi-blank: big blanks of durations [2, 3, 4] at indices 1022, 1021, 1020; logits (B, T, U+1, 1024).

Time: median wall time of `repeat` runs of forward + backward after one warm-up run. Memory: each
(method, batch) runs in a fresh subprocess; "peak extra" is the process's peak resident set minus
its resident set right after the inputs were created (inputs excluded), as in losses.py.

NeMo (nemo_toolkit from PyPI, in its own venv: --nemo-python VENV/bin/python) has CUDA-only numba
kernels for these losses; on a CPU its only implementations are TDTLossPytorch and
MultiblankRNNTLossPytorch, Python loops over every lattice node. TDTLossPytorch calls .cuda() on
its scratch tensors, which the child maps to the identity on a machine without CUDA. Their runs
stop after --nemo-timeout seconds.

    python -m fast_rnnt.benchmark.duration_losses [--batch-sizes 8] [--repeat 3] [--threads N]
        [--methods ...] [--nemo-python VENV/bin/python] [--nemo-timeout 600]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

try:
    import fast_rnnt
    from fast_rnnt.benchmark import duration_baselines
    from fast_rnnt.benchmark.common import librispeech_bucket, memory_in_use, peak_memory
except ImportError:  # a baseline-only interpreter (--nemo-python)
    fast_rnnt = None
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import duration_baselines
    from common import librispeech_bucket, memory_in_use, peak_memory

NUM_TOKENS = 1024
BLANK = NUM_TOKENS - 1
DURATIONS = [0, 1, 2, 3, 4]
BIG_BLANK_DURATIONS = [2, 3, 4]


def make_inputs(batch_size: int, loss: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    rows = librispeech_bucket(batch_size, 0.5)
    frames, tokens = rows[:, 0], rows[:, 1]
    B, T, S = batch_size, int(frames.max()), int(tokens.max())
    num_big = len(BIG_BLANK_DURATIONS) if loss == "multiblank" else 0
    symbols = torch.randint(0, BLANK - num_big, (B, S), generator=g)
    extra = len(DURATIONS) if loss == "tdt" else 0
    logits = torch.randn(B, T, S + 1, NUM_TOKENS + extra, generator=g).requires_grad_()
    zeros = torch.zeros(B, dtype=torch.long)
    return dict(logits=logits, symbols=symbols, boundary=torch.stack([zeros, zeros, tokens, frames], 1))


# ---- methods: each returns the summed loss, to be backpropagated -------------------------------


def _fast_rnnt_op(name: str):
    if fast_rnnt is None or not hasattr(fast_rnnt, name):
        raise RuntimeError(f"this fast_rnnt has no {name} (yet)")
    return getattr(fast_rnnt, name)


def tdt_fast_rnnt(logits, symbols, boundary):
    return _fast_rnnt_op("tdt_loss")(logits, symbols, BLANK, DURATIONS, boundary, reduction="sum")


def tdt_aten(logits, symbols, boundary):
    return duration_baselines.tdt_loss(logits, symbols, BLANK, DURATIONS, boundary)


def multiblank_fast_rnnt(logits, symbols, boundary):
    return _fast_rnnt_op("multiblank_rnnt_loss")(logits, symbols, BLANK, BIG_BLANK_DURATIONS, boundary,
                                                 reduction="sum")


def multiblank_aten(logits, symbols, boundary):
    return duration_baselines.multiblank_rnnt_loss(logits, symbols, BLANK, BIG_BLANK_DURATIONS, boundary)


def _nemo_loss(name: str, **kwargs):
    if not torch.cuda.is_available():
        torch.Tensor.cuda = lambda self, *args, **kw: self  # TDTLossPytorch's scratch tensors
    from nemo.collections.asr.losses import rnnt_pytorch

    return getattr(rnnt_pytorch, name)(blank=BLANK, reduction="sum", **kwargs)


def tdt_nemo(logits, symbols, boundary):
    loss = _nemo_loss("TDTLossPytorch", durations=DURATIONS)
    return loss(acts=logits, labels=symbols, act_lens=boundary[:, 3], label_lens=boundary[:, 2])


def multiblank_nemo(logits, symbols, boundary):
    loss = _nemo_loss("MultiblankRNNTLossPytorch", big_blank_durations=BIG_BLANK_DURATIONS)
    return loss(acts=logits, labels=symbols, act_lens=boundary[:, 3], label_lens=boundary[:, 2])


METHODS = {
    "tdt/fast_rnnt": (tdt_fast_rnnt, "tdt"),
    "tdt/aten": (tdt_aten, "tdt"),
    "tdt/nemo": (tdt_nemo, "tdt"),
    "multiblank/fast_rnnt": (multiblank_fast_rnnt, "multiblank"),
    "multiblank/aten": (multiblank_aten, "multiblank"),
    "multiblank/nemo": (multiblank_nemo, "multiblank"),
}


def child(method: str, batch_size: int, repeat: int) -> dict:
    fn, loss_name = METHODS[method]
    inputs = make_inputs(batch_size, loss_name)
    logits = inputs["logits"]
    baseline = memory_in_use(torch.device("cpu"))
    times, value = [], None
    for i in range(repeat + 1):
        logits.grad = None
        t0 = time.perf_counter()
        loss = fn(**inputs)
        loss.backward()
        elapsed = time.perf_counter() - t0
        value = loss.item()
        if i:
            times.append(elapsed)
    peak = peak_memory(torch.device("cpu"))
    return dict(method=method, B=batch_size, shape=str(tuple(logits.shape)), ms=1e3 * statistics.median(times),
                peak_extra_mb=(peak - baseline) / 2**20, logits_mb=logits.numel() * logits.element_size() / 2**20,
                loss=value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", help="only cpu runs (the suite is CPU-only)")
    parser.add_argument("--nemo-python", default=sys.executable, help="interpreter with nemo_toolkit for */nemo")
    parser.add_argument("--nemo-timeout", type=float, default=600.0, help="seconds before a NeMo run is stopped")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.repeat)))
        return
    if args.device != "cpu":
        print(f"durations: CPU-only suite, not run on {args.device}")
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, C={NUM_TOKENS}, TDT durations {DURATIONS}, "
          f"big blanks {BIG_BLANK_DURATIONS}, float32, cpu")
    header = (f"{'method':22s} {'B':>3s} {'logits shape':26s} {'median ms':>10s} {'peak extra MB':>14s} "
              f"{'logits MB':>10s} {'extra/logits':>12s} {'loss':>14s}")
    print(header)
    print("-" * len(header))
    for batch_size in args.batch_sizes:
        for method in args.methods:
            nemo = method.endswith("/nemo")
            cmd = [args.nemo_python if nemo else sys.executable, os.path.abspath(__file__), "--child", method,
                   str(batch_size), "--repeat", str(1 if nemo else args.repeat), "--threads", str(args.threads)]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.nemo_timeout if nemo else None)
            except subprocess.TimeoutExpired:
                print(f"{method:22s} {batch_size:3d} stopped after {args.nemo_timeout:.0f} s (2 runs of fwd+bwd)")
                continue
            if proc.returncode != 0:
                reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
                print(f"{method:22s} {batch_size:3d} skipped: {reason[:100]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{r['method']:22s} {r['B']:3d} {r['shape']:26s} {r['ms']:10.1f} {r['peak_extra_mb']:14.1f} "
                  f"{r['logits_mb']:10.1f} {r['peak_extra_mb'] / r['logits_mb']:12.2f} {r['loss']:14.4f}", flush=True)


if __name__ == "__main__":
    main()
