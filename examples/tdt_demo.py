"""The TDT half of `make demo`: a token-and-duration transducer (fast_rnnt.tdt_loss) trained on
demo.py's synthetic task, where each label lasts 1-4 frames, so a model that predicts how many
frames to skip after each emission can skip most of them.

The model is demo.py's Transducer with a joiner that outputs VOCAB token logits followed by one
logit per duration in DURATIONS (NeMo's TDT joint layout). Greedy decoding: at frame t, emit the
best token (blank included) and jump ahead by the best duration; a blank never jumps by 0 (it is
taken as 1), and at most 3 symbols are emitted per frame.

    python examples/tdt_demo.py [--steps N] [--device cpu|cuda]
"""

import argparse
import time
from typing import Dict, List

import torch
from torch import nn

import fast_rnnt
from demo import BLANK, HIDDEN, VOCAB, Task, Transducer, edit_distance, progress

DURATIONS = [0, 1, 2, 3, 4]


class TDTTransducer(Transducer):
    def __init__(self):
        super().__init__()
        self.joiner_out = nn.Linear(HIDDEN, VOCAB + len(DURATIONS))

    def logits(self, features, symbols):
        enc = self.enc_proj(self.encoder(features))[:, :, None, :]  # (B, T, 1, H)
        pred = self.pred_proj(self.predict(symbols))[:, None, :, :]  # (B, 1, S+1, H)
        return self.join(enc, pred)  # (B, T, S+1, VOCAB + D)


@torch.no_grad()
def greedy_decode(model: TDTTransducer, features, boundary, labels: List[List[int]]) -> Dict[str, float]:
    """Label accuracy (1 - edit distance / labels, floored at 0) and the mean duration of the
    decoder's steps (blank and symbol), with how many steps it took per frame."""
    enc = model.enc_proj(model.encoder(features))
    errors = total = steps = frames = 0
    durations: List[int] = []
    for b, ref in enumerate(labels):
        hyp: List[int] = []
        token = torch.full((1, 1), BLANK, dtype=torch.long, device=features.device)
        out, state = model.predictor(model.embedding(token))
        t, T_b, emitted_here = 0, int(boundary[b, 3]), 0
        while t < T_b:
            joint = model.join(enc[b, t], model.pred_proj(out[0, 0]))
            best = int(joint[:VOCAB].argmax())
            duration = DURATIONS[int(joint[VOCAB:].argmax())]
            steps += 1
            if best != BLANK and emitted_here < 3:
                hyp.append(best)
                token.fill_(best)
                out, state = model.predictor(model.embedding(token), state)
                emitted_here += 1
                if duration == 0:  # more symbols on this frame
                    durations.append(0)
                    continue
            else:
                duration = max(duration, 1)
            durations.append(duration)
            t += duration
            emitted_here = 0
        errors += edit_distance(hyp, ref)
        total += len(ref)
        frames += T_b
    return {"accuracy": max(0.0, 1 - errors / total), "mean_duration": sum(durations) / len(durations),
            "steps_per_frame": steps / frames}


def train(task: Task, steps: int, batch_size: int, device: torch.device) -> Dict[str, object]:
    model = TDTTransducer().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    test = task.batch(64, device)
    before = greedy_decode(model, test[0], test[2], test[3])
    losses: List[float] = []
    step_ms: List[float] = []
    for step in range(steps):
        features, symbols, boundary, _ = task.batch(batch_size, device)
        start = time.perf_counter()
        loss = fast_rnnt.tdt_loss(model.logits(features, symbols), symbols, BLANK, DURATIONS, boundary, sigma=0.05)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step_ms.append(1e3 * (time.perf_counter() - start))
        losses.append(loss.item())
        if step % 5 == 0 or step == steps - 1:
            progress(step, steps, sum(losses[-20:]) / len(losses[-20:]), sum(step_ms[-20:]) / len(step_ms[-20:]))
    print()
    return {"before": before, "after": greedy_decode(model, test[0], test[2], test[3]), "losses": losses,
            "step_ms": step_ms}


def report(result: Dict[str, object]) -> None:
    losses, step_ms = result["losses"], result["step_ms"]
    n = max(1, len(losses) // 10)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    before, after = result["before"], result["after"]
    print(f"{'':28s} {'first 10%':>10s} {'last 10%':>10s}")
    print(f"{'TDT loss':28s} {mean(losses[:n]):10.3f} {mean(losses[-n:]):10.3f}")
    print(f"{'step time (ms)':28s} {mean(step_ms[:n]):10.1f} {mean(step_ms[-n:]):10.1f}")
    print(f"{'':28s} {'before':>10s} {'after':>10s}")
    print(f"{'TDT greedy accuracy':28s} {100 * before['accuracy']:9.1f}% {100 * after['accuracy']:9.1f}%")
    print(f"{'mean emitted duration':28s} {before['mean_duration']:10.2f} {after['mean_duration']:10.2f}")
    print(f"{'decoder steps per frame':28s} {before['steps_per_frame']:10.2f} {after['steps_per_frame']:10.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() and fast_rnnt.with_cuda else "cpu")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    print(f"fast_rnnt {fast_rnnt.__version__}: TDT training demo on {args.device}, durations {DURATIONS}")
    report(train(Task(seed=2), args.steps, args.batch_size, torch.device(args.device)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
