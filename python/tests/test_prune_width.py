"""A too narrow prune window never turns into a silent inf (issue 12, section 1).

The regular lattice keeps a path of a sequence with S_b symbols in T_b frames only with windows
of at least ceil(S_b/T_b)+1 positions (k2's (S_b-1)//T_b + 2); the constrained one needs 2 as soon
as there is a symbol. The Python wrapper widens a narrower s_range with a warning, as k2 and
fast_rnnt 1.3 do; the op, which C++ and TorchScript call directly, raises instead. Wherever the full
loss (rnnt_loss on the same joiner) is finite, the pruned one must be too."""

import itertools
import math
import random
import re
import warnings

import pytest
import torch

import fast_rnnt

RNNT_TYPES = ["regular", "modified", "constrained"]


def joiner(am, lm):
    """A non-linear joiner: the pruned logits are this joiner's outputs at the window positions."""
    return torch.sigmoid(am + lm) * 3


def full_and_pruned(lm, am, symbols, boundary, rnnt_type, s_range):
    """(full loss, pruned loss, ranges, warnings) of one pruned step, reduction="none"."""
    full = fast_rnnt.rnnt_loss(
        joiner(am.unsqueeze(2), lm.unsqueeze(1)), symbols, 0, boundary, rnnt_type=rnnt_type, reduction="none"
    )
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(
        lm, am, symbols, 0, boundary, rnnt_type=rnnt_type, reduction="none", return_grad=True
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)
    am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am, lm, ranges)
    pruned = fast_rnnt.rnnt_loss_pruned(
        joiner(am_pruned, lm_pruned), symbols, ranges, 0, boundary, rnnt_type=rnnt_type, reduction="none"
    )
    return full, pruned, ranges, [str(w.message) for w in caught]


def inputs(B, S, T, C=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    lm = torch.randn(B, S + 1, C, generator=g, dtype=torch.float64)
    am = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    symbols = torch.randint(1, C, (B, S), generator=g)
    return lm, am, symbols


def needed_width(boundary, rnnt_type, S, T):
    """The smallest width that keeps a path of every sequence, by the definition (not the code)."""
    rows = boundary.tolist() if boundary is not None else [[0, 0, S, T]]
    if rnnt_type == "constrained":
        return 2 if any(r[2] > r[0] for r in rows) else 1
    if rnnt_type == "modified":
        return 1
    widths = [1]
    for s0, t0, s_end, t_end in rows:
        if s_end > s0 and t_end > t0:
            widths.append(math.ceil((s_end - s0) / (t_end - t0)) + 1)
    return max(widths)


def test_issue_12_repro():
    # B=2, S=8, T=3, C=10: 8 symbols in 3 frames and 5 in 2 both need windows of 4.
    lm, am, symbols = inputs(2, 8, 3, seed=12)
    lm, am = lm.float(), am.float()
    boundary = torch.tensor([[0, 0, 8, 3], [0, 0, 5, 2]])
    for s_range in (2, 3):
        full, pruned, ranges, caught = full_and_pruned(lm, am, symbols, boundary, "regular", s_range)
        assert torch.isfinite(full).all()
        assert torch.isfinite(pruned).all(), (s_range, pruned)
        assert (pruned >= full - 1e-4).all()
        assert ranges.shape == (2, 3, 4)
        assert caught == [
            f"get_rnnt_prune_ranges: s_range={s_range} is too narrow to keep a path of every sequence "
            "(the regular lattice needs s_range >= 4 here); using s_range=4"
        ]
    # The op itself (C++, TorchScript) names the first sequence and the widths.
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="none", return_grad=True)
    message = (
        "get_rnnt_prune_ranges: s_range=3 keeps no path of sequence 0 of the regular lattice: its S_b=8 symbols "
        "in T_b=3 frames (boundary[0] = (0, 0, 8, 3)) need s_range >= ceil(S_b/T_b)+1 = 4, and the batch needs "
        "s_range >= 4"
    )
    with pytest.raises(RuntimeError, match=re.escape(message)):
        torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, 3)
    assert torch.ops.fast_rnnt._rnnt_prune_min_s_range(px_grad, py_grad, boundary).tolist() == [4, 4]


