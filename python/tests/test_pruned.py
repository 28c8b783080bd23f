"""Pruned RNN-T: prune ranges, pruning, pruned logprobs and loss, against the float64 loop
references of reference.py, plus the guarantees of the ranges and an end-to-end training step."""

import inspect
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fast_rnnt
from reference import (
    mutual_information_reference,
    prune_ranges_reference,
    pruned_logprobs_reference,
    rnnt_loss_pruned_reference,
)

RNNT_TYPES = ["regular", "modified", "constrained"]


def _is_regular(rnnt_type: str) -> bool:
    return rnnt_type == "regular"


def occupancies(B, S, T, regular, boundary=None, seed=0, real=True, dtype=torch.float64):
    """(px_grad, py_grad): the arc occupancies of a random lattice (real=True) or random
    non-negative numbers."""
    g = torch.Generator().manual_seed(seed)
    T1 = T + 1 if regular else T
    if not real:
        return torch.rand(B, S, T1, generator=g, dtype=dtype), torch.rand(B, S + 1, T, generator=g, dtype=dtype)
    px = torch.randn(B, S, T1, generator=g, dtype=dtype) * 2 - 1
    py = torch.randn(B, S + 1, T, generator=g, dtype=dtype) * 2 - 1
    if regular:
        px[:, :, T] = float("-inf")
    _, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(px, py, boundary, return_grad=True)
    return px_grad, py_grad


def sample_inputs(device, requires_grad=False, rnnt_type="regular", use_hat_loss=False, seed=0, dtype=torch.float64, s_range=3):
    """A small ragged batch: logits (B, T, s_range, C), symbols, ranges from real occupancies."""
    g = torch.Generator().manual_seed(seed)
    B, T, S, C = 3, 7, 4, 5
    symbols = torch.randint(1, C, (B, S), generator=g)
    boundary = torch.tensor([[0, 0, S, T], [0, 0, 2, 5], [0, 0, 3, 6]])
    px_grad, py_grad = occupancies(B, S, T, _is_regular(rnnt_type), boundary, seed=seed)
    ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)
    logits = torch.randn(B, T, s_range, C, generator=g, dtype=torch.float64).to(dtype)
    return dict(
        logits=logits.to(device).requires_grad_(requires_grad),
        symbols=symbols.to(device),
        ranges=ranges.to(device),
        termination_symbol=0,
        boundary=boundary.to(device),
        rnnt_type=rnnt_type,
        use_hat_loss=use_hat_loss,
    )


# ----------------------------------------------------------------------------- prune ranges


@pytest.mark.parametrize("regular", [True, False])
@pytest.mark.parametrize("real", [True, False])
@pytest.mark.parametrize("ragged", [True, False])
def test_prune_ranges_matches_reference(device, regular, real, ragged):
    B, S, T = 3, 6, 9
    boundary = torch.tensor([[0, 0, 6, 9], [0, 0, 2, 4], [0, 0, 5, 7]]) if ragged else None
    for s_range in ([2, 3, 4, 7] if regular else [1, 2, 3, 7]):
        px_grad, py_grad = occupancies(B, S, T, regular, boundary, seed=s_range, real=real)
        expected = prune_ranges_reference(px_grad, py_grad, boundary, s_range)
        got = torch.ops.fast_rnnt.get_rnnt_prune_ranges(
            px_grad.to(device), py_grad.to(device), None if boundary is None else boundary.to(device), s_range
        )
        assert got.dtype == torch.int64 and got.shape == (B, T, s_range)
        torch.testing.assert_close(got.cpu(), expected, rtol=0, atol=0)


def test_prune_ranges_by_hand():
    # S=2, T=3, s_range=2: all occupancy on the blank arcs of position 2 at frames 0, 1 pulls the
    # window up as far as the steps allow; the last frame ends at the last symbol.
    px_grad = torch.zeros(1, 2, 4)
    py_grad = torch.zeros(1, 3, 3)
    py_grad[0, 2, :] = 1.0
    ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 2)
    assert ranges[0].tolist() == [[0, 1], [1, 2], [1, 2]]
    ranges = torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad[:, :, :3], py_grad, None, 1)  # modified
    assert ranges[0].tolist() == [[0], [1], [2]]


