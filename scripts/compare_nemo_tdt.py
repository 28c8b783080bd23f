"""External check of the TDT and multi-blank references (python/tests/tdt_reference.py) against
NeMo's pure-PyTorch losses, TDTLossPytorch and MultiblankRNNTLossPytorch, on random inputs.

Run it with an interpreter that has nemo_toolkit (from PyPI) and torch:

    VENV/bin/python scripts/compare_nemo_tdt.py [--seeds 4]

NeMo's TDTLossPytorch calls .cuda() on its scratch tensors; without a GPU that call is mapped to
the identity. NeMo keeps its forward variables in float32 (torch.zeros(B, T, U)), so the
comparison is at float32 accuracy. NeMo takes lengths, not boundaries: rows (0, 0, U_b, T_b).
Prints the largest relative differences of the per-sequence losses and of the logits gradients,
and exits 1 when one exceeds --rtol.
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python" / "tests"))
import tdt_reference as R  # noqa: E402


def nemo_losses():
    if not torch.cuda.is_available():
        torch.Tensor.cuda = lambda self, *args, **kw: self
    from nemo.collections.asr.losses import rnnt_pytorch

    return rnnt_pytorch.TDTLossPytorch, rnnt_pytorch.MultiblankRNNTLossPytorch


def random_case(seed, extra, B=3, S=4, T=7, C=9):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, S + 1, C + extra, generator=g, dtype=torch.float64)
    symbols = torch.randint(0, C - 4, (B, S), generator=g)
    U_b = torch.tensor([S, S - 1, 2])[:B]
    T_b = torch.tensor([T, T - 2, 4])[:B]
    zeros = torch.zeros(B, dtype=torch.long)
    return logits, symbols, torch.stack([zeros, zeros, U_b, T_b], 1)


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-30)).item()


def compare(name, ours_fn, nemo_fn, logits):
    x = logits.clone().requires_grad_()
    ours = ours_fn(x)
    (g_ours,) = torch.autograd.grad(ours.sum(), x)
    y = logits.float().requires_grad_()
    theirs = nemo_fn(y)
    (g_theirs,) = torch.autograd.grad(theirs.sum(), y)
    return rel(theirs.double(), ours.detach()), rel(g_theirs.double(), g_ours)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--rtol", type=float, default=1e-4)
    args = ap.parse_args(argv)
    TDT, Multiblank = nemo_losses()
    worst = 0.0
    for seed in range(args.seeds):
        for durations in ([0, 1], [0, 1, 2], [0, 1, 2, 3, 4]):
            for sigma in (0.0, 0.05):
                logits, symbols, boundary = random_case(seed, len(durations))
                blank = logits.size(-1) - len(durations) - 1
                nemo = TDT(blank=blank, durations=durations, reduction=None, sigma=sigma)
                dl, dg = compare(
                    f"tdt {durations} sigma={sigma}",
                    lambda x: R.tdt_loss_reference(x, symbols, blank, durations, boundary, sigma, reduction="none"),
                    lambda y: nemo(acts=y, labels=symbols, act_lens=boundary[:, 3], label_lens=boundary[:, 2]),
                    logits)
                print(f"seed {seed} TDT durations {durations} sigma {sigma}: loss rel diff {dl:.2e}, grad rel diff {dg:.2e}")
                worst = max(worst, dl, dg)
        for big_blanks in ([], [2], [2, 4, 3]):
            for sigma in (0.0, 0.05):
                logits, symbols, boundary = random_case(seed, 0)
                blank = logits.size(-1) - 1
                nemo = Multiblank(blank=blank, big_blank_durations=big_blanks, reduction=None, sigma=sigma)
                dl, dg = compare(
                    f"multiblank {big_blanks}",
                    lambda x: R.multiblank_rnnt_loss_reference(x, symbols, blank, big_blanks, boundary, sigma,
                                                               reduction="none"),
                    lambda y: nemo(acts=y, labels=symbols, act_lens=boundary[:, 3], label_lens=boundary[:, 2]),
                    logits)
                print(f"seed {seed} multi-blank big blanks {big_blanks} sigma {sigma}: loss rel diff {dl:.2e}, "
                      f"grad rel diff {dg:.2e}")
                worst = max(worst, dl, dg)
    print(f"largest relative difference: {worst:.2e} (rtol {args.rtol:.0e})")
    return 0 if worst <= args.rtol else 1


if __name__ == "__main__":
    raise SystemExit(main())
