"""The whole pruned RNN-T training step on LibriSpeech-shaped batches: fast_rnnt, fast_rnnt 1.3
(with --fast-rnnt-1-3-python), the same step composed of ATen ops as k2 composes it, and a
full-loss step with torchaudio's rnnt_loss; then the step's library calls, each alone.

    python -m fast_rnnt.benchmark.pruned [--device cuda] [--batch-sizes 8 16] [--iters 5]
                                         [--baseline-python TORCHAUDIO_VENV/bin/python]
                                         [--fast-rnnt-1-3-python FAST_RNNT_1_3_VENV/bin/python]

Batches: rows (T, U) of ../shared/bench/shape_info.pt (or the built-in copies of its buckets)
sorted by (T, U); contiguous buckets of B rows at a few quantiles (a duration-sorted sampler).
Encoder out (B, T, 512) and decoder out (B, U+1, 512) are random leaves, C = 500, blank = 0.

- fast_rnnt, fast_rnnt 1.3: projections to C feed rnnt_loss_smoothed(lm_only_scale=0.25,
  am_only_scale=0, return_grad=True); get_rnnt_prune_ranges(s_range=5); do_rnnt_pruning; joiner
  tanh + Linear(512, C); rnnt_loss_pruned; backward through everything (0.5 * simple + pruned).
  The same code for both (fast_rnnt.benchmark.peers), each in its library's interpreter.
- aten: the same step with the smoothed loss, the pruning and the pruned loss composed of ATen
  ops as k2 does (fast_rnnt.benchmark.aten_baselines; the prune ranges are fast_rnnt's).
- torchaudio: the full-loss step: joiner on the whole (B, T, U+1) lattice, torchaudio's rnnt_loss,
  backward. Runs in --baseline-python (a venv with torch and torchaudio; fast_rnnt not needed).

Each (method, batch) runs in a fresh process. Time: median of --iters steps after one warm-up.
Peak extra: the process's peak resident set (CUDA: the allocator's peak) minus its size once
the model and inputs exist. "joiner mm" is the joiner Linear's forward + backward alone on the
pruned (B, T, 5, 512) input; "loss parts" is the step minus it: everything but the joiner's
matrix products.

Library calls alone: the smoothed loss with return_grad (forward + backward), the prune ranges,
the pruning of the 512-dim encoder/decoder outputs (forward + backward) and the pruned loss on
(B, T, 5, 500) logits (forward + backward), on random lm/am/logits of the bucket's shapes (seed
1), each library in its own process on the same inputs; each library prunes with its own
ranges. Losses, occupancies, ranges and gradients are compared with fast_rnnt's
(fast_rnnt.benchmark.peers.compare).
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

C, D, S_RANGE = 500, 512, 5
LM_ONLY_SCALE = 0.25
METHODS = (peers.OURS, peers.FAST_RNNT_1_3, "aten", "torchaudio")
PARTS = ("smoothed loss with return_grad", "prune ranges", "pruning", "pruned loss")


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

    lib = peers.library(peers.OURS if method == "aten" else method)

    def pruned_step(enc, dec, symbols, boundary):
        if method == "aten":
            simple, (px_grad, py_grad) = aten_baselines.rnnt_loss_smoothed_with_grad(
                lm_proj(dec), am_proj(enc), symbols, LM_ONLY_SCALE, 0.0, boundary)
            ranges = peers.get_rnnt_prune_ranges(lib, px_grad, py_grad, boundary, S_RANGE)
            am_pruned, lm_pruned = aten_baselines.do_rnnt_pruning(enc, dec, ranges)
            logits = joiner(torch.tanh(am_pruned + lm_pruned))
            loss = aten_baselines.rnnt_loss_pruned(logits, symbols, ranges, boundary)
        else:
            simple, (px_grad, py_grad) = peers.rnnt_loss_smoothed_with_grad(
                lib, lm_proj(dec), am_proj(enc), symbols, boundary, LM_ONLY_SCALE, 0.0)
            ranges = peers.get_rnnt_prune_ranges(lib, px_grad, py_grad, boundary, S_RANGE)
            am_pruned, lm_pruned = peers.do_rnnt_pruning(lib, enc, dec, ranges)
            logits = joiner(torch.tanh(am_pruned + lm_pruned))
            loss = peers.rnnt_loss_pruned(lib, logits, symbols, ranges, boundary)
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


def part_times(impl, batch_size, quantile, iters, device, save, ranges_from=None):
    """{part: ms}: forward + backward of each library call of the pruned step, alone, on the
    bucket's shapes (projected lm/am and pruned logits random); saves the results to `save`.
    The pruning and the pruned loss use the ranges saved in `ranges_from` when given, else the
    library's own."""
    enc, dec, symbols, boundary = make_batch(librispeech_bucket(batch_size, quantile), device)
    B, T, S = enc.size(0), enc.size(1), symbols.size(1)
    g = torch.Generator().manual_seed(1)
    am = torch.randn(B, T, C, generator=g).to(device).requires_grad_()
    lm = torch.randn(B, S + 1, C, generator=g).to(device).requires_grad_()
    logits = torch.randn(B, T, S_RANGE, C, generator=g).to(device).requires_grad_()
    grad = torch.randn(B, T, S_RANGE, D, generator=g).to(device)
    lib = peers.library(peers.OURS if impl == "aten" else impl)
    if impl == "aten":
        smoothed = lambda: aten_baselines.rnnt_loss_smoothed_with_grad(lm, am, symbols, LM_ONLY_SCALE, 0.0, boundary)  # noqa: E731
        pruning = aten_baselines.do_rnnt_pruning
        pruned_loss = lambda: aten_baselines.rnnt_loss_pruned(logits, symbols, ranges, boundary)  # noqa: E731
    else:
        smoothed = lambda: peers.rnnt_loss_smoothed_with_grad(lib, lm, am, symbols, boundary, LM_ONLY_SCALE, 0.0)  # noqa: E731
        pruning = lambda *a: peers.do_rnnt_pruning(lib, *a)  # noqa: E731
        pruned_loss = lambda: peers.rnnt_loss_pruned(lib, logits, symbols, ranges, boundary)  # noqa: E731

    def smoothed_part():
        loss, occupancies = smoothed()
        loss.backward()
        return loss.detach(), occupancies

    def pruned_part():
        loss = pruned_loss()
        loss.backward()
        return loss.detach()

    ms, saved = {}, {}
    ms[PARTS[0]], _ = _median_ms(smoothed_part, [lm, am], iters, device)
    # Once more for the results: fast_rnnt 1.3's backward scales the returned occupancies in place.
    lm.grad = am.grad = None
    saved["loss_smoothed"], (px_grad, py_grad) = smoothed()
    px_grad, py_grad = px_grad.clone(), py_grad.clone()
    saved["loss_smoothed"].backward()
    saved.update({"px_grad": px_grad, "py_grad": py_grad, "lm.grad": lm.grad, "am.grad": am.grad})
    ms[PARTS[1]], saved["ranges"] = _median_ms(
        lambda: peers.get_rnnt_prune_ranges(lib, px_grad, py_grad, boundary, S_RANGE), [], iters, device)
    # The parts after it prune with fast_rnnt's ranges, so that every library gets the same inputs.
    ranges = torch.load(ranges_from, weights_only=True)["ranges"].to(device) if ranges_from else saved["ranges"]
    ms[PARTS[2]], _ = _median_ms(lambda: torch.autograd.backward(pruning(enc, dec, ranges), [grad, grad]),
                                 [enc, dec], iters, device)
    ms[PARTS[3]], saved["loss_pruned"] = _median_ms(pruned_part, [logits], iters, device)
    saved.update({"enc.grad": enc.grad, "dec.grad": dec.grad, "logits.grad": logits.grad})
    torch.save({k: v.detach().cpu() if torch.is_tensor(v) else torch.tensor(v) for k, v in saved.items()}, save)
    return ms


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