def check_range_guarantees(ranges, B, S, T, s_range, regular, boundary):
    assert ranges.shape == (B, T, s_range) and ranges.dtype == torch.int64
    begin = ranges[:, :, 0]
    assert torch.equal(ranges, begin.unsqueeze(2) + torch.arange(s_range))
    assert ranges.numel() == 0 or (int(ranges.min()) >= 0 and int(ranges.max()) <= S)
    if T == 0:
        return
    assert (begin[:, 0] == 0).all()
    steps = begin[:, 1:] - begin[:, :-1]
    assert (steps >= 0).all(), "not non-decreasing"
    assert (steps < (s_range if regular else 2)).all(), "a step skips symbols"
    r = s_range if regular else 2
    for b in range(B):
        s_end, t_end = (int(boundary[b, 2]), int(boundary[b, 3])) if boundary is not None else (S, T)
        if t_end >= 1 and s_end - s_range + 1 <= (r - 1) * (t_end - 1):
            last = ranges[b, t_end - 1]
            assert int(last[0]) <= s_end <= int(last[-1]), f"the last real frame misses s_end={s_end}: {last.tolist()}"


@st.composite
def prune_cases(draw):
    regular = draw(st.booleans())
    S = draw(st.integers(0, 8))
    # T around S too: the modified lattice needs T >= S, the interesting cases are close to it.
    T = draw(st.one_of(st.integers(1, 10), st.integers(max(1, S - 1), S + 2)))
    B = draw(st.integers(1, 3))
    s_range = draw(st.integers(min(2, S + 1) if regular else 1, S + 1))
    ragged = draw(st.booleans())
    boundary = None
    if ragged:
        t_end = [draw(st.integers(0, T)) for _ in range(B)]
        s_end = [draw(st.integers(0, S)) for _ in range(B)]
        boundary = torch.tensor([[0, 0, s, t] for s, t in zip(s_end, t_end)], dtype=torch.int64)
    real = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return regular, B, S, T, s_range, boundary, real, seed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prune_cases())
def test_prune_ranges_guarantees(case):
    regular, B, S, T, s_range, boundary, real, seed = case
    px_grad, py_grad = occupancies(B, S, T, regular, boundary, seed=seed, real=real)
    if s_range < int(torch.ops.fast_rnnt._rnnt_prune_min_s_range(px_grad, py_grad, boundary).max()):
        with pytest.raises(RuntimeError, match="keeps no path"):
            torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)
        return
    ranges = torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)
    check_range_guarantees(ranges, B, S, T, s_range, regular, boundary)
    torch.testing.assert_close(ranges, prune_ranges_reference(px_grad, py_grad, boundary, s_range), rtol=0, atol=0)


@pytest.mark.skipif(not hasattr(fast_rnnt, "rnnt_loss_simple"), reason="needs rnnt_loss_simple (issue 3)")
@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_prune_ranges_guarantees_on_simple_loss_occupancies(rnnt_type):
    g = torch.Generator().manual_seed(3)
    for B, S, T, C in [(2, 0, 3, 4), (2, 1, 1, 4), (3, 5, 6, 6), (2, 9, 9, 5), (2, 3, 12, 7)]:
        if rnnt_type != "regular" and T < S:
            continue
        lm = torch.randn(B, S + 1, C, generator=g)
        am = torch.randn(B, T, C, generator=g)
        symbols = torch.randint(1, C, (B, S), generator=g)
        boundary = torch.tensor([[0, 0, S, T]] + [[0, 0, max(0, S - 1), max(1, T - 1)]] * (B - 1))
        _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(
            lm, am, symbols, 0, boundary, rnnt_type=rnnt_type, reduction="none", return_grad=True
        )
        regular = rnnt_type == "regular"
        for s_range in range(min(2, S + 1) if regular else 1, S + 2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a too narrow s_range is widened
                ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)
            check_range_guarantees(ranges, B, S, T, ranges.size(2), regular, boundary)


