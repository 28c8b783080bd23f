"""RNN-T losses (simple, smoothed, full) vs the float64 loop references, invariants, gradients
and errors."""

import pytest
import torch

import fast_rnnt
import reference as R

RNNT_TYPES = R.RNNT_TYPES
REDUCTIONS = ("none", "mean", "sum")


def sample_inputs(device, requires_grad=False, dtype=torch.float64, B=2, S=3, T=5, C=6, seed=0):
    """lm (B, S+1, C), am (B, T, C), symbols (B, S) in [1, C), k2-style ragged boundary
    [[0, 0, S-1, T-1], [0, 0, S, T]], blank 0."""
    g = torch.Generator().manual_seed(seed)
    lm = torch.randn(B, S + 1, C, generator=g, dtype=torch.float64).to(dtype).to(device)
    am = torch.randn(B, T, C, generator=g, dtype=torch.float64).to(dtype).to(device)
    symbols = torch.randint(1, C, (B, S), generator=g).to(device)
    boundary = torch.tensor([[0, 0, S, T]] * B, dtype=torch.int64)
    boundary[0, 2:] = torch.tensor([S - 1, T - 1])
    return lm.requires_grad_(requires_grad), am.requires_grad_(requires_grad), symbols, boundary.to(device)


def joint_logits(lm, am):
    return (lm[:, None, :, :] + am[:, :, None, :]).detach()


def assert_lattice_close(actual, expected, atol=1e-10):
    """px/py equality including the -inf pattern."""
    assert actual.shape == expected.shape
    assert torch.equal(actual.cpu().isneginf(), expected.isneginf())
    finite = expected.isfinite()
    torch.testing.assert_close(actual.cpu().double()[finite], expected[finite], rtol=0, atol=atol)


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
@pytest.mark.parametrize("use_boundary", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_logprobs_match_reference(device, rnnt_type, use_boundary, seed):
    lm, am, symbols, boundary = sample_inputs(device, seed=seed)
    bd = boundary if use_boundary else None
    bd_cpu = bd.cpu() if bd is not None else None
    lm_c, am_c, sym_c = lm.cpu(), am.cpu(), symbols.cpu()

    px, py = fast_rnnt.get_rnnt_logprobs(lm, am, symbols, 0, rnnt_type=rnnt_type, boundary=bd)
    rx, ry = R.get_rnnt_logprobs_reference(lm_c, am_c, sym_c, 0, rnnt_type, bd_cpu)
    assert_lattice_close(px, rx)
    assert_lattice_close(py, ry)

    px, py = fast_rnnt.get_rnnt_logprobs_smoothed(lm, am, symbols, 0, 0.2, 0.3, boundary=bd, rnnt_type=rnnt_type)
    rx, ry = R.get_rnnt_logprobs_smoothed_reference(lm_c, am_c, sym_c, 0, 0.2, 0.3, rnnt_type, bd_cpu)
    assert_lattice_close(px, rx)
    assert_lattice_close(py, ry)

    g = torch.Generator().manual_seed(seed + 10)
    logits = torch.randn(2, 5, 4, 6, generator=g, dtype=torch.float64).to(device)
    px, py = fast_rnnt.get_rnnt_logprobs_joint(logits, symbols, 2, rnnt_type=rnnt_type, boundary=bd)
    rx, ry = R.get_rnnt_logprobs_joint_reference(logits.cpu(), sym_c, 2, rnnt_type, bd_cpu)
    assert_lattice_close(px, rx)
    assert_lattice_close(py, ry)


def _reference_loss(kind, lm, am, logits, symbols, blank, boundary, rnnt_type, delay_penalty, reduction):
    bd = boundary.cpu() if boundary is not None else None
    if kind == "simple":
        px, py = R.get_rnnt_logprobs_reference(lm.cpu(), am.cpu(), symbols.cpu(), blank, rnnt_type, bd)
    elif kind == "smoothed":
        px, py = R.get_rnnt_logprobs_smoothed_reference(lm.cpu(), am.cpu(), symbols.cpu(), blank, 0.25, 0.15, rnnt_type, bd)
    else:
        px, py = R.get_rnnt_logprobs_joint_reference(logits.cpu(), symbols.cpu(), blank, rnnt_type, bd)
    return R.rnnt_loss_from_px_py_reference(px, py, bd, rnnt_type, delay_penalty, reduction)


def _loss(kind, lm, am, logits, symbols, blank, boundary, rnnt_type, delay_penalty, reduction, return_grad=False):
    if kind == "simple":
        return fast_rnnt.rnnt_loss_simple(lm, am, symbols, blank, boundary=boundary, rnnt_type=rnnt_type,
                                          delay_penalty=delay_penalty, reduction=reduction, return_grad=return_grad)
    if kind == "smoothed":
        return fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, blank, lm_only_scale=0.25, am_only_scale=0.15,
                                            boundary=boundary, rnnt_type=rnnt_type, delay_penalty=delay_penalty,
                                            reduction=reduction, return_grad=return_grad)
    assert not return_grad
    return fast_rnnt.rnnt_loss(logits, symbols, blank, boundary=boundary, rnnt_type=rnnt_type,
                               delay_penalty=delay_penalty, reduction=reduction)


