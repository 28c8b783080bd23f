"""The benchmarks compare fast_rnnt with ATen compositions of the same losses
(fast_rnnt.benchmark.aten_baselines): they must compute the same values and gradients, or the
speed-ups in BENCHMARKS.md compare different things."""

import pytest
import torch

import fast_rnnt
from fast_rnnt.benchmark import aten_baselines


def ragged_batch(seed, B=3, S=6, T=9, C=7):
    g = torch.Generator().manual_seed(seed)
    S_b = torch.tensor([S, S - 2, 0])[:B]
    T_b = torch.tensor([T, T - 3, 4])[:B]
    boundary = torch.stack([torch.zeros(B, dtype=torch.long), torch.zeros(B, dtype=torch.long), S_b, T_b], 1)
    symbols = torch.randint(1, C, (B, S), generator=g)
    lm = torch.randn(B, S + 1, C, generator=g, dtype=torch.float64, requires_grad=True)
    am = torch.randn(B, T, C, generator=g, dtype=torch.float64, requires_grad=True)
    return lm, am, symbols, boundary


def assert_same_loss_and_grads(loss_fn, baseline_fn, leaves):
    ours = loss_fn()
    grads = torch.autograd.grad(ours, leaves)
    theirs = baseline_fn()
    expected = torch.autograd.grad(theirs, leaves)
    torch.testing.assert_close(ours, theirs)
    for a, b in zip(grads, expected):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simple_and_smoothed(seed):
    lm, am, symbols, boundary = ragged_batch(seed)
    assert_same_loss_and_grads(
        lambda: fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="sum"),
        lambda: aten_baselines.rnnt_loss_simple(lm, am, symbols, boundary),
        [lm, am],
    )
    for lm_only, am_only in [(0.25, 0.0), (0.1, 0.2)]:
        ours, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
            lm, am, symbols, 0, lm_only, am_only, boundary, reduction="sum", return_grad=True)
        theirs, (px_grad_ref, py_grad_ref) = aten_baselines.rnnt_loss_smoothed_with_grad(
            lm, am, symbols, lm_only, am_only, boundary)
        torch.testing.assert_close(ours, theirs)
        torch.testing.assert_close(px_grad, px_grad_ref)
        torch.testing.assert_close(py_grad, py_grad_ref)


@pytest.mark.parametrize("seed", [0, 1])
def test_full_and_pruned(seed):
    lm, am, symbols, boundary = ragged_batch(seed)
    B, T, S, C = am.size(0), am.size(1), symbols.size(1), am.size(2)
    logits = (am.detach().unsqueeze(2) + lm.detach().unsqueeze(1)).requires_grad_()
    assert_same_loss_and_grads(
        lambda: fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, reduction="sum"),
        lambda: aten_baselines.rnnt_loss(logits, symbols, boundary),
        [logits],
    )
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, return_grad=True)
    ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, 3)
    for ours, theirs in zip(fast_rnnt.do_rnnt_pruning(am, lm, ranges), aten_baselines.do_rnnt_pruning(am, lm, ranges)):
        torch.testing.assert_close(ours, theirs)
    pruned_logits = torch.randn(B, T, 3, C, dtype=torch.float64, requires_grad=True)
    assert_same_loss_and_grads(
        lambda: fast_rnnt.rnnt_loss_pruned(pruned_logits, symbols, ranges, 0, boundary, reduction="sum"),
        lambda: aten_baselines.rnnt_loss_pruned(pruned_logits, symbols, ranges, boundary),
        [pruned_logits],
    )


def test_recursion_batch_sweep_reports_every_batch_size():
    # The CUDA mode's batch sweep (issue 14, defect 6), exercised on the CPU with tiny sizes.
    from fast_rnnt.benchmark import recursion

    rows = recursion.batch_sweep(S=2, T=3, device=torch.device("cpu"), reps=1, batch_sizes=(1, 2))
    assert list(rows) == ["B=1", "B=2"]
    assert all(float(r["median ms"]) > 0 and float(r["ms per sequence"]) > 0 for r in rows.values())


def test_peers_library_and_compare():
    """The named-baseline plumbing: each benchmark child checks that it imported the library it
    times, and results of two libraries are compared to the stated tolerances."""
    from fast_rnnt.benchmark import peers

    assert peers.library(peers.OURS) is fast_rnnt
    with pytest.raises(RuntimeError, match="fast_rnnt 1.3: this interpreter imports fast_rnnt"):
        peers.library(peers.FAST_RNNT_1_3)
    ours = {"loss": torch.tensor(1000.0), "px_grad": torch.zeros(2, 3), "ranges": torch.arange(4)}
    assert peers.compare(ours, dict(ours)) is None
    close = {"loss": torch.tensor(1000.0 * (1 + peers.LOSS_RTOL / 2)), "px_grad": torch.full((2, 3), peers.GRAD_TOL / 2),
             "ranges": torch.arange(4)}
    assert peers.compare(ours, close) is None
    assert peers.max_grad_difference(ours, close) == pytest.approx(peers.GRAD_TOL / 2)
    far = {"loss": torch.tensor(1000.0 * (1 + 2 * peers.LOSS_RTOL)), "px_grad": torch.full((2, 3), 2 * peers.GRAD_TOL),
           "ranges": torch.tensor([0, 1, 2, 4])}
    # Gradients are compared relative to their largest magnitude (at least 1).
    assert peers.compare({"g": torch.tensor([400.0])}, {"g": torch.tensor([400.0 * (1 + peers.GRAD_TOL / 2)])}) is None
    problem = peers.compare(ours, far)
    assert "loss" in problem and "px_grad: max abs difference" in problem and "ranges: 1 of 4 entries differ" in problem


def test_peer_calls_match_positional_api():
    """peers' keyword calls are the library's own functions: same values as the positional calls."""
    from fast_rnnt.benchmark import peers

    lm, am, symbols, boundary = ragged_batch(0)
    loss, (px_grad, py_grad) = peers.rnnt_loss_smoothed_with_grad(fast_rnnt, lm, am, symbols, boundary, 0.25, 0.0)
    expected, (px_ref, py_ref) = fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, 0.25, 0.0, boundary,
                                                              reduction="sum", return_grad=True)
    torch.testing.assert_close(loss, expected)
    ranges = peers.get_rnnt_prune_ranges(fast_rnnt, px_grad, py_grad, boundary, 3)
    torch.testing.assert_close(ranges, fast_rnnt.get_rnnt_prune_ranges(px_ref, py_ref, boundary, 3))
    logits = torch.randn(am.size(0), am.size(1), 3, am.size(2), dtype=torch.float64)
    torch.testing.assert_close(peers.rnnt_loss_pruned(fast_rnnt, logits, symbols, ranges, boundary),
                               fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, boundary, reduction="sum"))