def test_prune_ranges_width_adjustment():
    px_grad, py_grad = occupancies(2, 3, 5, True)
    with pytest.warns(UserWarning, match="larger than S\\+1=4"):
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 9)
    assert ranges.shape == (2, 5, 4) and (ranges == torch.arange(4)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 4)  # exactly S+1: no warning
    # The op itself takes the final width and refuses one it cannot produce.
    with pytest.raises(RuntimeError, match="expected s_range <= S\\+1 = 4"):
        torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 9)
    with pytest.raises(RuntimeError, match="expected s_range >= 2 for the regular lattice"):
        torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 1)
    with pytest.raises(RuntimeError, match="expected s_range >= 2 for the regular lattice"):
        fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 0)
    with pytest.raises(RuntimeError, match="expected s_range >= 1"):
        fast_rnnt.get_rnnt_prune_ranges(px_grad[:, :, :5], py_grad, None, 0)


# ----------------------------------------------------------------------------- do_rnnt_pruning


def test_do_rnnt_pruning(device):
    inputs = sample_inputs(device)
    ranges = inputs["ranges"]
    B, T, s_range = ranges.shape
    S, D = 4, 6
    am = torch.randn(B, T, D, dtype=torch.float64, device=device, requires_grad=True)
    lm = torch.randn(B, S + 1, D, dtype=torch.float64, device=device, requires_grad=True)
    am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am, lm, ranges)
    assert am_pruned.shape == lm_pruned.shape == (B, T, s_range, D)
    for b in range(B):
        for t in range(T):
            for k in range(s_range):
                assert torch.equal(am_pruned[b, t, k], am[b, t])
                assert torch.equal(lm_pruned[b, t, k], lm[b, ranges[b, t, k]])
    (am_pruned.sum() + (lm_pruned * 2).sum()).backward()
    torch.testing.assert_close(am.grad, torch.full_like(am, s_range))
    counts = torch.zeros(B, S + 1, dtype=torch.float64)
    for b in range(B):
        for r in ranges[b].flatten().tolist():
            counts[b, r] += 2
    torch.testing.assert_close(lm.grad.cpu(), counts.unsqueeze(2).expand(B, S + 1, D))
    a2 = am[:2, :3, :2].detach().clone().requires_grad_()
    l2 = lm[:2, :, :2].detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, l: fast_rnnt.do_rnnt_pruning(a, l, ranges[:2, :3]), (a2, l2))
    # Encoder and decoder widths may differ.
    am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am[:, :, :5], lm[:, :, :3], ranges)
    assert am_pruned.shape == (B, T, s_range, 5) and lm_pruned.shape == (B, T, s_range, 3)