@pytest.mark.parametrize("kind", ["simple", "smoothed", "full"])
@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
@pytest.mark.parametrize("use_boundary", [False, True])
@pytest.mark.parametrize("delay_penalty", [0.0, 0.3])
def test_loss_matches_reference(device, kind, rnnt_type, use_boundary, delay_penalty):
    lm, am, symbols, boundary = sample_inputs(device, seed=3)
    bd = boundary if use_boundary else None
    logits = torch.randn(2, 5, 4, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64).to(device)
    blank = 1 if kind == "full" else 0
    for reduction in REDUCTIONS:
        loss = _loss(kind, lm, am, logits, symbols, blank, bd, rnnt_type, delay_penalty, reduction)
        expected = _reference_loss(kind, lm, am, logits, symbols, blank, bd, rnnt_type, delay_penalty, reduction)
        assert loss.shape == expected.shape
        torch.testing.assert_close(loss.cpu(), expected, rtol=1e-10, atol=1e-10)


def test_delay_penalty_ignored_unless_positive(device):
    lm, am, symbols, boundary = sample_inputs(device)
    base = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="none")
    neg = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, delay_penalty=-1.0, reduction="none")
    pos = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, delay_penalty=1.0, reduction="none")
    torch.testing.assert_close(base, neg)
    assert not torch.allclose(base, pos)


@pytest.mark.parametrize("kind", ["simple", "smoothed"])
@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_return_grad_is_occupancy(device, kind, rnnt_type):
    lm, am, symbols, boundary = sample_inputs(device, seed=5)
    getter = fast_rnnt.get_rnnt_logprobs if kind == "simple" else (
        lambda *a, **k: fast_rnnt.get_rnnt_logprobs_smoothed(*a[:4], 0.25, 0.15, **k))
    px, py = getter(lm, am, symbols, 0, rnnt_type=rnnt_type, boundary=boundary)
    px = R.apply_delay_penalty_reference(px.cpu(), 0.2, rnnt_type, boundary.cpu()).requires_grad_()
    py = py.cpu().requires_grad_()
    scores = fast_rnnt.mutual_information_recursion(px, py, boundary.cpu())
    exp_px_grad, exp_py_grad = torch.autograd.grad(scores.sum(), (px, py))
    results = {}
    for reduction in REDUCTIONS:
        loss, (px_grad, py_grad) = _loss(kind, lm, am, None, symbols, 0, boundary, rnnt_type, 0.2, reduction, return_grad=True)
        plain = _loss(kind, lm, am, None, symbols, 0, boundary, rnnt_type, 0.2, reduction)
        torch.testing.assert_close(loss, plain)
        torch.testing.assert_close(px_grad.cpu(), exp_px_grad)
        torch.testing.assert_close(py_grad.cpu(), exp_py_grad)
        results[reduction] = loss
    torch.testing.assert_close(results["sum"], results["none"].sum())
    torch.testing.assert_close(results["mean"], results["none"].mean())


