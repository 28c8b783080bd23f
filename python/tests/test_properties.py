"""Property tests (issue 7): random shapes, boundaries, blanks and rnnt_types for the simple, full
and pruned (full windows) losses against the float64 loop references of reference.py. Bounded:
a few dozen small examples per test, a few seconds in all."""

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import (
    get_rnnt_logprobs_joint_reference,
    get_rnnt_logprobs_reference,
    rnnt_loss_from_px_py_reference,
    rnnt_loss_pruned_reference,
)

import fast_rnnt

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@st.composite
def problems(draw):
    """(B, S, T, C, blank, rnnt_type, boundary or None, seed) with a valid boundary for the type."""
    rnnt_type = draw(st.sampled_from(["regular", "modified", "constrained"]))
    B = draw(st.integers(1, 3))
    S = draw(st.integers(0, 4))
    T = draw(st.integers(1, 5))
    if rnnt_type == "modified":
        T = max(T, S)  # one symbol per frame at most
    C = draw(st.integers(2, 5))
    blank = draw(st.integers(0, C - 1))
    boundary = None
    if draw(st.booleans()):
        rows = []
        for _ in range(B):
            s_begin = draw(st.integers(0, S))
            t_begin = draw(st.integers(0, T))
            s_end = draw(st.integers(s_begin, S))
            t_end = draw(st.integers(t_begin, T))
            if rnnt_type == "modified" and t_end - t_begin < s_end - s_begin:
                s_end = s_begin + (t_end - t_begin)
            rows.append([s_begin, t_begin, s_end, t_end])
        boundary = torch.tensor(rows, dtype=torch.int64)
    seed = draw(st.integers(0, 2**16))
    return B, S, T, C, blank, rnnt_type, boundary, seed


def _symbols(B, S, C, g):
    return torch.randint(0, C, (B, S), generator=g)


def _close(got, want):
    # -inf scores (no path inside a boundary) must match exactly; finite ones to float64 precision.
    assert torch.equal(torch.isinf(got), torch.isinf(want)), (got, want)
    finite = torch.isfinite(want)
    torch.testing.assert_close(got[finite], want[finite], rtol=1e-9, atol=1e-9)


@SETTINGS
@given(problems())
def test_rnnt_loss_simple_matches_reference(problem):
    B, S, T, C, blank, rnnt_type, boundary, seed = problem
    g = torch.Generator().manual_seed(seed)
    lm = torch.randn(B, S + 1, C, generator=g, dtype=torch.float64)
    am = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    symbols = _symbols(B, S, C, g)
    got = fast_rnnt.rnnt_loss_simple(lm, am, symbols, blank, boundary, rnnt_type=rnnt_type, reduction="none")
    px, py = get_rnnt_logprobs_reference(lm, am, symbols, blank, rnnt_type, boundary)
    _close(got, rnnt_loss_from_px_py_reference(px, py, boundary, rnnt_type, 0.0, "none"))


@SETTINGS
@given(problems())
def test_rnnt_loss_matches_reference(problem):
    B, S, T, C, blank, rnnt_type, boundary, seed = problem
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, S + 1, C, generator=g, dtype=torch.float64)
    symbols = _symbols(B, S, C, g)
    got = fast_rnnt.rnnt_loss(logits, symbols, blank, boundary, rnnt_type=rnnt_type, reduction="none")
    px, py = get_rnnt_logprobs_joint_reference(logits, symbols, blank, rnnt_type, boundary)
    _close(got, rnnt_loss_from_px_py_reference(px, py, boundary, rnnt_type, 0.0, "none"))


@SETTINGS
@given(problems())
def test_rnnt_loss_pruned_with_full_ranges_matches_reference_and_full_loss(problem):
    B, S, T, C, blank, rnnt_type, boundary, seed = problem
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, S + 1, C, generator=g, dtype=torch.float64)
    symbols = _symbols(B, S, C, g)
    ranges = torch.arange(S + 1).expand(B, T, S + 1).contiguous()  # s_range = S+1: nothing pruned
    got = fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, blank, boundary, rnnt_type=rnnt_type, reduction="none")
    want = rnnt_loss_pruned_reference(logits, symbols, ranges, blank, boundary, rnnt_type, reduction="none")
    _close(got, want)
    # With nothing pruned, the pruned lattice is the full one.
    _close(got, fast_rnnt.rnnt_loss(logits, symbols, blank, boundary, rnnt_type=rnnt_type, reduction="none"))