def run_child(mode, method, batch_size, quantile, args, save=None, ranges_from=None):
    python = args.baseline_python if method == "torchaudio" else peers.python_for(
        peers.OURS if method == "aten" else method, args)
    cmd = [python, os.path.abspath(__file__), mode, method, str(batch_size), str(quantile),
           "--iters", str(args.iters if method != "torchaudio" else min(args.iters, 2)), "--device", args.device]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if save:
        cmd += ["--save", save]
    if ranges_from:
        cmd += ["--ranges-from", ranges_from]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=peers.env_for(method))
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit {proc.returncode}"
        if method == "torchaudio" and "No module named 'torchaudio'" in reason:
            reason = f"{python} has no torchaudio; pass --baseline-python"
        print(f"  ({method}, B={batch_size}, q={quantile} skipped: {reason})")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _num(value, width, spec=".1f", unit=""):
    return f"{format(value, spec) + unit if value is not None else '-':>{width}}"


def _ratio(a, b):
    return a / b if a is not None and b is not None else None


def print_steps(args):
    methods = [m for m in args.methods if m != peers.FAST_RNNT_1_3 or args.fast_rnnt_1_3_python]
    print(f"device={args.device} threads={torch.get_num_threads()} C={C} D={D} s_range={S_RANGE} float32; "
          f"median of {args.iters} steps (torchaudio: {min(args.iters, 2)}), each method in its own process")
    print("step ms (loss parts ms = step - joiner mm; x: their loss parts / ours) | peak extra MiB")
    print(f"{'B':>3} {'T':>4} {'U':>4} | {'joiner':>6} | " + " | ".join(f"{m:>24}" for m in methods))
    for B in args.batch_sizes:
        for q in args.quantiles:
            r = {m: run_child("--child", m, B, q, args) for m in methods}
            ours = r.get(peers.OURS)
            any_r = next((x for x in r.values() if x), None)
            if any_r is None:
                continue
            for m, x in r.items():
                if x and ours and m != "torchaudio" and abs(ours["loss"] - x["loss"]) > 1e-4 * abs(x["loss"]) + 1e-2:
                    print(f"  warning: pruned losses differ: fast_rnnt {ours['loss']:.4f}, {m} {x['loss']:.4f}")
            mm = ours["joiner_mm_ms"] if ours else None
            ours_parts = ours["ms"] - mm if ours and mm else None
            cells = []
            for m, x in r.items():
                parts = x["ms"] - mm if x and mm and m != "torchaudio" else None
                cells.append(f"{_num(x['ms'] if x else None, 6)} ({_num(parts, 5)}, "
                             f"{_num(_ratio(parts, ours_parts), 4, '.1f', 'x')}) {_num(x['peak_extra_mib'] if x else None, 5, '.0f')}")
            print(f"{B:>3} {any_r['T']:>4} {any_r['U']:>4} | {_num(mm, 6)} | " + " | ".join(f"{c:>24}" for c in cells),
                  flush=True)


