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