# ----------------------------------------------------------------------------- logprobs / loss


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
@pytest.mark.parametrize("use_hat_loss", [False, True])
@pytest.mark.parametrize("ragged", [True, False])
def test_logprobs_match_reference(device, rnnt_type, use_hat_loss, ragged):
    inputs = sample_inputs(device, rnnt_type=rnnt_type, use_hat_loss=use_hat_loss)
    if not ragged:
        inputs["boundary"] = None
    px, py = fast_rnnt.get_rnnt_logprobs_pruned(**inputs)
    cpu = {k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
    px_ref, py_ref = pruned_logprobs_reference(**cpu)
    B, T, _, _ = inputs["logits"].shape
    S = inputs["symbols"].size(1)
    assert px.shape == (B, S, T + 1 if rnnt_type == "regular" else T) and py.shape == (B, S + 1, T)
    assert px.is_contiguous() and py.is_contiguous()
    torch.testing.assert_close(px.cpu(), px_ref)
    torch.testing.assert_close(py.cpu(), py_ref)


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
@pytest.mark.parametrize("use_hat_loss", [False, True])
@pytest.mark.parametrize("delay_penalty", [0.0, 0.3])
def test_loss_matches_reference(device, rnnt_type, use_hat_loss, delay_penalty):
    inputs = sample_inputs(device, rnnt_type=rnnt_type, use_hat_loss=use_hat_loss, seed=1)
    cpu = {k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
    expected = rnnt_loss_pruned_reference(**cpu, delay_penalty=delay_penalty)
    assert torch.isfinite(expected).all()
    for reduction, ref in [("none", expected), ("sum", expected.sum()), ("mean", expected.mean())]:
        loss = fast_rnnt.rnnt_loss_pruned(**inputs, delay_penalty=delay_penalty, reduction=reduction)
        assert loss.dtype == torch.float64
        torch.testing.assert_close(loss.cpu(), ref)


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
@pytest.mark.parametrize("use_hat_loss", [False, True])
def test_loss_gradcheck(device, rnnt_type, use_hat_loss):
    inputs = sample_inputs(device, requires_grad=True, rnnt_type=rnnt_type, use_hat_loss=use_hat_loss, seed=2, s_range=2)
    logits = inputs.pop("logits")

    def loss(x):
        return fast_rnnt.rnnt_loss_pruned(x, **inputs, delay_penalty=0.1, reduction="none")

    assert torch.isfinite(loss(logits)).all()
    assert torch.autograd.gradcheck(loss, (logits,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_reduced_precision_logits(device, dtype):
    inputs = sample_inputs(device, dtype=dtype, requires_grad=True)
    loss = fast_rnnt.rnnt_loss_pruned(**inputs, reduction="none")
    assert loss.dtype == torch.float32
    cpu = {k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
    torch.testing.assert_close(loss.double().cpu(), rnnt_loss_pruned_reference(**cpu), rtol=1e-5, atol=1e-4)
    loss.sum().backward()
    assert inputs["logits"].grad.dtype == dtype and torch.isfinite(inputs["logits"].grad.float()).all()


def test_loss_by_hand():
    # B=1, S=1, T=1, s_range=2 (nothing pruned), C=2, blank 0, symbol 1; logits zero except one:
    # the only path emits the symbol at frame 0 then the blank from position 1.
    logits = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    logits[0, 0, 0, 1] = 1.0  # position 0: symbol logit 1, blank 0
    symbols = torch.tensor([[1]])
    ranges = torch.tensor([[[0, 1]]])
    loss = fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, reduction="none")
    # log p(symbol | pos 0) = 1 - log(1 + e), log p(blank | pos 1) = -log 2
    expected = -((1 - torch.log1p(torch.tensor(torch.e, dtype=torch.float64))) - torch.log(torch.tensor(2.0, dtype=torch.float64)))
    torch.testing.assert_close(loss, expected.reshape(1))


@pytest.mark.skipif(not hasattr(fast_rnnt, "rnnt_loss"), reason="needs rnnt_loss (issue 3, not merged yet)")
@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
@pytest.mark.parametrize("use_hat_loss", [False, True])
@pytest.mark.parametrize("delay_penalty", [0.0, 0.2])
def test_unpruned_equals_rnnt_loss(device, rnnt_type, use_hat_loss, delay_penalty):
    g = torch.Generator().manual_seed(5)
    B, T, S, C = 3, 6, 4, 6
    logits = torch.randn(B, T, S + 1, C, generator=g, dtype=torch.float64).to(device)
    symbols = torch.randint(1, C, (B, S), generator=g).to(device)
    boundary = torch.tensor([[0, 0, S, T], [0, 0, 2, 5], [0, 0, 3, 4]], device=device)
    ranges = torch.arange(S + 1, device=device).expand(B, T, S + 1)
    kwargs = dict(boundary=boundary, rnnt_type=rnnt_type, delay_penalty=delay_penalty, reduction="none")
    if use_hat_loss:
        if "use_hat_loss" not in inspect.signature(fast_rnnt.rnnt_loss).parameters:
            pytest.skip("rnnt_loss has no use_hat_loss option")
        kwargs["use_hat_loss"] = True
    full = fast_rnnt.rnnt_loss(logits, symbols, 0, **kwargs)
    pruned = fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, **kwargs)
    torch.testing.assert_close(pruned, full)


@pytest.mark.skipif(not hasattr(fast_rnnt, "rnnt_loss"), reason="needs rnnt_loss (issue 3, not merged yet)")
@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_pruning_only_removes_paths(device, rnnt_type):
    # The pruned lattice is the full one with the arcs outside the windows removed: its loss on
    # logits gathered from full logits is never below the full loss, and equal without pruning.
    g = torch.Generator().manual_seed(7)
    B, T, S, C = 3, 8, 5, 6
    logits = torch.randn(B, T, S + 1, C, generator=g, dtype=torch.float64).to(device)
    symbols = torch.randint(1, C, (B, S), generator=g).to(device)
    boundary = torch.tensor([[0, 0, S, T], [0, 0, 3, 6], [0, 0, 4, 5]], device=device)
    full = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, rnnt_type=rnnt_type, reduction="none")
    regular = rnnt_type == "regular"
    px_grad, py_grad = occupancies(B, S, T, regular, boundary.cpu(), seed=7)
    for s_range in range(1 if rnnt_type == "modified" else 2, S + 2):
        ranges = torch.ops.fast_rnnt.get_rnnt_prune_ranges(px_grad.to(device), py_grad.to(device), boundary, s_range)
        pruned_logits = logits.gather(2, ranges.unsqueeze(3).expand(B, T, s_range, C))
        pruned = fast_rnnt.rnnt_loss_pruned(pruned_logits, symbols, ranges, 0, boundary, rnnt_type=rnnt_type, reduction="none")
        assert (pruned >= full - 1e-9).all(), (s_range, pruned, full)
        if s_range == S + 1:
            torch.testing.assert_close(pruned, full)


# ----------------------------------------------------------------------------- end to end


@pytest.mark.skipif(not hasattr(fast_rnnt, "rnnt_loss_smoothed"), reason="needs rnnt_loss_smoothed (issue 3, not merged yet)")
@pytest.mark.parametrize("rnnt_type", ["regular", "modified"])
def test_training_step(rnnt_type):
    torch.manual_seed(0)
    B, T, S, C, D = 3, 12, 5, 8, 16
    encoder = torch.nn.Linear(4, D)
    decoder = torch.nn.Embedding(C, D)
    simple_am_proj = torch.nn.Linear(D, C)
    simple_lm_proj = torch.nn.Linear(D, C)
    joiner = torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Linear(D, C))
    params = [p for m in (encoder, decoder, simple_am_proj, simple_lm_proj, joiner) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=0.02)
    feats = torch.randn(B, T, 4)
    symbols = torch.randint(1, C, (B, S))
    boundary = torch.tensor([[0, 0, S, T], [0, 0, 3, 10], [0, 0, 4, 9]])
    sos_symbols = torch.cat([torch.zeros(B, 1, dtype=torch.int64), symbols], 1)

    def step():
        am = encoder(feats)  # (B, T, D)
        lm = decoder(sos_symbols)  # (B, S+1, D)
        simple_loss, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
            lm=simple_lm_proj(lm), am=simple_am_proj(am), symbols=symbols, termination_symbol=0,
            lm_only_scale=0.25, am_only_scale=0.0, boundary=boundary, rnnt_type=rnnt_type,
            reduction="sum", return_grad=True,
        )
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range=3)
        am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am, lm, ranges)
        logits = joiner(am_pruned + lm_pruned)  # (B, T, 3, C)
        pruned_loss = fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, boundary, rnnt_type=rnnt_type, reduction="sum")
        return simple_loss, pruned_loss

    simple_loss, pruned_loss = step()
    (0.5 * simple_loss + pruned_loss).backward()
    for p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    first = pruned_loss.item()
    for _ in range(15):
        opt.zero_grad()
        simple_loss, pruned_loss = step()
        (0.5 * simple_loss + pruned_loss).backward()
        opt.step()
    assert pruned_loss.item() < first


