"""torch.library.opcheck on the torch.ops.fast_rnnt ops that the per-op test files do not check,
several inputs each, with and without requires_grad; and a guard that every registered op is
opchecked somewhere in the suite."""

import pathlib
import re

import pytest
import torch

import fast_rnnt
from conftest import devices

REDUCTIONS = ("mean", "none", "sum")


def lattice(device, B, S, T, modified, requires_grad, seed):
    g = torch.Generator().manual_seed(seed)
    px = torch.randn(B, S, T if modified else T + 1, generator=g, dtype=torch.float64)
    py = torch.randn(B, S + 1, T, generator=g, dtype=torch.float64)
    if not modified:
        px[:, :, T] = float("-inf")
    return px.to(device).requires_grad_(requires_grad), py.to(device).requires_grad_(requires_grad)


def lm_am(device, B, S, T, C, requires_grad, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    lm = torch.randn(B, S + 1, C, generator=g, dtype=dtype).to(device).requires_grad_(requires_grad)
    am = torch.randn(B, T, C, generator=g, dtype=dtype).to(device).requires_grad_(requires_grad)
    symbols = torch.randint(1, C, (B, S), generator=g).to(device)
    return lm, am, symbols


def sample_inputs(device, requires_grad=False):
    """(op name, args) pairs for the ops not opchecked elsewhere: three per op, covering the
    three lattices, no / ragged / offset boundaries, float64 and float32, options."""
    ragged = torch.tensor([[0, 0, 3, 6], [0, 0, 2, 4]], device=device)
    offset = torch.tensor([[1, 0, 3, 5], [0, 1, 2, 6]], device=device)
    configs = [(None, "regular", torch.float64), (ragged, "modified", torch.float32), (offset, "constrained", torch.float64)]
    samples = []
    for seed, (boundary, rnnt_type, dtype) in enumerate(configs):
        lm, am, symbols = lm_am(device, 2, 3, 6, 5, requires_grad, seed, dtype)
        blank = seed  # 0, 1, 2
        scales = [(0.1, 0.2), (0.0, 0.3), (0.25, 0.0)][seed]
        samples += [
            ("get_rnnt_logprobs", (lm, am, symbols, blank, rnnt_type, boundary)),
            ("get_rnnt_logprobs_smoothed", (lm, am, symbols, blank, *scales, boundary, rnnt_type)),
            ("rnnt_loss_smoothed_with_grad",
             (lm, am, symbols, blank, *scales, boundary, rnnt_type, 0.5 * seed, REDUCTIONS[seed])),
        ]
        parts = [lattice(device, 2, 3, 6, rnnt_type != "regular", requires_grad, seed + 10 * n) for n in range(1 + seed)]
        samples.append(("joint_mutual_information", ([p[0] for p in parts], [p[1] for p in parts], boundary)))
    return samples


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck(device, requires_grad):
    # test_aot_dispatch_dynamic (about 1 s a call, most of this file's time) traces forward and
    # backward with dynamic shapes; with requires_grad=False it would only repeat the forward.
    utils = torch.library._OPCHECK_DEFAULT_UTILS
    if not requires_grad:
        utils = tuple(u for u in utils if u != "test_aot_dispatch_dynamic")
    for name, args in sample_inputs(device, requires_grad):
        torch.library.opcheck(getattr(torch.ops.fast_rnnt, name).default, args, test_utils=utils)


# Ops whose opcheck lives in their own test file.
OPCHECKED_ELSEWHERE = {
    "test_arc_logprobs.py": ["arc_logprobs", "_arc_logprobs_forward", "_arc_logprobs_backward"],
    "test_smoothed_arc_logprobs.py": ["smoothed_arc_logprobs", "_smoothed_arc_logprobs_forward",
                                      "_smoothed_arc_logprobs_backward"],
    "test_mutual_information.py": ["mutual_information", "mutual_information_with_grad"],
    "test_rnnt_loss.py": ["rnnt_loss", "rnnt_loss_simple", "rnnt_loss_simple_with_grad", "rnnt_loss_smoothed",
                          "get_rnnt_logprobs_joint"],
    "test_pruned.py": ["rnnt_loss_pruned", "get_rnnt_logprobs_pruned", "do_rnnt_pruning", "get_rnnt_prune_ranges",
                       "_rnnt_prune_min_s_range"],
    "test_fastemit.py": ["_scale_grad"],
    "test_tdt_loss.py": ["tdt_loss", "duration_lattice", "_duration_lattice_backward", "duration_arc_logprobs",
                         "_duration_arc_logprobs_forward", "_duration_arc_logprobs_backward"],
    "test_multiblank_loss.py": ["multiblank_rnnt_loss"],
}


def test_every_op_is_opchecked():
    """A new op must get an opcheck, in its own test file (listed above) or in sample_inputs."""
    registered = {
        str(s.name).split("::")[1] for s in torch._C._jit_get_all_schemas() if str(s.name).startswith("fast_rnnt::")
    }
    covered = {name for name, _ in sample_inputs("cpu")}
    for file, names in OPCHECKED_ELSEWHERE.items():
        text = (pathlib.Path(__file__).parent / file).read_text()
        assert "opcheck(" in text, file
        for name in names:
            assert re.search(rf"[\"'.]{name}\b", text), (file, name)  # "name" or ops.name
        covered |= set(names)
    assert registered - covered == set()
