"""RNN-T loss forward + backward on LibriSpeech-shaped CPU batches: fast_rnnt vs ATen
compositions, fast_rnnt 1.3 (with --fast-rnnt-1-3-python) and torchaudio (when it imports).

Batches: ../shared/bench/shape_info.pt, or the built-in copies of its buckets ((N, 2) int32 rows of T frames, U tokens), sorted by
(T, U); the bucket of B consecutive utterances around the median (what a duration-sorted sampler
gives). C = 500, blank = 0, float32, random logits and tokens, boundary (0, 0, U_b, T_b).

Time: median wall time of `repeat` runs of forward + backward after one warm-up run.
Memory: each (method, batch) runs in a fresh subprocess; "peak extra" is the process's peak
resident set size (getrusage ru_maxrss) minus its resident set size right after the inputs were
created, i.e. everything forward + backward allocate at their peak (outputs, saved tensors,
gradients), inputs excluded. CPU allocations go straight to malloc/mmap, so RSS tracks them.

    python -m fast_rnnt.benchmark.losses [--batch-sizes 8 16] [--repeat 5] [--num-classes 500]
                                         [--threads N] [--baseline-python VENV/bin/python]
                                         [--fast-rnnt-1-3-python PATH]

fast_rnnt 1.3 runs the same inputs (same seed); its loss and input gradients are checked against
fast_rnnt's (fast_rnnt.benchmark.peers.compare) and the result printed after the table.

On a shared or oversubscribed machine use --threads 1: every intra-op parallel region waits for its
worker threads to be scheduled, which there costs milliseconds per ATen op and swamps the timings.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

try:
    import fast_rnnt
    from fast_rnnt.benchmark import aten_baselines, peers
    from fast_rnnt.benchmark.common import librispeech_bucket, memory_in_use, peak_memory
except ImportError:  # a baseline's interpreter: torchaudio's venv, or fast_rnnt 1.3's
    try:
        import fast_rnnt
    except ImportError:
        fast_rnnt = None
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import aten_baselines
    import peers
    from common import librispeech_bucket, memory_in_use, peak_memory

def bucket(batch_size: int):
    """(T_b, U_b) of B consecutive utterances at the median of the (T, U)-sorted list."""
    rows = librispeech_bucket(batch_size, 0.5)
    return rows[:, 0], rows[:, 1]


def make_inputs(batch_size: int, num_classes: int, full: bool, seed: int = 0, device: str = "cpu"):
    g = torch.Generator().manual_seed(seed)
    frames, tokens = bucket(batch_size)
    B, T, S, C = batch_size, int(frames.max()), int(tokens.max()), num_classes
    symbols = torch.randint(1, C, (B, S), generator=g).to(device)
    boundary = torch.stack([torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.long), tokens, frames], 1).to(device)
    if full:
        logits = torch.randn(B, T, S + 1, C, generator=g).to(device).requires_grad_()
        return dict(logits=logits, symbols=symbols, boundary=boundary)
    lm = torch.randn(B, S + 1, C, generator=g).to(device).requires_grad_()
    am = torch.randn(B, T, C, generator=g).to(device).requires_grad_()
    return dict(lm=lm, am=am, symbols=symbols, boundary=boundary)


# ---- methods: each returns the summed loss, to be backpropagated -------------------------------

def full_fast_rnnt(logits, symbols, boundary):
    return peers.rnnt_loss(fast_rnnt, logits, symbols, boundary)


def full_torchaudio(logits, symbols, boundary):
    import torchaudio.functional as F

    return F.rnnt_loss(logits, symbols.int(), boundary[:, 3].int(), boundary[:, 2].int(), blank=0, reduction="sum")


def simple_fast_rnnt(lm, am, symbols, boundary):
    return peers.rnnt_loss_simple(fast_rnnt, lm, am, symbols, boundary)


# method -> (the summed loss, whether it reads joiner logits, the library it times); the
# fast_rnnt 1.3 methods run the fast_rnnt ones in fast_rnnt 1.3's interpreter.
METHODS = {
    "rnnt_loss/fast_rnnt": (full_fast_rnnt, True, peers.OURS),
    "rnnt_loss/fast_rnnt 1.3": (full_fast_rnnt, True, peers.FAST_RNNT_1_3),
    "rnnt_loss/aten+recursion": (aten_baselines.rnnt_loss, True, peers.OURS),
    "rnnt_loss/torchaudio": (full_torchaudio, True, None),
    "simple/fast_rnnt": (simple_fast_rnnt, False, peers.OURS),
    "simple/fast_rnnt 1.3": (simple_fast_rnnt, False, peers.FAST_RNNT_1_3),
    "simple/aten(k2)+recursion": (aten_baselines.rnnt_loss_simple, False, peers.OURS),
}


def gradient_accuracy(batch_size: int, num_classes: int, device: str) -> dict:
    """Max abs error of the float32 logits gradient against a float64 run of the ATen
    composition, for fast_rnnt and for the float32 ATen composition."""
    inputs = make_inputs(batch_size, num_classes, True, device=device)
    logits64 = inputs["logits"].detach().double().requires_grad_()
    aten_baselines.rnnt_loss(logits64, inputs["symbols"], inputs["boundary"]).backward()
    errors = {}
    for name, fn in (("fast_rnnt", full_fast_rnnt), ("aten+recursion", aten_baselines.rnnt_loss)):
        logits = inputs["logits"].detach().clone().requires_grad_()
        fn(logits, inputs["symbols"], inputs["boundary"]).backward()
        errors[name] = (logits.grad.double() - logits64.grad).abs().max().item()
    return errors


def child(method: str, batch_size: int, num_classes: int, repeat: int, device: str, save: str) -> dict:
    fn, full, lib = METHODS[method]
    if lib is not None:
        peers.library(lib)  # the interpreter imports the library this method times
    inputs = make_inputs(batch_size, num_classes, full, device=device)
    grads = [v for v in inputs.values() if v.requires_grad]
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    baseline = memory_in_use(torch.device(device))
    times, value = [], None
    for i in range(repeat + 1):
        for g in grads:
            g.grad = None
        t0 = time.perf_counter()
        loss = fn(**inputs)
        loss.backward()
        if cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        value = loss.item()
        if i:
            times.append(elapsed)
    peak = peak_memory(torch.device(device))
    torch.save({"loss": loss.detach().cpu(), **{f"{k}.grad": v.grad.cpu() for k, v in inputs.items() if v.requires_grad}},
               save)
    shape = tuple(inputs["logits"].shape) if full else (tuple(inputs["lm"].shape), tuple(inputs["am"].shape))
    input_bytes = sum(v.numel() * v.element_size() for v in inputs.values())
    return dict(method=method, B=batch_size, shape=str(shape), ms=1e3 * statistics.median(times),
                peak_extra_mb=(peak - baseline) / 2**20, input_mb=input_bytes / 2**20, loss=value)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--num-classes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--grad-accuracy", action="store_true",
                        help="also compare float32 logits gradients with a float64 run (max abs error)")
    parser.add_argument("--baseline-python", default=sys.executable,
                        help="interpreter for the torchaudio method (a venv with torch + torchaudio)")
    peers.add_arguments(parser)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "B"), help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.num_classes, args.repeat, args.device,
                               args.save)))
        return
    if not args.fast_rnnt_1_3_python:
        args.methods = [m for m in args.methods if METHODS[m][2] != peers.FAST_RNNT_1_3]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, C={args.num_classes}, float32, {args.device}")
    header = f"{'method':28s} {'B':>3s} {'shape':34s} {'median ms':>10s} {'peak extra MB':>14s} {'inputs MB':>10s} {'loss':>12s}"
    print(header)
    print("-" * len(header))
    tmp = tempfile.TemporaryDirectory()
    agreement = []
    for batch_size in args.batch_sizes:
        saved = {}
        for method in args.methods:
            lib = METHODS[method][2]
            python = args.baseline_python if lib is None else peers.python_for(lib, args)
            path = os.path.join(tmp.name, f"{len(saved)}.pt")
            proc = subprocess.run(
                [python, __file__, "--child", method, str(batch_size), "--num-classes", str(args.num_classes),
                 "--repeat", str(args.repeat), "--threads", str(args.threads), "--device", args.device,
                 "--save", path],
                capture_output=True, text=True, env=peers.env_for(lib),
            )
            if proc.returncode != 0:
                reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
                print(f"{method:28s} {batch_size:3d} skipped: {reason[:80]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            saved[method] = torch.load(path, weights_only=True)
            print(f"{r['method']:28s} {r['B']:3d} {r['shape']:34s} {r['ms']:10.1f} {r['peak_extra_mb']:14.1f} "
                  f"{r['input_mb']:10.1f} {r['loss']:12.4f}")
        for method in saved:
            ours = method.replace(peers.FAST_RNNT_1_3, peers.OURS)
            if METHODS[method][2] == peers.FAST_RNNT_1_3 and ours in saved:
                problem = peers.compare(saved[ours], saved[method])
                agreement.append(f"B={batch_size} {method} vs {ours}: " + (f"DIFFER: {problem}" if problem else (
                    f"same loss, gradients within {peers.max_grad_difference(saved[ours], saved[method]):.1e} of their largest magnitude")))
    tmp.cleanup()
    for line in agreement:
        print(line)
    # Last: its float64 run would raise the peak memory that the children above inherit.
    for batch_size in args.batch_sizes if args.grad_accuracy and fast_rnnt is not None else []:
        errors = gradient_accuracy(batch_size, args.num_classes, args.device)
        print(f"B={batch_size}: max abs error of the float32 logits gradient vs float64: "
              + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))


if __name__ == "__main__":
    main()