# ----------------------------------------------------------------------------- TorchScript / compile


def test_torchscript():
    def f(logits: torch.Tensor, symbols: torch.Tensor, ranges: torch.Tensor, boundary: torch.Tensor) -> torch.Tensor:
        return fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, boundary, "modified", 0.0, "sum", False)

    scripted = torch.jit.script(f)
    inputs = sample_inputs("cpu", rnnt_type="modified")
    args = (inputs["logits"], inputs["symbols"], inputs["ranges"], inputs["boundary"])
    torch.testing.assert_close(scripted(*args), f(*args))


@pytest.mark.parametrize("rnnt_type", ["regular", "constrained"])
def test_compile_aot_eager(rnnt_type):
    # The composite traces into ATen ops, the leaf and the recursion (no host syncs under fake
    # tensors); forward and backward match eager.
    inputs = sample_inputs("cpu", rnnt_type=rnnt_type, requires_grad=True)
    logits = inputs["logits"]

    def f(x):
        return fast_rnnt.rnnt_loss_pruned(x, inputs["symbols"], inputs["ranges"], 0, inputs["boundary"], rnnt_type=rnnt_type, reduction="sum")

    expected = f(logits)
    (expected_grad,) = torch.autograd.grad(expected, logits)
    got = torch.compile(f, backend="aot_eager", fullgraph=True)(logits)
    (got_grad,) = torch.autograd.grad(got, logits)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(got_grad, expected_grad)


