"""torch.ops.fast_rnnt.smoothed_arc_logprobs (the fused lm/am op under rnnt_loss_simple and
rnnt_loss_smoothed) and its private forward/backward: against the cell-by-cell float64 reference
(values, and gradients by autograd through the reference), gradcheck, float32 at a realistic
size, 16-bit inputs, masked rows, empty sizes, bad inputs, opcheck."""

import pytest
import torch

import fast_rnnt  # noqa: F401  (loads the ops)
import reference as ref
from conftest import devices

op = torch.ops.fast_rnnt.smoothed_arc_logprobs
# (lm_only_scale, am_only_scale): the simple loss, icefall's smoothed loss (k2 passes 1e-20 for
# the zero), k2's defaults, each model alone, and negative / degenerate mixes.
SCALES = [(0.0, 0.0), (0.25, 1e-20), (0.1, 0.1), (0.0, 0.3), (1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (-0.2, 0.4)]


def inputs(device, B, S, T, C, seed, dtype=torch.float64, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    lm = (3 * torch.randn(B, S + 1, C, generator=g, dtype=torch.float64)).to(device, dtype).requires_grad_(requires_grad)
    am = (3 * torch.randn(B, T, C, generator=g, dtype=torch.float64)).to(device, dtype).requires_grad_(requires_grad)
    symbols = torch.randint(0, C, (B, S), generator=g).to(device)
    return lm, am, symbols


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("scales", SCALES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference_float64(device, scales, seed):
    B, S, T, C = 2, 3 + seed, 4, 6
    blank = seed % C
    lm, am, symbols = inputs(device, B, S, T, C, seed)
    px, py = op(lm, am, symbols, blank, *scales)
    lm_r, am_r = lm.detach().cpu().requires_grad_(), am.detach().cpu().requires_grad_()
    px_r, py_r = ref.smoothed_arc_logprobs_reference(lm_r, am_r, symbols.cpu(), blank, *scales)
    assert px.shape == (B, S, T) and py.shape == (B, S + 1, T) and px.dtype == torch.float64
    torch.testing.assert_close(px.cpu(), px_r, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(py.cpu(), py_r, rtol=1e-12, atol=1e-12)
    # Gradients of a random weighting of both outputs, against autograd through the reference.
    g = torch.Generator().manual_seed(100 + seed)
    gx, gy = torch.randn(px.shape, generator=g, dtype=torch.float64), torch.randn(py.shape, generator=g, dtype=torch.float64)
    lm_grad, am_grad = torch.autograd.grad([px, py], [lm, am], [gx.to(device), gy.to(device)])
    # With j = a = 0 (or j = l = 0) the reference does not read am (lm): a zero gradient.
    lm_grad_r, am_grad_r = (torch.zeros_like(x) if gr is None else gr for x, gr in zip(
        (lm_r, am_r), torch.autograd.grad([px_r, py_r], [lm_r, am_r], [gx, gy], allow_unused=True)))
    torch.testing.assert_close(lm_grad.cpu(), lm_grad_r, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(am_grad.cpu(), am_grad_r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("scales", [(0.0, 0.0), (0.25, 1e-20), (0.1, 0.2)])
def test_gradcheck(device, scales):
    lm, am, symbols = inputs(device, 2, 2, 3, 4, seed=7)
    assert torch.autograd.gradcheck(lambda lm, am: op(lm, am, symbols, 1, *scales), (lm, am))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("scales", [(0.0, 0.0), (0.25, 1e-20), (0.1, 0.2)])
def test_float32_at_librispeech_size(device, scales):
    """float32 against float64 on B=2, S=60, T=300, C=200: values and gradients."""
    lm, am, symbols = inputs(device, 2, 60, 300, 200, seed=3)
    outs = {}
    for dtype in (torch.float32, torch.float64):
        lm_d, am_d = lm.detach().to(dtype).requires_grad_(), am.detach().to(dtype).requires_grad_()
        px, py = op(lm_d, am_d, symbols, 0, *scales)
        g = torch.Generator().manual_seed(5)
        gx = torch.rand(px.shape, generator=g, dtype=torch.float64).to(device, dtype)
        gy = torch.rand(py.shape, generator=g, dtype=torch.float64).to(device, dtype)
        outs[dtype] = [px, py, *torch.autograd.grad([px, py], [lm_d, am_d], [gx, gy])]
    for lo, hi in zip(outs[torch.float32], outs[torch.float64]):
        assert lo.dtype == torch.float32
        scale = hi.abs().max().item()
        assert (lo.double() - hi).abs().max().item() <= 2e-6 * max(scale, 1.0)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_16_bit_inputs(device, dtype):
    """Computed in float32 from the 16-bit values; results and gradients in the inputs' dtype."""
    lm, am, symbols = inputs(device, 2, 3, 5, 7, seed=4, dtype=dtype)
    px, py = op(lm, am, symbols, 0, 0.25, 1e-20)
    assert px.dtype == dtype and py.dtype == dtype
    lm_f, am_f = lm.detach().float().requires_grad_(), am.detach().float().requires_grad_()
    px_f, py_f = op(lm_f, am_f, symbols, 0, 0.25, 1e-20)
    torch.testing.assert_close(px.float(), px_f.to(dtype).float())
    torch.testing.assert_close(py.float(), py_f.to(dtype).float())
    (px.float().sum() + py.float().sum()).backward()
    (px_f.sum() + py_f.sum()).backward()
    assert lm.grad.dtype == dtype and am.grad.dtype == dtype
    torch.testing.assert_close(am.grad.float(), am_f.grad.to(dtype).float())
    torch.testing.assert_close(lm.grad.float(), lm_f.grad.to(dtype).float())


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("scales", [(0.0, 0.0), (0.25, 1e-20), (0.1, 0.2)])
def test_masked_rows_and_classes(device, scales):
    """An lm row or an am frame of -inf gives -inf arcs, never NaN, and zero gradients there;
    a -inf class elsewhere is a zero-probability class."""
    lm, am, symbols = inputs(device, 2, 3, 4, 5, seed=9, requires_grad=False)
    lm[0, 1] = float("-inf")
    am[1, 2] = float("-inf")
    lm[1, :, 4] = float("-inf")
    lm.requires_grad_()
    am.requires_grad_()
    px, py = op(lm, am, symbols, 0, *scales)
    assert not px.isnan().any() and not py.isnan().any()
    assert (py[0, 1] == float("-inf")).all() and (py[1, :, 2] == float("-inf")).all()
    finite = [t[t.isfinite()] for t in (px, py)]
    (finite[0].sum() + finite[1].sum()).backward()
    assert lm.grad.isfinite().all() and am.grad.isfinite().all()
    assert (lm.grad[1, :, 4] == 0).all()


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("B,S,T", [(0, 2, 3), (2, 0, 3), (2, 2, 0)])
def test_empty_sizes(device, B, S, T):
    lm, am, symbols = inputs(device, B, S, T, 4, seed=0)
    px, py = op(lm, am, symbols, 0, 0.25, 1e-20)
    assert px.shape == (B, S, T) and py.shape == (B, S + 1, T)
    (px.sum() + py.sum()).backward()
    assert lm.grad.shape == lm.shape and am.grad.shape == am.shape


def test_strided_inputs():
    lm, am, symbols = inputs("cpu", 2, 3, 4, 6, seed=1, requires_grad=False)
    lm_t = lm.transpose(0, 1).contiguous().transpose(0, 1)
    am_t = am[:, :, list(range(6))].transpose(1, 2).contiguous().transpose(1, 2)
    assert not am_t.is_contiguous()
    for a, b in zip(op(lm_t, am_t, symbols, 2, 0.1, 0.2), op(lm, am, symbols, 2, 0.1, 0.2)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bad_inputs():
    lm, am, symbols = inputs("cpu", 2, 3, 4, 5, seed=0, requires_grad=False)
    with pytest.raises(RuntimeError, match="expected lm of shape"):
        op(lm[0], am, symbols, 0)
    with pytest.raises(RuntimeError, match="batch size mismatch"):
        op(lm, am[:1], symbols, 0)
    with pytest.raises(RuntimeError, match="number of classes mismatch"):
        op(lm, am[..., :4], symbols, 0)
    with pytest.raises(RuntimeError, match="expected termination_symbol in"):
        op(lm, am, symbols, 5)
    with pytest.raises(RuntimeError, match="expected every symbol in"):
        op(lm, am, symbols + 5, 0)
    with pytest.raises(RuntimeError, match="expected symbols of shape"):
        op(lm, am, symbols[:, :2], 0)
    with pytest.raises(RuntimeError, match="finite lm_only_scale and am_only_scale"):
        op(lm, am, symbols, 0, float("nan"), 0.0)
    with pytest.raises(RuntimeError, match="lm is Float but am is Double"):
        op(lm.float(), am, symbols, 0)
    _, _, lm_rows, am_probs, sums = torch.ops.fast_rnnt._smoothed_arc_logprobs_forward(lm, am, symbols, 0, 0.1, 0.2)
    gx, gy = torch.zeros(2, 3, 4, dtype=torch.float64), torch.zeros(2, 4, 4, dtype=torch.float64)
    backward = torch.ops.fast_rnnt._smoothed_arc_logprobs_backward
    with pytest.raises(RuntimeError, match="expected lm_rows of shape"):
        backward(gx, gy, symbols, 0, 0.1, 0.0, lm_rows, am_probs, sums)  # no unigram row expected
    with pytest.raises(RuntimeError, match="expected py_grad of shape"):
        backward(gx, gy[:, :3], symbols, 0, 0.1, 0.2, lm_rows, am_probs, sums)
    with pytest.raises(RuntimeError, match="expected every symbol in"):
        backward(gx, gy, symbols + 5, 0, 0.1, 0.2, lm_rows, am_probs, sums)


def sample_inputs(device, requires_grad=False):
    samples = []
    for seed, (scales, dtype) in enumerate([((0.0, 0.0), torch.float64), ((0.25, 1e-20), torch.float32), ((0.1, 0.2), torch.float64)]):
        lm, am, symbols = inputs(device, 2, 3, 5, 4, seed, dtype, requires_grad)
        samples.append((lm, am, symbols, seed, *scales))
    return samples


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck(device, requires_grad):
    for args in sample_inputs(device, requires_grad):
        torch.library.opcheck(op.default, args)


@pytest.mark.parametrize("device", devices())
def test_opcheck_private_ops(device):
    for lm, am, symbols, blank, l, a in sample_inputs(device):
        args = (lm, am, symbols, blank, l, a)
        torch.library.opcheck(torch.ops.fast_rnnt._smoothed_arc_logprobs_forward.default, args)
        px, py, lm_rows, am_probs, sums = torch.ops.fast_rnnt._smoothed_arc_logprobs_forward(*args)
        gx, gy = torch.randn_like(px, dtype=am_probs.dtype), torch.randn_like(py, dtype=am_probs.dtype)
        torch.library.opcheck(torch.ops.fast_rnnt._smoothed_arc_logprobs_backward.default,
                              (gx, gy, symbols, blank, l, a, lm_rows, am_probs, sums))
