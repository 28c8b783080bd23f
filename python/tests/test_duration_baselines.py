"""The ATen compositions of the TDT and multi-blank losses that the benchmark compares against
(fast_rnnt.benchmark.duration_baselines) compute the references' values and gradients."""

import pytest
import torch

import tdt_reference as R
from fast_rnnt.benchmark import duration_baselines


def ragged_batch(seed, extra, B=3, S=4, T=7, C=8):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, S + 1, C + extra, generator=g, dtype=torch.float64).requires_grad_()
    symbols = torch.randint(1, C - 3, (B, S), generator=g)
    zeros = torch.zeros(B, dtype=torch.long)
    boundary = torch.stack([zeros, zeros, torch.tensor([S, S - 2, 0])[:B], torch.tensor([T, T - 3, 3])[:B]], 1)
    return logits, symbols, boundary


def assert_same_loss_and_grad(ours_fn, reference_fn, logits):
    ours = ours_fn()
    (grad,) = torch.autograd.grad(ours, logits)
    expected = reference_fn()
    (expected_grad,) = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("durations", [[0, 1], [0, 1, 2], [0, 1, 2, 3, 4]])
@pytest.mark.parametrize("sigma", [0.0, 0.25])
def test_tdt_composition(durations, sigma):
    logits, symbols, boundary = ragged_batch(len(durations), len(durations))
    for blank in (0, 7):
        assert_same_loss_and_grad(
            lambda: duration_baselines.tdt_loss(logits, symbols, blank, durations, boundary, sigma),
            lambda: R.tdt_loss_reference(logits, symbols, blank, durations, boundary, sigma, reduction="sum"),
            logits)


@pytest.mark.parametrize("big_blanks", [[], [2], [4, 2, 3]])
@pytest.mark.parametrize("sigma", [0.0, 0.25])
def test_multiblank_composition(big_blanks, sigma):
    logits, symbols, boundary = ragged_batch(len(big_blanks), 0)
    assert_same_loss_and_grad(
        lambda: duration_baselines.multiblank_rnnt_loss(logits, symbols, 7, big_blanks, boundary, sigma),
        lambda: R.multiblank_rnnt_loss_reference(logits, symbols, 7, big_blanks, boundary, sigma, reduction="sum"),
        logits)
