"""fast_rnnt.tdt_loss / multiblank_rnnt_loss against the independent float64 references of
tdt_reference.py (NeMo's semantics, written from the papers), on random inputs: several seeds,
ragged and offset boundaries, each reduction, several duration / big-blank sets, sigma, omega,
FastEmit; values and logits gradients."""

import pytest
import torch

import fast_rnnt
import tdt_reference as R

REDUCTIONS = ("none", "mean", "sum")


def random_batch(seed, extra, B=3, S=3, T=6, C=8):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, S + 1, C + extra, generator=g, dtype=torch.float64).requires_grad_()
    symbols = torch.randint(1, C - 4, (B, S), generator=g)
    boundary = torch.tensor([[0, 0, S, T], [0, 0, S - 1, T - 2], [1, 2, S, T - 1]][:B])
    return logits, symbols, boundary


def loss_and_grad(fn, logits):
    loss = fn()
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    return loss.detach(), grad


@pytest.mark.parametrize("durations", [[0, 1], [0, 1, 2], [0, 1, 2, 3, 4]])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("seed", [0, 1])
def test_tdt_op_matches_reference(durations, reduction, seed):
    logits, symbols, boundary = random_batch(seed, len(durations))
    for bd in (None, boundary):
        for blank in (0, 7):
            for sigma in (0.0, 0.3):
                args = (symbols, blank, durations, bd, sigma, 0.0, 0.0, reduction)
                ours, grad = loss_and_grad(lambda: fast_rnnt.tdt_loss(logits, *args), logits)
                ref, ref_grad = loss_and_grad(lambda: R.tdt_loss_reference(logits, *args), logits)
                torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
                torch.testing.assert_close(grad, ref_grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("big_blanks", [[], [2], [3, 2], [2, 4, 3]])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("seed", [0])
def test_multiblank_op_matches_reference(big_blanks, reduction, seed):
    logits, symbols, boundary = random_batch(seed, 0)
    for bd in (None, boundary):
        for sigma in (0.0, 0.3):
            for lam in (0.0, 0.5):
                args = (symbols, 7, big_blanks, bd, sigma, lam, reduction)
                ours, grad = loss_and_grad(lambda: fast_rnnt.multiblank_rnnt_loss(logits, *args), logits)
                ref, ref_grad = loss_and_grad(lambda: R.multiblank_rnnt_loss_reference(logits, *args), logits)
                torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
                torch.testing.assert_close(grad, ref_grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("omega", [0.3, 1.0])
def test_tdt_omega_matches_reference_under_the_same_seed(omega):
    logits, symbols, boundary = random_batch(3, 3)
    for seed in range(6):
        args = (symbols, 0, [0, 1, 2], boundary, 0.1, omega, 0.0, "sum")
        torch.manual_seed(seed)
        ours, grad = loss_and_grad(lambda: fast_rnnt.tdt_loss(logits, *args), logits)
        torch.manual_seed(seed)
        ref, ref_grad = loss_and_grad(lambda: R.tdt_loss_reference(logits, *args), logits)
        torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(grad, ref_grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_tdt_fastemit_token_gradients_match_reference(lam):
    """The value and the token-logit gradients agree with NeMo's FastEmit. (The duration-logit
    gradients differ by design: the op scales the whole symbol arc, NeMo only its token part.)"""
    logits, symbols, boundary = random_batch(4, 5)
    args = (symbols, 0, [0, 1, 2, 3, 4], boundary, 0.2, 0.0, lam, "sum")
    ours, grad = loss_and_grad(lambda: fast_rnnt.tdt_loss(logits, *args), logits)
    ref, ref_grad = loss_and_grad(lambda: R.tdt_loss_reference(logits, *args), logits)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad[..., :8], ref_grad[..., :8], rtol=1e-9, atol=1e-10)
