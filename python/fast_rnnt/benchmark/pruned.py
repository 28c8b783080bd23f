"""The whole pruned RNN-T training step on LibriSpeech-shaped batches: fast_rnnt, the same step
composed of ATen ops as k2 composes it, and a full-loss step with torchaudio's rnnt_loss.

    python -m fast_rnnt.benchmark.pruned [--device cuda] [--batch-sizes 8 16] [--iters 5]
                                         [--baseline-python TORCHAUDIO_VENV/bin/python]

Batches: rows (T, U) of ../shared/bench/shape_info.pt (or the built-in copies of its buckets)
sorted by (T, U); contiguous buckets of B rows at a few quantiles (a duration-sorted sampler).
Encoder out (B, T, 512) and decoder out (B, U+1, 512) are random leaves, C = 500, blank = 0.

- fast_rnnt: projections to C feed rnnt_loss_smoothed(lm_only_scale=0.25, am_only_scale=0,
  return_grad=True); get_rnnt_prune_ranges(s_range=5); do_rnnt_pruning; joiner tanh +
  Linear(512, C); rnnt_loss_pruned; backward through everything (0.5 * simple + pruned).
- aten: the same step with the smoothed loss, the pruning and the pruned loss composed of ATen
  ops as k2 does (fast_rnnt.benchmark.aten_baselines; the prune ranges are an ATen composition in
  both steps).
- torchaudio: the full-loss step: joiner on the whole (B, T, U+1) lattice, torchaudio's rnnt_loss,
  backward. Runs in --baseline-python (a venv with torch and torchaudio; fast_rnnt not needed).

Each (method, batch) runs in a fresh process. Time: median of --iters steps after one warm-up.
Peak extra: the process's peak resident set (CUDA: the allocator's peak) minus its size once
the model and inputs exist. "joiner mm" is the joiner Linear's forward + backward alone on the
pruned (B, T, 5, 512) input; "loss parts" is the step minus it: everything but the joiner's
matrix products.
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
    from fast_rnnt.benchmark import aten_baselines
    from fast_rnnt.benchmark.common import librispeech_bucket, memory_in_use, peak_memory
except ImportError:  # a baseline-only interpreter (--baseline-python), e.g. torchaudio's venv
    fast_rnnt = None
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import aten_baselines
    from common import librispeech_bucket, memory_in_use, peak_memory

C, D, S_RANGE = 500, 512, 5
LM_ONLY_SCALE = 0.25
METHODS = ("fast_rnnt", "aten", "torchaudio")


def make_batch(rows, device):
    g = torch.Generator().manual_seed(0)
    T_b, U_b = rows[:, 0].long(), rows[:, 1].long()
    B, T, S = rows.size(0), int(T_b.max()), int(U_b.max())
    enc = torch.randn(B, T, D, generator=g).to(device).requires_grad_()
    dec = torch.randn(B, S + 1, D, generator=g).to(device).requires_grad_()
    symbols = torch.randint(1, C, (B, S), generator=g).to(device)
    boundary = torch.stack([torch.zeros_like(T_b), torch.zeros_like(T_b), U_b, T_b], 1).to(device)
    return enc, dec, symbols, boundary


def build_step(method, device):
    """step(enc, dec, symbols, boundary) -> the loss, after its backward."""
    torch.manual_seed(0)
    am_proj, lm_proj, joiner = (torch.nn.Linear(D, C).to(device) for _ in range(3))

    if method == "torchaudio":
        import torchaudio.functional

        def full_step(enc, dec, symbols, boundary):
            logits = joiner(torch.tanh(enc.unsqueeze(2) + dec.unsqueeze(1)))
            loss = torchaudio.functional.rnnt_loss(
                logits, symbols.int(), boundary[:, 3].int(), boundary[:, 2].int(), blank=0, reduction="sum")
            loss.backward()
            return loss

        return full_step

    def pruned_step(enc, dec, symbols, boundary):
        if method == "fast_rnnt":
            simple, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
                lm=lm_proj(dec), am=am_proj(enc), symbols=symbols, termination_symbol=0,
                lm_only_scale=LM_ONLY_SCALE, am_only_scale=0.0, boundary=boundary, reduction="sum", return_grad=True)
            ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, S_RANGE)
            am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(enc, dec, ranges)
            logits = joiner(torch.tanh(am_pruned + lm_pruned))
            loss = fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, boundary, reduction="sum")
        else:
            simple, (px_grad, py_grad) = aten_baselines.rnnt_loss_smoothed_with_grad(
                lm_proj(dec), am_proj(enc), symbols, LM_ONLY_SCALE, 0.0, boundary)
            ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, S_RANGE)
            am_pruned, lm_pruned = aten_baselines.do_rnnt_pruning(enc, dec, ranges)
            logits = joiner(torch.tanh(am_pruned + lm_pruned))
            loss = aten_baselines.rnnt_loss_pruned(logits, symbols, ranges, boundary)
        (0.5 * simple + loss).backward()
        return loss

    return pruned_step


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _median_ms(fn, leaves, iters, device):
    times = []
    for i in range(iters + 1):
        for x in leaves:
            x.grad = None
        _sync(device)
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        if i:  # the first run warms up
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times), out


def joiner_matmul_ms(B, T, iters, device):
    """Forward + backward of the joiner's Linear(D, C) alone on a (B, T, s_range, D) input."""
    joiner = torch.nn.Linear(D, C).to(device)
    x = torch.randn(B, T, S_RANGE, D, device=device, requires_grad=True)
    grad = torch.randn(B, T, S_RANGE, C, device=device)
    ms, _ = _median_ms(lambda: joiner(x).backward(grad), [x], iters, device)
    return ms