def test_only_the_short_utterance_needs_a_wider_window():
    # Three long utterances are fine with s_range=2; the short one (6 symbols in 2 frames) needs 4.
    S, T = 6, 20
    lm, am, symbols = inputs(4, S, T, seed=3)
    boundary = torch.tensor([[0, 0, 6, 20], [0, 0, 4, 18], [0, 0, 6, 2], [0, 0, 5, 15]])
    full, pruned, ranges, caught = full_and_pruned(lm, am, symbols, boundary, "regular", 2)
    assert torch.isfinite(pruned).all() and (pruned >= full - 1e-9).all()
    assert ranges.size(2) == 4 and caught == [
        "get_rnnt_prune_ranges: s_range=2 is too narrow to keep a path of every sequence "
        "(the regular lattice needs s_range >= 4 here); using s_range=4"
    ]
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="none", return_grad=True)
    with pytest.raises(RuntimeError, match=r"keeps no path of sequence 2 of the regular lattice: its S_b=6 symbols in T_b=2"):
        torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, 3)
    # Without the short one, nothing is widened.
    keep = torch.tensor([0, 1, 3])
    full, pruned, ranges, caught = full_and_pruned(lm[keep], am[keep], symbols[keep], boundary[keep], "regular", 2)
    assert ranges.size(2) == 2 and caught == [] and torch.isfinite(pruned).all()


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
@pytest.mark.parametrize("T", [1, 2, 3])
def test_every_width_on_short_utterances(rnnt_type, T):
    # s_range from 1 to S+2, ragged batches (S_b = 0 and T_b = 0 included where the lattice
    # allows them), and no boundary: the pruned loss is finite wherever the full one is.
    rng = random.Random(T)
    for trial, S in itertools.product(range(2), (0, 1, 3, 8)):
        if rnnt_type != "regular" and S > T:
            continue
        B = 3
        lm, am, symbols = inputs(B, S, T, seed=100 * T + 10 * trial + S)
        rows = []
        for _ in range(B):
            s_end = rng.randint(0, S)
            t_end = rng.randint(s_end if rnnt_type != "regular" else 0, T)
            rows.append([0, 0, s_end, t_end])
        for boundary in (torch.tensor(rows), None):
            need = min(needed_width(boundary, rnnt_type, S, T), S + 1)
            for s_range in range(1, S + 3):
                full, pruned, ranges, caught = full_and_pruned(lm, am, symbols, boundary, rnnt_type, s_range)
                ok = torch.isfinite(full)
                assert torch.isfinite(pruned[ok]).all(), (rnnt_type, S, T, rows, s_range, ranges.tolist())
                assert (pruned[ok] >= full[ok] - 1e-9).all()
                width = min(S + 1, max(s_range, need, 2 if S >= 1 else 1))
                assert ranges.size(2) == width, (s_range, need, ranges.shape)
                assert len(caught) == (s_range != width)
                if s_range == S + 1 or width == S + 1:
                    torch.testing.assert_close(pruned, full)


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_sequences_with_offsets(rnnt_type):
    # Rows with s_begin, t_begin > 0: the window of frame t_begin holds s_begin, and the width
    # is that of the S_b = s_end - s_begin symbols in T_b = t_end - t_begin frames.
    rng = random.Random(5)
    for trial in range(12):
        S, T = rng.randint(1, 7), rng.randint(1, 7)
        if rnnt_type != "regular" and S > T:
            T = S
        rows = []
        for _ in range(3):
            s0, s_end = sorted(rng.randint(0, S) for _ in range(2))
            t0, t_end = sorted(rng.randint(0, T) for _ in range(2))
            if rnnt_type != "regular" and t_end - t0 < s_end - s0:
                s_end = s0 + (t_end - t0)
            rows.append([s0, t0, s_end, t_end])
        boundary = torch.tensor(rows)
        lm, am, symbols = inputs(3, S, T, seed=trial)
        for s_range in range(1, S + 2):
            full, pruned, ranges, _ = full_and_pruned(lm, am, symbols, boundary, rnnt_type, s_range)
            ok = torch.isfinite(full)
            assert torch.isfinite(pruned[ok]).all(), (rows, s_range, ranges.tolist())
            assert (pruned[ok] >= full[ok] - 1e-9).all()
            for b, (s0, t0, _, t_end) in enumerate(rows):
                if t0 < t_end:
                    assert int(ranges[b, t0, 0]) <= s0 <= int(ranges[b, t0, -1])


