"""fast_rnnt demo: train a small transducer with the pruned RNN-T loss.

    make demo                      # from a fresh checkout: set-up, build, run
    python examples/demo.py [--steps N] [--out DIR] [--device cpu|cuda]

The task needs alignment: every utterance is a label sequence over 15 tokens (0 is blank), each
label lasting 1-4 frames of noisy features, with silences (blank frames) here and there and no
label repeated back to back. The model
is an MLP encoder, an embedding+GRU predictor and an additive-then-nonlinear joiner. One
training step is the pruned pipeline:

    rnnt_loss_smoothed(..., return_grad=True)   cheap additive joiner -> arc occupancies
    get_rnnt_prune_ranges(...)                  a window of s_range symbols per frame
    do_rnnt_pruning(...)                        encoder/predictor outputs of the windows only
    joiner on (B, T, s_range, H)                the real joiner, on a fraction of the lattice
    rnnt_loss_pruned(...)                       the loss of those logits

It prints a progress bar, then a summary table, greedy-decoding accuracy before and after, and
one step of the pruned pipeline against the full (unpruned) loss on the same batch. With
matplotlib installed it also draws the occupancy map of one utterance with the prune windows,
and the loss curve.
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch
from torch import nn

import fast_rnnt

VOCAB = 16  # blank + 15 tokens
BLANK = 0
FEAT = 24
HIDDEN = 64
S_RANGE = 4


# ------------------------------------------------------------------------------------ data


class Task:
    """Noisy frames that carry a label sequence with variable durations."""

    def __init__(self, seed: int):
        self.gen = torch.Generator().manual_seed(seed)
        self.token_features = torch.randn(VOCAB, FEAT, generator=self.gen)

    def batch(self, B: int, device: torch.device):
        labels, frames = [], []
        for _ in range(B):
            n = int(torch.randint(5, 16, (), generator=self.gen))
            seq: List[int] = []
            while len(seq) < n:  # consecutive labels differ: a repeat without silence is ambiguous
                token = int(torch.randint(1, VOCAB, (), generator=self.gen))
                if not seq or token != seq[-1]:
                    seq.append(token)
            f = []
            for token in seq:
                if torch.rand((), generator=self.gen) < 0.3:
                    f += [BLANK] * int(torch.randint(1, 3, (), generator=self.gen))
                f += [token] * int(torch.randint(1, 5, (), generator=self.gen))
            f.append(BLANK)
            labels.append(seq)
            frames.append(f)
        S, T = max(map(len, labels)), max(map(len, frames))
        symbols = torch.zeros(B, S, dtype=torch.long)
        frame_ids = torch.zeros(B, T, dtype=torch.long)
        boundary = torch.zeros(B, 4, dtype=torch.long)
        for b in range(B):
            symbols[b, : len(labels[b])] = torch.tensor(labels[b])
            frame_ids[b, : len(frames[b])] = torch.tensor(frames[b])
            boundary[b, 2], boundary[b, 3] = len(labels[b]), len(frames[b])
        features = self.token_features[frame_ids] + 0.8 * torch.randn(B, T, FEAT, generator=self.gen)
        return features.to(device), symbols.to(device), boundary.to(device), labels


# ----------------------------------------------------------------------------------- model


class Transducer(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(FEAT, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, HIDDEN), nn.Tanh())
        self.embedding = nn.Embedding(VOCAB, HIDDEN)
        self.predictor = nn.GRU(HIDDEN, HIDDEN, batch_first=True)
        self.simple_am = nn.Linear(HIDDEN, VOCAB)
        self.simple_lm = nn.Linear(HIDDEN, VOCAB)
        self.enc_proj = nn.Linear(HIDDEN, HIDDEN)
        self.pred_proj = nn.Linear(HIDDEN, HIDDEN)
        self.joiner_out = nn.Linear(HIDDEN, VOCAB)

    def predict(self, symbols: torch.Tensor) -> torch.Tensor:
        start = torch.full_like(symbols[:, :1], BLANK)
        return self.predictor(self.embedding(torch.cat([start, symbols], 1)))[0]  # (B, S+1, H)

    def join(self, enc: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        return self.joiner_out(torch.tanh(enc + pred))


def pruned_step(model: Transducer, features, symbols, boundary) -> Dict[str, torch.Tensor]:
    enc = model.encoder(features)  # (B, T, H)
    pred = model.predict(symbols)  # (B, S+1, H)
    simple_loss, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
        lm=model.simple_lm(pred), am=model.simple_am(enc), symbols=symbols, termination_symbol=BLANK,
        lm_only_scale=0.25, am_only_scale=0.0, boundary=boundary, return_grad=True,
    )
    ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, S_RANGE)
    enc_pruned, pred_pruned = fast_rnnt.do_rnnt_pruning(model.enc_proj(enc), model.pred_proj(pred), ranges)
    logits = model.join(enc_pruned, pred_pruned)  # (B, T, s_range, V)
    pruned_loss = fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, BLANK, boundary)
    return {"loss": 0.5 * simple_loss + pruned_loss, "simple": simple_loss, "pruned": pruned_loss,
            "px_grad": px_grad, "py_grad": py_grad, "ranges": ranges}


def full_step(model: Transducer, features, symbols, boundary) -> torch.Tensor:
    """The unpruned alternative: the joiner on every (t, s) pair, then the full loss."""
    enc = model.enc_proj(model.encoder(features))[:, :, None, :]  # (B, T, 1, H)
    pred = model.pred_proj(model.predict(symbols))[:, None, :, :]  # (B, 1, S+1, H)
    logits = model.join(enc, pred)  # (B, T, S+1, V)
    return fast_rnnt.rnnt_loss(logits, symbols, BLANK, boundary)


def edit_distance(a: List[int], b: List[int]) -> int:
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        diagonal, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            diagonal, row[j] = row[j], min(diagonal + (a[i - 1] != b[j - 1]), row[j] + 1, row[j - 1] + 1)
    return row[-1]


@torch.no_grad()
def greedy_accuracy(model: Transducer, features, boundary, labels: List[List[int]]) -> float:
    """Label accuracy of greedy decoding: 1 - (edit distance / number of labels), floored at 0."""
    enc = model.enc_proj(model.encoder(features))
    errors = total = 0
    for b, ref in enumerate(labels):
        hyp: List[int] = []
        token = torch.full((1, 1), BLANK, dtype=torch.long, device=features.device)
        out, state = model.predictor(model.embedding(token))
        for t in range(int(boundary[b, 3])):
            for _ in range(3):  # at most 3 symbols per frame
                best = int(model.join(enc[b, t], model.pred_proj(out[0, 0])).argmax())
                if best == BLANK:
                    break
                hyp.append(best)
                token.fill_(best)
                out, state = model.predictor(model.embedding(token), state)
        errors += edit_distance(hyp, ref)
        total += len(ref)
    return max(0.0, 1 - errors / total)


# ------------------------------------------------------------------------------ measuring


def peak_memory_mib(fn, device: torch.device) -> float:
    """Peak memory one call of fn adds (CUDA: allocator peak; CPU: resident-set peak)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        status = lambda key: int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1])  # noqa: E731
        before = status("VmRSS")
        fn()
        return (status("VmHWM") - before) / 1024
    except OSError:
        return float("nan")