# ----------------------------------------------------------------------------- errors


def test_bad_inputs():
    inputs = sample_inputs("cpu")
    call = fast_rnnt.rnnt_loss_pruned

    def with_(**kw):
        return {**inputs, **kw}

    with pytest.raises(RuntimeError, match="rnnt_loss_pruned: expected rnnt_type to be 'regular', 'modified' or 'constrained', got 'foo'"):
        call(**with_(rnnt_type="foo"))
    with pytest.raises(RuntimeError, match="rnnt_loss_pruned: expected reduction to be 'none', 'mean' or 'sum', got 'avg'"):
        call(**with_(), reduction="avg")
    with pytest.raises(RuntimeError, match="use_hat_loss=True requires termination_symbol == 0"):
        call(**with_(use_hat_loss=True, termination_symbol=2))
    with pytest.raises(RuntimeError, match="expected termination_symbol in \\[0, C\\)"):
        call(**with_(termination_symbol=5))
    with pytest.raises(RuntimeError, match="expected ranges of shape \\(B, T, s_range\\)"):
        call(**with_(ranges=inputs["ranges"][:, :4]))
    with pytest.raises(RuntimeError, match="expected ranges to be int64"):
        call(**with_(ranges=inputs["ranges"].int()))
    bad = inputs["ranges"].clone()
    bad[1, 2] += 5
    with pytest.raises(RuntimeError, match="ranges\\[1, 2\\] = .* is invalid"):
        call(**with_(ranges=bad))
    bad = inputs["ranges"].clone()
    bad[0, 3, 1] = bad[0, 3, 0]
    with pytest.raises(RuntimeError, match="ranges\\[0, 3\\]"):
        call(**with_(ranges=bad))
    with pytest.raises(RuntimeError, match="rnnt_loss_pruned: expected logits to be float32"):
        call(**with_(logits=inputs["logits"].int()))
    bad = inputs["symbols"].clone()
    bad[2, 3] = 5
    with pytest.raises(RuntimeError, match="rnnt_loss_pruned: expected every symbol in \\[0, C\\) = \\[0, 5\\)"):
        call(**with_(symbols=bad))
    with pytest.raises(RuntimeError, match="expected logits of shape \\(B, T, s_range, C\\)"):
        call(**with_(logits=inputs["logits"][0]))
    with pytest.raises(RuntimeError, match="batch size mismatch"):
        call(**with_(symbols=inputs["symbols"][:2]))
    with pytest.raises(RuntimeError, match="expected boundary of shape \\(B, 4\\)"):
        call(**with_(boundary=inputs["boundary"][:, :3]))
    with pytest.raises(RuntimeError, match="boundary\\[1\\]"):
        call(**with_(boundary=torch.tensor([[0, 0, 4, 7], [0, 0, 9, 5], [0, 0, 3, 6]])))
    with pytest.raises(RuntimeError, match="expected s_range >= 2 for the regular lattice"):
        call(**with_(logits=inputs["logits"][:, :, :1], ranges=inputs["ranges"][:, :, :1]))
    with pytest.raises(RuntimeError, match="expected s_range <= S\\+1"):
        call(**with_(symbols=inputs["symbols"][:, :1]))
    with pytest.raises(RuntimeError, match="rnnt_type='modified' requires T >= S, got T=2 and S=4"):
        call(**with_(logits=inputs["logits"][:, :2], ranges=inputs["ranges"][:, :2], rnnt_type="modified", boundary=None))
    with pytest.raises(RuntimeError, match="do_rnnt_pruning: batch size mismatch"):
        fast_rnnt.do_rnnt_pruning(torch.zeros(3, 7, 4), torch.zeros(2, 5, 4), inputs["ranges"])
    with pytest.raises(RuntimeError, match="do_rnnt_pruning: expected ranges of shape \\(B, T, s_range\\)"):
        fast_rnnt.do_rnnt_pruning(torch.zeros(3, 6, 4), torch.zeros(3, 5, 4), inputs["ranges"])
    with pytest.raises(RuntimeError, match="do_rnnt_pruning: ranges\\[1, 2\\]"):
        bad = inputs["ranges"].clone()
        bad[1, 2] += 5
        fast_rnnt.do_rnnt_pruning(torch.zeros(3, 7, 4), torch.zeros(3, 5, 4), bad)
    with pytest.raises(RuntimeError, match="get_rnnt_prune_ranges: expected py_grad of shape \\(B, S\\+1, T\\)"):
        fast_rnnt.get_rnnt_prune_ranges(torch.zeros(2, 3, 6), torch.zeros(2, 3, 5), None, 2)
    with pytest.raises(RuntimeError, match="get_rnnt_prune_ranges: expected px_grad.size\\(2\\) to be T\\+1=6"):
        fast_rnnt.get_rnnt_prune_ranges(torch.zeros(2, 3, 3), torch.zeros(2, 4, 5), None, 2)