def test_return_grad_loss_is_differentiable(device):
    lm, am, symbols, boundary = sample_inputs(device, requires_grad=True)
    loss, _ = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, return_grad=True)
    g1 = torch.autograd.grad(loss, (lm, am))
    g2 = torch.autograd.grad(fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary), (lm, am))
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_gradcheck(device, rnnt_type):
    lm, am, symbols, boundary = sample_inputs(device, requires_grad=True, B=2, S=2, T=3, C=4)
    boundary[0] = torch.tensor([0, 0, 1, 2])

    def simple(lm, am):
        return fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, rnnt_type, 0.1, "none")

    def smoothed(lm, am):
        return fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, 0.2, 0.1, boundary, rnnt_type, 0.1, "none")

    def full(logits):
        return fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, rnnt_type, 0.1, "sum")

    # fast_mode: random projections of the Jacobian (the full one costs minutes on small CPUs);
    # exact gradients are also checked against literals in cpp_tests/test_rnnt_loss.cpp.
    assert torch.autograd.gradcheck(simple, (lm, am), fast_mode=True)
    assert torch.autograd.gradcheck(smoothed, (lm, am), fast_mode=True)
    logits = joint_logits(lm, am).requires_grad_()
    assert torch.autograd.gradcheck(full, (logits,), fast_mode=True)


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_full_loss_with_additive_joiner_equals_simple(device, rnnt_type):
    lm, am, symbols, boundary = sample_inputs(device, requires_grad=True, seed=7)
    simple = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, rnnt_type, reduction="none")
    logits = lm[:, None, :, :] + am[:, :, None, :]
    full = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, rnnt_type, reduction="none")
    torch.testing.assert_close(full, simple)
    g_simple = torch.autograd.grad(simple.sum(), (lm, am))
    g_full = torch.autograd.grad(full.sum(), (lm, am))
    for a, b in zip(g_simple, g_full):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_smoothed_with_zero_scales_equals_simple(device, rnnt_type):
    lm, am, symbols, boundary = sample_inputs(device, seed=8)
    simple = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, rnnt_type, reduction="none")
    smoothed = fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, 0.0, 0.0, boundary, rnnt_type, reduction="none")
    torch.testing.assert_close(smoothed, simple)


@pytest.mark.parametrize("kind", ["simple", "full"])
@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_float32_agrees_with_float64(device, kind, rnnt_type):
    lm, am, symbols, boundary = sample_inputs(device, seed=9, S=6, T=9, C=30)
    logits = joint_logits(lm, am) + 0.5 * torch.randn(2, 9, 7, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).to(device)
    args = dict(boundary=boundary, rnnt_type=rnnt_type, reduction="none")
    if kind == "simple":
        l64 = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, **args)
        l32 = fast_rnnt.rnnt_loss_simple(lm.float(), am.float(), symbols, 0, **args)
    else:
        l64 = fast_rnnt.rnnt_loss(logits, symbols, 0, **args)
        l32 = fast_rnnt.rnnt_loss(logits.float(), symbols, 0, **args)
    assert l32.dtype == torch.float32
    torch.testing.assert_close(l32.double(), l64, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_full_loss_reduced_precision_logits(device, dtype):
    lm, am, symbols, boundary = sample_inputs(device, seed=10, C=20)
    logits = joint_logits(lm, am).to(dtype).requires_grad_()
    loss = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, reduction="sum")
    assert loss.dtype == torch.float32
    ref_logits = logits.detach().double().requires_grad_()
    ref = fast_rnnt.rnnt_loss(ref_logits, symbols, 0, boundary, reduction="sum")
    torch.testing.assert_close(loss.double(), ref.detach(), rtol=1e-5, atol=1e-5)
    loss.backward()
    ref.backward()
    assert logits.grad.dtype == dtype
    atol = 2e-3 if dtype == torch.float16 else 1e-2
    torch.testing.assert_close(logits.grad.double(), ref_logits.grad, rtol=0, atol=atol)


@pytest.mark.parametrize("kind", ["simple", "full"])
@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_padding_beyond_boundary_changes_nothing(device, kind, rnnt_type):
    """Sequence 0 is (S_b, T_b) = (S-1, T-1): whatever lies beyond it neither changes its loss
    nor receives any gradient."""
    lm, am, symbols, boundary = sample_inputs(device, seed=11)
    S, T = 3, 5
    lm2, am2, symbols2 = lm.clone(), am.clone(), symbols.clone()
    lm2[0, S:] = 100 * torch.randn_like(lm2[0, S:])
    am2[0, T - 1:] = 100 * torch.randn_like(am2[0, T - 1:])
    symbols2[0, S - 1] = 5
    outs = []
    for a, b, s in ((lm, am, symbols), (lm2, am2, symbols2)):
        if kind == "simple":
            a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
            loss = fast_rnnt.rnnt_loss_simple(a, b, s, 0, boundary, rnnt_type, 0.3, "none")
            grads = torch.autograd.grad(loss[0], (a, b))
            assert torch.all(grads[0][0, S:] == 0) and torch.all(grads[1][0, T - 1:] == 0)
        else:
            logits = joint_logits(a, b)
            logits[0, :, S:] = 50 * torch.randn_like(logits[0, :, S:])  # beyond S_b
            logits[0, T - 1:] = 50 * torch.randn_like(logits[0, T - 1:])  # beyond T_b
            logits.requires_grad_()
            loss = fast_rnnt.rnnt_loss(logits, s, 0, boundary, rnnt_type, 0.3, "none")
            (g,) = torch.autograd.grad(loss[0], logits)
            assert torch.all(g[0, :, S:] == 0) and torch.all(g[0, T - 1:] == 0)
            assert torch.all(g[1] == 0)
        outs.append(loss[0].detach())
    torch.testing.assert_close(outs[0], outs[1])


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_nonzero_begin(device, rnnt_type):
    """Boundaries with s_begin, t_begin > 0 (as k2 allows)."""
    lm, am, symbols, _ = sample_inputs(device, seed=12, S=3, T=6)
    boundary = torch.tensor([[1, 1, 3, 5], [0, 2, 2, 6]], device=device)
    logits = joint_logits(lm, am)
    for kind in ("simple", "smoothed", "full"):
        loss = _loss(kind, lm, am, logits, symbols, 0, boundary, rnnt_type, 0.0, "none")
        expected = _reference_loss(kind, lm, am, logits, symbols, 0, boundary, rnnt_type, 0.0, "none")
        torch.testing.assert_close(loss.cpu(), expected, rtol=1e-10, atol=1e-10)


