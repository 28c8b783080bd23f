"""arc_logprobs: the fused read of joiner logits (log-sum-exp + symbol/blank gather)."""

import pytest
import torch

import fast_rnnt
from reference import arc_logprobs_reference


def sample_inputs(device, requires_grad=False, dtype=torch.float64, B=2, T=3, K=4, C=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(B, T, K, C, generator=g, dtype=torch.float64)).to(dtype).to(device)
    symbols = torch.randint(0, C, (B, K), generator=g)[:, None, :].expand(B, T, K).to(device)
    return logits.requires_grad_(requires_grad), symbols


@pytest.mark.parametrize("use_hat_loss", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_float64(device, use_hat_loss, seed):
    logits, symbols = sample_inputs(device, seed=seed)
    blank = 0 if use_hat_loss else 3
    sym_lp, blank_lp = fast_rnnt.arc_logprobs(logits, symbols, blank, use_hat_loss)
    ref_sym, ref_blank = arc_logprobs_reference(logits.cpu(), symbols.cpu(), blank, use_hat_loss)
    assert sym_lp.dtype == torch.float64 and sym_lp.shape == (2, 3, 4)
    torch.testing.assert_close(sym_lp.cpu(), ref_sym, rtol=0, atol=1e-12)
    torch.testing.assert_close(blank_lp.cpu(), ref_blank, rtol=0, atol=1e-12)


@pytest.mark.parametrize("use_hat_loss", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_reduced_precision(device, use_hat_loss, dtype):
    logits, symbols = sample_inputs(device, requires_grad=True, dtype=dtype, C=37)
    sym_lp, blank_lp = fast_rnnt.arc_logprobs(logits, symbols, 0, use_hat_loss)
    assert sym_lp.dtype == torch.float32 and blank_lp.dtype == torch.float32
    # The reference sees exactly the rounded logits.
    ref_in = logits.detach().cpu().double().requires_grad_()
    ref_sym, ref_blank = arc_logprobs_reference(ref_in, symbols.cpu(), 0, use_hat_loss)
    torch.testing.assert_close(sym_lp.cpu().double(), ref_sym.detach(), rtol=0, atol=1e-5)
    torch.testing.assert_close(blank_lp.cpu().double(), ref_blank.detach(), rtol=0, atol=1e-5)
    g_sym, g_blank = torch.randn_like(sym_lp), torch.randn_like(blank_lp)
    (sym_lp * g_sym + blank_lp * g_blank).sum().backward()
    (ref_sym * g_sym.cpu().double() + ref_blank * g_blank.cpu().double()).sum().backward()
    assert logits.grad.dtype == dtype and logits.grad.shape == logits.shape
    tol = {torch.float32: 1e-5, torch.float16: 4e-3, torch.bfloat16: 3e-2}[dtype]
    torch.testing.assert_close(logits.grad.cpu().double(), ref_in.grad, rtol=0, atol=tol)


@pytest.mark.parametrize("use_hat_loss", [False, True])
def test_gradcheck(device, use_hat_loss):
    logits, symbols = sample_inputs(device, requires_grad=True, B=2, T=2, K=3, C=5)
    blank = 0 if use_hat_loss else 2
    assert torch.autograd.gradcheck(lambda x: fast_rnnt.arc_logprobs(x, symbols, blank, use_hat_loss), (logits,))


def test_one_output_used(device):
    logits, symbols = sample_inputs(device, requires_grad=True)
    _, blank_lp = fast_rnnt.arc_logprobs(logits, symbols, 1)
    blank_lp.sum().backward()
    ref = torch.log_softmax(logits.detach(), -1)[..., 1]
    expected = torch.autograd.grad(torch.log_softmax(logits, -1)[..., 1].sum(), logits)[0]
    torch.testing.assert_close(blank_lp.detach(), ref)
    torch.testing.assert_close(logits.grad, expected)


def test_strided_inputs(device):
    """Non-contiguous logits (class dim strided; outer dims sliced) and contiguous symbols."""
    base, _ = sample_inputs(device, B=2, T=4, K=6, C=9)
    logits = base[:, ::2, 1:5, :]  # outer strides, unit class stride
    symbols = torch.randint(0, 9, logits.shape[:3], device=device)
    transposed = base.transpose(1, 3).contiguous().transpose(1, 3)[:, ::2, 1:5, :]  # class stride != 1
    assert not transposed.is_contiguous() and transposed.stride(3) != 1
    for x in (logits, transposed):
        sym_lp, blank_lp = fast_rnnt.arc_logprobs(x, symbols, 4)
        lp = torch.log_softmax(x, -1)
        torch.testing.assert_close(sym_lp, lp.gather(3, symbols[..., None])[..., 0])
        torch.testing.assert_close(blank_lp, lp[..., 4])


def test_gradient_formula(device):
    """grad[c] = g_x [c == sym] + g_y [c == blank] - (g_x + g_y) softmax(c), written in one pass."""
    logits, symbols = sample_inputs(device, requires_grad=True)
    sym_lp, blank_lp = fast_rnnt.arc_logprobs(logits, symbols, 5)
    g_x, g_y = torch.rand_like(sym_lp), torch.rand_like(blank_lp)
    (grad,) = torch.autograd.grad((sym_lp * g_x + blank_lp * g_y).sum(), logits)
    p = torch.softmax(logits.detach(), -1)
    expected = -(g_x + g_y)[..., None] * p
    expected.scatter_add_(3, symbols[..., None], g_x[..., None])
    expected[..., 5] += g_y
    torch.testing.assert_close(grad, expected)


def test_bad_inputs():
    logits, symbols = sample_inputs("cpu")
    with pytest.raises(RuntimeError, match=r"expected every symbol in \[0, C\) = \[0, 7\), got symbols\[1, 2, 3\] = 7"):
        bad = symbols.clone()
        bad[1, 2, 3] = 7
        fast_rnnt.arc_logprobs(logits, bad, 0)
    with pytest.raises(RuntimeError, match="expected every symbol"):
        fast_rnnt.arc_logprobs(logits, symbols - 1, 0)
    with pytest.raises(RuntimeError, match=r"termination_symbol in \[0, C\) = \[0, 7\), got 7"):
        fast_rnnt.arc_logprobs(logits, symbols, 7)
    with pytest.raises(RuntimeError, match=r"use_hat_loss=True expects termination_symbol == 0 .*, got 2"):
        fast_rnnt.arc_logprobs(logits, symbols, 2, True)
    with pytest.raises(RuntimeError, match=r"expected logits of shape \(B, T, K, C\), got a 3-D"):
        fast_rnnt.arc_logprobs(logits[0], symbols, 0)
    with pytest.raises(RuntimeError, match=r"expected symbols of shape \(B, T, K\)"):
        fast_rnnt.arc_logprobs(logits, symbols[:, :, :2], 0)
    with pytest.raises(RuntimeError, match="expected symbols to be int64, got Int"):
        fast_rnnt.arc_logprobs(logits, symbols.int(), 0)
    with pytest.raises(RuntimeError, match="expected logits to be float32"):
        fast_rnnt.arc_logprobs(logits.long(), symbols, 0)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck(requires_grad):
    logits, symbols = sample_inputs("cpu", requires_grad=requires_grad, dtype=torch.float32)
    torch.library.opcheck(torch.ops.fast_rnnt.arc_logprobs.default, (logits, symbols, 0, False))
    torch.library.opcheck(torch.ops.fast_rnnt.arc_logprobs.default, (logits, symbols, 0, True))


def test_opcheck_private_ops():
    logits, symbols = sample_inputs("cpu", dtype=torch.float32)
    sym_lp, blank_lp, norm = torch.ops.fast_rnnt._arc_logprobs_forward(logits, symbols, 1, False)
    torch.library.opcheck(torch.ops.fast_rnnt._arc_logprobs_forward.default, (logits, symbols, 1, False))
    torch.library.opcheck(
        torch.ops.fast_rnnt._arc_logprobs_backward.default,
        (logits, symbols, 1, False, norm, torch.ones_like(sym_lp), torch.ones_like(blank_lp)),
    )
    torch.testing.assert_close(norm, torch.logsumexp(logits, -1))


def test_masked_classes(device):
    """-inf logits (masked classes) get probability 0 and exactly zero gradient."""
    logits, symbols = sample_inputs(device)
    symbols = symbols % 4
    logits = logits.clone()
    logits[..., 5] = float("-inf")
    logits.requires_grad_()
    sym_lp, blank_lp = fast_rnnt.arc_logprobs(logits, symbols, 0)
    (sym_lp + blank_lp).sum().backward()
    lp = torch.log_softmax(logits.detach(), -1)
    torch.testing.assert_close(sym_lp, lp.gather(3, symbols[..., None])[..., 0])
    assert torch.all(logits.grad[..., 5] == 0) and torch.all(logits.grad.isfinite())