def print_parts(args):
    impls = [m for m in args.methods if m not in ("torchaudio",) and (m != peers.FAST_RNNT_1_3 or args.fast_rnnt_1_3_python)]
    print(f"\nThe library calls of the pruned step, each alone (median ms; x: theirs / ours), {args.iters} reps:")
    print(f"{'B':>3} {'T':>4} {'U':>4} | {'part':<30} | " + " | ".join(f"{m:>16}" for m in impls))
    with tempfile.TemporaryDirectory() as tmp:
        for B in args.batch_sizes:
            for q in args.quantiles:
                rows = librispeech_bucket(B, q)
                saves = {m: os.path.join(tmp, f"{i}.pt") for i, m in enumerate(impls)}
                ms = {m: run_child("--parts", m, B, q, args, saves[m],
                                   None if m == peers.OURS else saves[peers.OURS]) for m in impls}
                ours = ms.get(peers.OURS)
                head = f"{B:>3} {int(rows[:, 0].max()):>4} {int(rows[:, 1].max()):>4}"
                for part in PARTS + ("sum",):
                    cells = []
                    for m in impls:
                        v = (sum(ms[m].values()) if part == "sum" else ms[m][part]) if ms[m] else None
                        o = (sum(ours.values()) if part == "sum" else ours[part]) if ours else None
                        cells.append(f"{_num(v, 7, '.2f')} {_num(_ratio(v, o), 6, '.2f', 'x')}")
                    print(f"{head} | {part:<30} | " + " | ".join(f"{c:>16}" for c in cells), flush=True)
                if ours and ms.get(peers.FAST_RNNT_1_3):
                    a = torch.load(saves[peers.OURS], weights_only=True)
                    b = torch.load(saves[peers.FAST_RNNT_1_3], weights_only=True)
                    ra, rb = a.pop("ranges")[..., 0], b.pop("ranges")[..., 0]
                    problem = peers.compare(a, b)
                    print(f"{'':>13} | fast_rnnt 1.3 vs fast_rnnt: " + (f"DIFFER: {problem}" if problem else (
                        f"same losses, occupancies and gradients within {peers.max_grad_difference(a, b):.1e} of their largest magnitude"))
                          + f"; own prune ranges: {int((ra != rb).sum())} of {ra.numel()} windows start elsewhere "
                          f"(max {int((ra - rb).abs().max())}); pruning and pruned loss ran on fast_rnnt's")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    p.add_argument("--quantiles", type=float, nargs="+", default=[0.25, 0.5, 0.85, 0.9])
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--no-steps", action="store_true", help="only the library calls alone")
    p.add_argument("--baseline-python", default=sys.executable,
                   help="interpreter for the torchaudio step (a venv with torch and torchaudio)")
    peers.add_arguments(p)
    p.add_argument("--child", nargs=3, metavar=("METHOD", "B", "QUANTILE"), help=argparse.SUPPRESS)
    p.add_argument("--parts", nargs=3, metavar=("METHOD", "B", "QUANTILE"), help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    p.add_argument("--ranges-from", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.child or args.parts:
        method, B, q = args.child or args.parts
        result = (child(method, int(B), float(q), args.iters, device) if args.child
                  else part_times(method, int(B), float(q), args.iters, device, args.save, args.ranges_from))
        print(json.dumps(result))
        return
    if not args.no_steps:
        print_steps(args)
    print_parts(args)


if __name__ == "__main__":
    main()