# ----------------------------------------------------------------------------- opcheck / scripting


def _op_samples(device, requires_grad):
    i = sample_inputs(device, requires_grad=requires_grad)
    px_grad, py_grad = occupancies(3, 4, 7, True, i["boundary"].cpu())
    am = torch.randn(3, 7, 4, dtype=torch.float64, device=device, requires_grad=requires_grad)
    lm = torch.randn(3, 5, 4, dtype=torch.float64, device=device, requires_grad=requires_grad)
    common = (i["logits"], i["symbols"], i["ranges"], 0, i["boundary"])
    return [
        ("rnnt_loss_pruned", (*common, "regular", 0.1, "sum", False)),
        ("rnnt_loss_pruned", (*common, "constrained", 0.0, "none", True)),
        ("get_rnnt_logprobs_pruned", (*common, "modified", False)),
        ("do_rnnt_pruning", (am, lm, i["ranges"])),
        ("get_rnnt_prune_ranges", (px_grad.to(device), py_grad.to(device), i["boundary"], 3)),
        ("_rnnt_prune_min_s_range", (px_grad.to(device), py_grad.to(device), i["boundary"])),
        ("_rnnt_prune_min_s_range", (px_grad.to(device), py_grad.to(device), None)),
    ]


@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck(device, requires_grad):
    for name, args in _op_samples(device, requires_grad):
        torch.library.opcheck(getattr(torch.ops.fast_rnnt, name).default, args)


def test_wrappers_are_scriptable():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(fast_rnnt.get_rnnt_prune_ranges)
        for fn in (fast_rnnt.do_rnnt_pruning, fast_rnnt.get_rnnt_logprobs_pruned, fast_rnnt.rnnt_loss_pruned):
            torch.jit.script(fn)
    px_grad, py_grad = occupancies(2, 3, 5, True)
    torch.testing.assert_close(scripted(px_grad, py_grad, None, 3), fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, None, 3))