def test_width_warnings_and_op_errors():
    lm, am, symbols = inputs(2, 4, 5)
    for rnnt_type in ("modified", "constrained"):
        _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, None, rnnt_type=rnnt_type, return_grad=True)
        with pytest.warns(UserWarning, match=re.escape(
            "get_rnnt_prune_ranges: s_range=1 is too narrow to keep a path of every sequence "
            "(the modified/constrained lattice needs s_range >= 2 here); using s_range=2"
        )):
            assert fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 1).size(2) == 2
        # The op keeps s_range=1 (the modified lattice keeps its paths); the constrained loss refuses it.
        ranges = torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 1)
        logits = torch.randn(2, 5, 1, 10, dtype=torch.float64)
        if rnnt_type == "modified":
            assert torch.isfinite(fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, rnnt_type=rnnt_type))
        else:
            with pytest.raises(RuntimeError, match=r"rnnt_loss_pruned: expected s_range >= 2 for the constrained lattice with S=4"):
                fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, rnnt_type=rnnt_type)
    # Regular lattice without a boundary: 5 symbols in 4 frames need 3; s_range=1 is raised too.
    lm, am, symbols = inputs(2, 5, 4)
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, None, return_grad=True)
    for s_range in (1, 2):
        with pytest.warns(UserWarning, match=f"s_range={s_range} is too narrow .* needs s_range >= 3 here\\); using s_range=3"):
            assert fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, s_range).size(2) == 3
    with pytest.raises(RuntimeError, match=r"s_range=2 keeps no path of the regular lattice: S=5 symbols in T=4 frames need s_range >= ceil\(S/T\)\+1"):
        torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 2)
    # Keyword names as in k2; then the clamp to S+1 (the two adjustments each warn).
    with pytest.warns(UserWarning) as record:
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad=px_grad, py_grad=py_grad, boundary=None, s_range=9)
    assert ranges.size(2) == 6 and [str(w.message) for w in record] == [
        "get_rnnt_prune_ranges: s_range=9 is larger than S+1=6, the number of symbol positions; using s_range=6 (no pruning)"
    ]


def test_min_s_range_matches_k2_formula():
    # k2: (S_b - 1) // T_b + 2 with truncating division, for S_b >= 1 and T_b >= 1.
    rows = [[0, 0, s, t] for s in range(0, 9) for t in range(0, 5)]
    boundary = torch.tensor(rows)
    px_grad, py_grad = torch.zeros(len(rows), 8, 5), torch.zeros(len(rows), 9, 4)
    got = torch.ops.fast_rnnt._rnnt_prune_min_s_range(px_grad, py_grad, boundary).tolist()
    for (_, _, s, t), width in zip(rows, got):
        assert width == (int((s - 1) / t) + 2 if s >= 1 and t >= 1 else 1), (s, t, width)
    assert torch.ops.fast_rnnt._rnnt_prune_min_s_range(px_grad[:, :, :4], py_grad, boundary).eq(1).all()


def test_compiled_pipeline_is_not_widened_but_checked():
    # Under torch.compile the wrapper cannot read values: it passes s_range through, and the op's
    # size check (no boundary) still refuses a width that keeps no path.
    lm, am, symbols = inputs(2, 5, 4)
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, None, return_grad=True)
    compiled = torch.compile(fast_rnnt.get_rnnt_prune_ranges, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(px_grad, py_grad, None, 3), fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 3))
    with pytest.raises(Exception, match="keeps no path of the regular lattice"):
        compiled(px_grad, py_grad, None, 2)