def test_bad_inputs():
    lm, am, symbols, boundary = sample_inputs("cpu")
    logits = joint_logits(lm, am)
    bad = symbols.clone()
    bad[1, 2] = 6
    with pytest.raises(RuntimeError, match=r"rnnt_loss_simple: expected every symbol in \[0, C\) = \[0, 6\), got symbols\[1, 2\] = 6"):
        fast_rnnt.rnnt_loss_simple(lm, am, bad, 0)
    with pytest.raises(RuntimeError, match=r"rnnt_loss: expected every symbol in \[0, C\)"):
        fast_rnnt.rnnt_loss(logits, -bad, 0)
    with pytest.raises(RuntimeError, match=r"rnnt_loss_smoothed: expected termination_symbol in \[0, C\) = \[0, 6\), got 6"):
        fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 6)
    with pytest.raises(RuntimeError, match=r"rnnt_loss: expected termination_symbol in \[0, C\) = \[0, 6\), got -1"):
        fast_rnnt.rnnt_loss(logits, symbols, -1)
    with pytest.raises(RuntimeError, match=r"expected rnnt_type to be 'regular', 'modified' or 'constrained', got 'pruned'"):
        fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, rnnt_type="pruned")
    with pytest.raises(RuntimeError, match=r"get_rnnt_logprobs_joint: expected rnnt_type"):
        fast_rnnt.get_rnnt_logprobs_joint(logits, symbols, 0, rnnt_type="")
    with pytest.raises(RuntimeError, match=r"rnnt_loss: expected reduction to be 'none', 'mean' or 'sum', got 'avg'"):
        fast_rnnt.rnnt_loss(logits, symbols, 0, reduction="avg")
    with pytest.raises(RuntimeError, match=r"batch size mismatch: lm.size\(0\)=2 but am.size\(0\)=1"):
        fast_rnnt.rnnt_loss_simple(lm, am[:1], symbols, 0)
    with pytest.raises(RuntimeError, match=r"number of classes mismatch"):
        fast_rnnt.get_rnnt_logprobs(lm, am[..., :5], symbols, 0)
    with pytest.raises(RuntimeError, match=r"expected symbols of shape \(B, S\) = \(2, 3\), got \[2, 2\]"):
        fast_rnnt.rnnt_loss_simple(lm, am, symbols[:, :2], 0)
    with pytest.raises(RuntimeError, match=r"rnnt_loss: expected symbols of shape \(B, S\) = \(2, 2\) for logits"):
        fast_rnnt.rnnt_loss(logits[:, :, :3], symbols, 0)
    with pytest.raises(RuntimeError, match=r"expected logits of shape \(B, T, S\+1, C\), got a 3-D"):
        fast_rnnt.rnnt_loss(logits[0], symbols, 0)
    with pytest.raises(RuntimeError, match=r"rnnt_type='modified' requires T >= S, got T=2 and S=3"):
        fast_rnnt.rnnt_loss_simple(lm, am[:, :2], symbols, 0, rnnt_type="modified")
    with pytest.raises(RuntimeError, match=r"rnnt_type='modified' requires T >= S"):
        fast_rnnt.rnnt_loss(logits[:, :2], symbols, 0, rnnt_type="modified")
    with pytest.raises(RuntimeError, match=r"expected boundary of shape \(B, 4\)"):
        fast_rnnt.rnnt_loss(logits, symbols, 0, boundary=boundary[:, :3])
    with pytest.raises(RuntimeError, match=r"lm is Double but am is Float"):
        fast_rnnt.rnnt_loss_simple(lm, am.float(), symbols, 0)
    with pytest.raises(RuntimeError, match=r"boundary\[0\]"):
        fast_rnnt.rnnt_loss(logits, symbols, 0, boundary=torch.tensor([[0, 0, 3, 9], [0, 0, 3, 5]]))


