"""The transducer libraries the benchmarks time by name, and the one place that knows how to call
each of them.

- ``fast_rnnt``: this package.
- ``fast_rnnt 1.3``: the released fast_rnnt 1.3 from PyPI, in its own interpreter (build it with
  ``../shared/bench/build_fast_rnnt_1_3.sh DIR``; pass ``--fast-rnnt-1-3-python DIR/venv/bin/python``).

Both import as ``fast_rnnt`` and take the same arguments by keyword, so every call below serves
both; what differs is the interpreter a benchmark child runs in (`python_for`), and each child
checks that it imported the library it was meant to time (`library`). This module imports only
torch, so that the peer's interpreter loads it from the source tree.

Results of the same inputs are compared across libraries with `compare`: loss values to a
relative `LOSS_RTOL`, occupancies and gradients to `GRAD_TOL` times the tensor's largest magnitude
(at least 1): both are float32 computations, each within about 1e-3 of float64 at these sizes,
and a gradient entry summed over hundreds of frames (lm's blank column, ~400) carries the
rounding of that sum.
"""

import argparse
import os
import sys
from typing import Dict, Optional

import torch

OURS = "fast_rnnt"
FAST_RNNT_1_3 = "fast_rnnt 1.3"
PEERS = {FAST_RNNT_1_3: "1.3"}  # name -> the fast_rnnt.__version__ it must import
LOSS_RTOL = 1e-5
GRAD_TOL = 5e-3
BLANK = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fast-rnnt-1-3-python", metavar="PATH",
                        help="python of a venv with the released fast_rnnt 1.3 (../shared/bench/"
                             "build_fast_rnnt_1_3.sh): adds it as the baseline 'fast_rnnt 1.3'")


def available(args) -> list:
    """Names of the libraries these arguments make available, ours first."""
    return [OURS] + ([FAST_RNNT_1_3] if getattr(args, "fast_rnnt_1_3_python", None) else [])


def python_for(name: str, args) -> str:
    return args.fast_rnnt_1_3_python if name == FAST_RNNT_1_3 else sys.executable


def env_for(name: str) -> dict:
    """The environment of a child timing library `name`: a peer's without PYTHONPATH, which may
    point at this package (the peer must import its own fast_rnnt)."""
    return {k: v for k, v in os.environ.items() if not (name in PEERS and k == "PYTHONPATH")}


def library(name: str):
    """The `fast_rnnt` module of this interpreter, checked to be library `name`."""
    import fast_rnnt

    version = fast_rnnt.__version__
    if name in PEERS:
        if version != PEERS[name]:
            raise RuntimeError(f"{name}: this interpreter imports fast_rnnt {version} from {fast_rnnt.__file__}")
    elif name == OURS:
        if version in PEERS.values():
            raise RuntimeError(f"{OURS}: this interpreter imports the released fast_rnnt {version}")
    else:
        raise ValueError(f"unknown library {name!r}")
    return fast_rnnt


# ---- the calls, each with every argument named ------------------------------------------------

def recursion(lib, px, py, boundary=None):
    return lib.mutual_information_recursion(px=px, py=py, boundary=boundary)


def rnnt_loss(lib, logits, symbols, boundary):
    return lib.rnnt_loss(logits=logits, symbols=symbols, termination_symbol=BLANK, boundary=boundary,
                         reduction="sum")


def rnnt_loss_simple(lib, lm, am, symbols, boundary):
    return lib.rnnt_loss_simple(lm=lm, am=am, symbols=symbols, termination_symbol=BLANK, boundary=boundary,
                                reduction="sum")


def rnnt_loss_smoothed_with_grad(lib, lm, am, symbols, boundary, lm_only_scale, am_only_scale):
    """(summed loss, (px_grad, py_grad))."""
    return lib.rnnt_loss_smoothed(lm=lm, am=am, symbols=symbols, termination_symbol=BLANK,
                                  lm_only_scale=lm_only_scale, am_only_scale=am_only_scale, boundary=boundary,
                                  reduction="sum", return_grad=True)


def get_rnnt_prune_ranges(lib, px_grad, py_grad, boundary, s_range):
    return lib.get_rnnt_prune_ranges(px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=s_range)


def do_rnnt_pruning(lib, am, lm, ranges):
    return lib.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)


def rnnt_loss_pruned(lib, logits, symbols, ranges, boundary):
    return lib.rnnt_loss_pruned(logits=logits, symbols=symbols, ranges=ranges, termination_symbol=BLANK,
                                boundary=boundary, reduction="sum")


# ---- comparing the results of two libraries on the same inputs --------------------------------

def _scaled_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| over max(1, max |b|)."""
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1.0)).item() if b.numel() else 0.0


def compare(ours: Dict[str, torch.Tensor], theirs: Dict[str, torch.Tensor]) -> Optional[str]:
    """None when every entry both hold agrees (names starting with 'loss' to LOSS_RTOL, other
    floating ones to GRAD_TOL scaled, integer ones exactly), else what differs."""
    problems = []
    for name in sorted(ours.keys() & theirs.keys()):
        a, b = ours[name], theirs[name]
        if a.shape != b.shape:
            problems.append(f"{name}: shapes {tuple(a.shape)} vs {tuple(b.shape)}")
        elif not a.is_floating_point():
            if not torch.equal(a, b):
                problems.append(f"{name}: {int((a != b).sum())} of {a.numel()} entries differ")
        elif name.startswith("loss"):
            if not (a.double() - b.double()).abs().max() <= LOSS_RTOL * b.double().abs().max():
                problems.append(f"{name}: {a.sum().item():.6g} vs {b.sum().item():.6g}")
        elif not _scaled_difference(a, b) <= GRAD_TOL:
            problems.append(f"{name}: max abs difference {_scaled_difference(a, b):.2e} of its largest "
                            f"magnitude > {GRAD_TOL:.0e}")
    return "; ".join(problems) or None


def max_grad_difference(ours: Dict[str, torch.Tensor], theirs: Dict[str, torch.Tensor]) -> float:
    """The largest scaled difference over the floating entries both hold that are not losses."""
    return max((_scaled_difference(ours[k], theirs[k]) for k in ours.keys() & theirs.keys()
                if ours[k].is_floating_point() and not k.startswith("loss") and ours[k].shape == theirs[k].shape),
               default=0.0)