def timed_ms(fn, device: torch.device, reps: int = 5) -> float:
    times = []
    for _ in range(reps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1e3 * sorted(times[1:])[len(times[1:]) // 2]


def progress(step: int, total: int, loss: float, ms: float) -> None:
    width = 30
    done = int(width * (step + 1) / total)
    sys.stdout.write(f"\r[{'#' * done}{'.' * (width - done)}] step {step + 1:4d}/{total}  loss {loss:7.3f}  {ms:6.1f} ms/step")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------- plots


def draw_pictures(out_dir: Path, losses: List[float], sample: Dict[str, torch.Tensor], boundary) -> List[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no pictures; `pip install matplotlib` to get them)")
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    b = 0
    S_b, T_b = int(boundary[b, 2]), int(boundary[b, 3])
    # Occupancy of each lattice node (s, t): the probability that the alignment passes through
    # it, i.e. the occupancy of the arcs leaving it (1 at the final node).
    px_grad, py_grad = sample["px_grad"][b].cpu(), sample["py_grad"][b].cpu()
    node = torch.zeros(S_b + 1, T_b + 1)
    node[:, :T_b] += py_grad[: S_b + 1, :T_b]
    node[:S_b, :] += px_grad[:S_b, : T_b + 1]
    node[S_b, T_b] = 1.0
    ranges = sample["ranges"][b].cpu()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    im = ax.imshow(node.numpy(), origin="lower", aspect="auto", cmap="magma", interpolation="nearest", vmin=0, vmax=1)
    t = torch.arange(T_b)
    ax.step(t, ranges[:T_b, 0] - 0.5, where="mid", color="cyan", lw=1.2, label=f"prune window (s_range={ranges.size(-1)})")
    ax.step(t, ranges[:T_b, -1] + 0.5, where="mid", color="cyan", lw=1.2)
    ax.set_xlabel("frame t")
    ax.set_ylabel("symbol position s")
    ax.set_title("Arc occupancy of one utterance (from return_grad) and the pruned windows")
    ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(im, ax=ax, label="occupancy")
    fig.tight_layout()
    paths.append(out_dir / "occupancy.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, lw=0.8, alpha=0.5, label="per step")
    k = 20
    if len(losses) > k:
        smooth = [sum(losses[i - k : i]) / k for i in range(k, len(losses) + 1)]
        ax.plot(range(k - 1, len(losses)), smooth, lw=1.8, label=f"mean of {k}")
    ax.set_xlabel("step")
    ax.set_ylabel("0.5 simple + pruned loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "loss_curve.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


# ----------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", type=Path, default=Path("demo_out"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() and fast_rnnt.with_cuda else "cpu")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)

    print(f"fast_rnnt {fast_rnnt.__version__}: pruned RNN-T training demo on {device} "
          f"(CUDA kernels built: {fast_rnnt.with_cuda})")
    task = Task(seed=1)
    model = Transducer().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    test = task.batch(64, device)
    accuracy_before = greedy_accuracy(model, test[0], test[2], test[3])

    losses: List[float] = []
    simple_losses: List[float] = []
    pruned_losses: List[float] = []
    step_ms: List[float] = []
    for step in range(args.steps):
        features, symbols, boundary, _ = task.batch(args.batch_size, device)
        start = time.perf_counter()
        out = pruned_step(model, features, symbols, boundary)
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        step_ms.append(1e3 * (time.perf_counter() - start))
        losses.append(out["loss"].item())
        simple_losses.append(out["simple"].item())
        pruned_losses.append(out["pruned"].item())
        if step % 5 == 0 or step == args.steps - 1:
            progress(step, args.steps, sum(losses[-20:]) / len(losses[-20:]), sum(step_ms[-20:]) / len(step_ms[-20:]))
    print()
    accuracy_after = greedy_accuracy(model, test[0], test[2], test[3])

    # One step of each pipeline on the same (test) batch.
    features, symbols, boundary, _ = test
    pruned = lambda: pruned_step(model, features, symbols, boundary)["loss"].backward()  # noqa: E731
    full = lambda: full_step(model, features, symbols, boundary).backward()  # noqa: E731
    cmp = {
        "pruned": (timed_ms(pruned, device), peak_memory_mib(pruned, device)),
        "full": (timed_ms(full, device), peak_memory_mib(full, device)),
    }
    with torch.no_grad():
        sample = pruned_step(model, features, symbols, boundary)
        full_loss = full_step(model, features, symbols, boundary).item()

    n = max(1, len(losses) // 10)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    print()
    print(f"{'':28s} {'first 10%':>10s} {'last 10%':>10s}")
    print(f"{'simple (smoothed) loss':28s} {mean(simple_losses[:n]):10.3f} {mean(simple_losses[-n:]):10.3f}")
    print(f"{'pruned loss':28s} {mean(pruned_losses[:n]):10.3f} {mean(pruned_losses[-n:]):10.3f}")
    print(f"{'step time (ms)':28s} {mean(step_ms[:n]):10.1f} {mean(step_ms[-n:]):10.1f}")
    print(f"{'greedy accuracy':28s} {100 * accuracy_before:9.1f}% {100 * accuracy_after:9.1f}%")
    print()
    T, S = features.size(1), symbols.size(1)
    print(f"one training step on a test batch of {features.size(0)} (T<={T}, S<={S}, V={VOCAB}, s_range={S_RANGE}):")
    print(f"{'':10s} {'time ms':>9s} {'peak MiB':>9s} {'joiner outputs':>15s}")
    print(f"{'pruned':10s} {cmp['pruned'][0]:9.1f} {cmp['pruned'][1]:9.1f} {f'B*T*{S_RANGE}*V':>15s}")
    print(f"{'full':10s} {cmp['full'][0]:9.1f} {cmp['full'][1]:9.1f} {f'B*T*{S + 1}*V':>15s}")
    print(f"loss on it: pruned {sample['pruned'].item():.4f} vs full {full_loss:.4f}")
    print()
    import tdt_demo  # the TDT model beside it, on the same task

    print(f"TDT transducer (tdt_loss, durations {tdt_demo.DURATIONS}) on the same task:")
    tdt_demo.report(tdt_demo.train(Task(seed=2), max(1, args.steps // 3), args.batch_size, device))

    paths = draw_pictures(args.out, losses, sample, boundary)
    for p in paths:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