def test_constrained_without_path_is_inf():
    lm, am, symbols, _ = sample_inputs("cpu", S=3, T=2)
    loss = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, rnnt_type="constrained", reduction="none")
    assert torch.all(loss == float("inf"))


def test_torchscript():
    lm, am, symbols, boundary = sample_inputs("cpu")
    logits = joint_logits(lm, am)

    def f(lm: torch.Tensor, am: torch.Tensor, logits: torch.Tensor, symbols: torch.Tensor, boundary: torch.Tensor):
        a = torch.ops.fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary=boundary, rnnt_type="modified", reduction="sum")
        b = torch.ops.fast_rnnt.rnnt_loss(logits, symbols, 0, boundary=boundary, delay_penalty=0.5)
        c = torch.ops.fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, 0.1, 0.2, boundary)
        return a, b, c

    scripted = torch.jit.script(f)
    for x, y in zip(scripted(lm, am, logits, symbols, boundary), f(lm, am, logits, symbols, boundary)):
        torch.testing.assert_close(x, y)


@pytest.mark.parametrize(
    "op_name",
    ["rnnt_loss", "rnnt_loss_simple", "rnnt_loss_simple_with_grad", "rnnt_loss_smoothed", "get_rnnt_logprobs_joint"],
)
def test_opcheck_composites(op_name):
    lm, am, symbols, boundary = sample_inputs("cpu", dtype=torch.float32, requires_grad=True)
    logits = joint_logits(lm, am).requires_grad_()
    args = {
        "rnnt_loss": (logits, symbols, 0, boundary, "regular", 0.5, "mean"),
        "rnnt_loss_simple": (lm, am, symbols, 0, boundary, "constrained", 0.0, "sum"),
        "rnnt_loss_simple_with_grad": (lm, am, symbols, 0, boundary, "modified", 0.2, "none"),
        "rnnt_loss_smoothed": (lm, am, symbols, 0, 0.1, 0.2, boundary, "regular", 0.3, "mean"),
        "get_rnnt_logprobs_joint": (logits, symbols, 0, "constrained", boundary),
    }[op_name]
    torch.library.opcheck(getattr(torch.ops.fast_rnnt, op_name).default, args)


def test_torchaudio_agrees():
    torchaudio_functional = pytest.importorskip("torchaudio.functional")
    lm, am, symbols, boundary = sample_inputs("cpu", dtype=torch.float32, seed=13, C=10)
    logits = joint_logits(lm, am) + torch.randn(2, 5, 4, 10, generator=torch.Generator().manual_seed(0))
    ours = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, reduction="none")
    theirs = torchaudio_functional.rnnt_loss(
        logits, symbols.int(), boundary[:, 3].int(), boundary[:, 2].int(), blank=0, reduction="none", clamp=-1
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


class _ScriptedLosses(torch.nn.Module):
    def forward(self, lm: torch.Tensor, am: torch.Tensor, logits: torch.Tensor, symbols: torch.Tensor, boundary: torch.Tensor):
        a = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, rnnt_type="modified")
        b = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary)
        c = fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, boundary=boundary, reduction="sum")
        assert isinstance(b, torch.Tensor) and isinstance(c, torch.Tensor)  # return_grad=False
        px, py = fast_rnnt.get_rnnt_logprobs_joint(logits, symbols, 0, boundary, "regular")
        return a + b + c + px.clamp_min(-1e4).sum() + py.sum()


def test_torchscript_wrappers():
    lm, am, symbols, boundary = sample_inputs("cpu")
    logits = joint_logits(lm, am)
    scripted = torch.jit.script(_ScriptedLosses())
    torch.testing.assert_close(scripted(lm, am, logits, symbols, boundary), _ScriptedLosses()(lm, am, logits, symbols, boundary))


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_empty_symbol_sequences(device, rnnt_type):
    """S = 0: the only path emits T blanks."""
    g = torch.Generator().manual_seed(14)
    lm = torch.randn(2, 1, 5, generator=g, dtype=torch.float64).to(device)
    am = torch.randn(2, 4, 5, generator=g, dtype=torch.float64).to(device)
    symbols = torch.zeros(2, 0, dtype=torch.int64, device=device)
    expected = -torch.log_softmax(lm[:, None] + am[:, :, None], -1)[..., 0].sum((1, 2))
    for loss in (
        fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, rnnt_type=rnnt_type, reduction="none"),
        fast_rnnt.rnnt_loss(joint_logits(lm, am), symbols, 0, rnnt_type=rnnt_type, reduction="none"),
    ):
        torch.testing.assert_close(loss, expected)