def part_times(batch_size, quantile, iters, device):
    """{part: (fast_rnnt ms, aten ms)}: forward + backward of each part that differs between the
    two pruned steps, alone, on the bucket's shapes (projected lm/am and pruned logits random)."""
    enc, dec, symbols, boundary = make_batch(librispeech_bucket(batch_size, quantile), device)
    B, T, S = enc.size(0), enc.size(1), symbols.size(1)
    g = torch.Generator().manual_seed(1)
    am = torch.randn(B, T, C, generator=g).to(device).requires_grad_()
    lm = torch.randn(B, S + 1, C, generator=g).to(device).requires_grad_()
    logits = torch.randn(B, T, S_RANGE, C, generator=g).to(device).requires_grad_()
    grad = torch.randn(B, T, S_RANGE, D, generator=g).to(device)
    _, occupancies = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, return_grad=True)
    ranges = fast_rnnt.get_rnnt_prune_ranges(*occupancies, boundary, S_RANGE)

    def smoothed(impl):
        if impl == "fast_rnnt":
            return lambda: fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, LM_ONLY_SCALE, 0.0, boundary,
                                                        reduction="sum", return_grad=True)[0].backward()
        return lambda: aten_baselines.rnnt_loss_smoothed_with_grad(lm, am, symbols, LM_ONLY_SCALE, 0.0, boundary)[0].backward()

    def pruning(impl):
        fn = fast_rnnt.do_rnnt_pruning if impl == "fast_rnnt" else aten_baselines.do_rnnt_pruning
        return lambda: torch.autograd.backward(fn(enc, dec, ranges), [grad, grad])

    def pruned_loss(impl):
        if impl == "fast_rnnt":
            return lambda: fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, boundary, reduction="sum").backward()
        return lambda: aten_baselines.rnnt_loss_pruned(logits, symbols, ranges, boundary).backward()

    leaves = [am, lm, enc, dec, logits]
    return {
        name: tuple(_median_ms(make(impl), leaves, iters, device)[0] for impl in ("fast_rnnt", "aten"))
        for name, make in (("smoothed loss", smoothed), ("pruning", pruning), ("pruned loss", pruned_loss))
    }


def child(method, batch_size, quantile, iters, device):
    rows = librispeech_bucket(batch_size, quantile)
    batch = make_batch(rows, device)
    step = build_step(method, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    before = memory_in_use(device)
    ms, loss = _median_ms(lambda: step(*batch), batch[:2], iters, device)
    peak = peak_memory(device) - before
    result = dict(method=method, B=batch_size, q=quantile, T=int(rows[:, 0].max()), U=int(rows[:, 1].max()),
                  ms=ms, peak_extra_mib=peak / 2**20, loss=loss.item())
    if method != "torchaudio":
        result["joiner_mm_ms"] = joiner_matmul_ms(batch_size, result["T"], iters, device)
    return result


def run_child(python, method, batch_size, quantile, args):
    cmd = [python, os.path.abspath(__file__), "--child", method, str(batch_size), str(quantile),
           "--iters", str(args.iters if method != "torchaudio" else min(args.iters, 2)), "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit {proc.returncode}"
        if method == "torchaudio" and "No module named 'torchaudio'" in reason:
            reason = f"{python} has no torchaudio; pass --baseline-python"
        print(f"  ({method}, B={batch_size}, q={quantile} skipped: {reason})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    p.add_argument("--quantiles", type=float, nargs="+", default=[0.25, 0.5, 0.9])
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--baseline-python", default=sys.executable,
                   help="interpreter for the torchaudio step (a venv with torch and torchaudio)")
    p.add_argument("--child", nargs=3, metavar=("METHOD", "B", "QUANTILE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.child:
        method, B, q = args.child
        print(json.dumps(child(method, int(B), float(q), args.iters, device)))
        return

    print(f"device={device} threads={torch.get_num_threads()} C={C} D={D} s_range={S_RANGE} float32; "
          f"median of {args.iters} steps (torchaudio: {min(args.iters, 2)}), each method in its own process")
    head = (f"{'B':>3} {'T':>4} {'U':>4} | {'step ms':>24} | {'joiner':>6} | {'loss parts ms':>22} | "
            f"{'step speed-up':>14} | {'peak extra MiB (ours/t.aud)':>27}")
    sub = (f"{'':>13} | {'fast_rnnt':>9} {'aten':>6} {'t.audio':>7} | {'mm ms':>6} | {'fast_rnnt':>9} {'aten':>6} "
           f"{'x':>5} | {'aten':>6} {'t.audio':>7} | {'ours':>6} {'aten':>6} {'t.aud':>6} {'ratio':>6}")
    print(head)
    print(sub)
    for B in args.batch_sizes:
        for q in args.quantiles:
            r = {}
            for m in args.methods:
                python = args.baseline_python if m == "torchaudio" else sys.executable
                r[m] = run_child(python, m, B, q, args)
            ours, aten, ta = r.get("fast_rnnt"), r.get("aten"), r.get("torchaudio")
            if ours and aten and abs(ours["loss"] - aten["loss"]) > 1e-4 * abs(aten["loss"]) + 1e-2:
                print(f"  warning: pruned losses differ: fast_rnnt {ours['loss']:.4f}, aten {aten['loss']:.4f}")
            any_r = next(x for x in (ours, aten, ta) if x)
            mm = ours["joiner_mm_ms"] if ours else None
            parts = [x["ms"] - mm if x and mm else None for x in (ours, aten)]

            def num(value, width, spec=".1f", unit=""):
                return f"{format(value, spec) + unit if value is not None else '-':>{width}}"

            def ratio(a, b):
                return a / b if a is not None and b is not None else None

            ms = [x["ms"] if x else None for x in (ours, aten, ta)]
            mem = [x["peak_extra_mib"] if x else None for x in (ours, aten, ta)]
            print(
                f"{B:>3} {any_r['T']:>4} {any_r['U']:>4} | {num(ms[0], 9)} {num(ms[1], 6)} {num(ms[2], 7, '.0f')} | "
                f"{num(mm, 6)} | {num(parts[0], 9)} {num(parts[1], 6)} {num(ratio(parts[1], parts[0]), 5, '.1f', 'x')} | "
                f"{num(ratio(ms[1], ms[0]), 6, '.2f', 'x')} {num(ratio(ms[2], ms[0]), 7, '.1f', 'x')} | "
                f"{num(mem[0], 6, '.0f')} {num(mem[1], 6, '.0f')} {num(mem[2], 6, '.0f')} "
                f"{num(ratio(mem[0], mem[2]), 6, '.2f', 'x')}",
                flush=True,
            )
    if "fast_rnnt" not in args.methods or "aten" not in args.methods:
        return
    print("\nThe parts that differ, alone (forward + backward, ms): fast_rnnt / aten")
    for B in args.batch_sizes:
        for q in args.quantiles:
            rows = librispeech_bucket(B, q)
            parts = part_times(B, q, args.iters, device)
            print(f"{B:>3} {int(rows[:, 0].max()):>4} {int(rows[:, 1].max()):>4} | " + " | ".join(
                f"{name} {a:.1f} / {b:.1f} ({b / a:.1f}x)" for name, (a, b) in parts.items()), flush=True)


if __name__ == "__main__":
    main()
