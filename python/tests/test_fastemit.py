"""FastEmit (fastemit_lambda) on rnnt_loss, rnnt_loss_pruned, rnnt_loss_simple and
rnnt_loss_smoothed, and the _scale_grad op that implements it.

The definition under test: the loss value is unchanged, bit for bit; the gradient that reaches every
per-cell symbol log-probability is (1 + lambda) times lambda = 0's and the gradient of every blank
log-probability is unchanged. Checked three ways: bitwise on the recursion's inputs (hooks on the
autograd graph), against the occupancies of the ops' own lattice pushed through
get_rnnt_logprobs*'s backward, and against float64 loop references (reference.py) that compute
the gradient from their own occupancies."""

import pytest
import torch

import fast_rnnt
import reference as ref

RNNT_TYPES = ("regular", "modified", "constrained")
REDUCTIONS = ("none", "mean", "sum")
LAMBDA = 0.5
B, S, T, C = 2, 3, 5, 6


# ----------------------------------------------------------------------------- inputs and losses


def _boundary(seed):
    """Ragged (0, 0, S_b, T_b) rows, T_b >= S_b so that every lattice has a path."""
    g = torch.Generator().manual_seed(1000 + seed)
    rows = []
    for b in range(B):
        s_b = S if b == 0 else int(torch.randint(1, S + 1, (1,), generator=g))
        t_b = T if b == 1 else int(torch.randint(max(s_b, 1), T + 1, (1,), generator=g))
        rows.append([0, 0, s_b, t_b])
    return torch.tensor(rows)


def _lm_am(seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    lm = torch.randn(B, S + 1, C, generator=g, dtype=dtype)
    am = torch.randn(B, T, C, generator=g, dtype=dtype)
    symbols = torch.randint(1, C, (B, S), generator=g)
    return lm, am, symbols


def _logits(seed, K=S + 1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, K, C, generator=g, dtype=dtype)


def _ranges(lm, am, symbols, boundary, rnnt_type, s_range=2):
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(
        lm, am, symbols, 0, boundary, rnnt_type, reduction="sum", return_grad=True
    )
    return fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)


def _weights(reduction, seed):
    """d(objective)/d(loss[b]) of the backward each test runs."""
    if reduction == "none":
        return torch.rand(B, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 0.5
    return torch.full((B,), 1.0 / B if reduction == "mean" else 1.0, dtype=torch.float64)


def _backward(loss, reduction, seed):
    grad = _weights(reduction, seed).to(loss.dtype) if reduction == "none" else torch.ones((), dtype=loss.dtype)
    loss.backward(grad)


class Case:
    """One loss call: its inputs (leaves), a function of fastemit_lambda, and how to get the
    per-cell log-probabilities and the recursion inputs from the op's own pieces."""

    def __init__(self, kind, seed, rnnt_type, reduction, delay_penalty, use_hat_loss=False):
        self.kind, self.seed, self.rnnt_type, self.reduction = kind, seed, rnnt_type, reduction
        self.delay_penalty, self.use_hat_loss = delay_penalty, use_hat_loss
        self.boundary = _boundary(seed)
        lm, am, self.symbols = _lm_am(seed)
        self.blank = 0
        if kind in ("simple", "smoothed"):
            self.leaves = [lm, am]
        elif kind == "full":
            self.leaves = [_logits(seed)]
        else:  # pruned
            self.ranges = _ranges(lm, am, self.symbols, self.boundary, rnnt_type)
            self.leaves = [_logits(seed, K=self.ranges.size(2))]

    def leaves_with_grad(self):
        return [x.detach().clone().requires_grad_(True) for x in self.leaves]

    def loss(self, leaves, **kwargs):
        common = dict(boundary=self.boundary, rnnt_type=self.rnnt_type, delay_penalty=self.delay_penalty,
                      reduction=self.reduction)
        if self.kind == "simple":
            return fast_rnnt.rnnt_loss_simple(*leaves, self.symbols, self.blank, **common, **kwargs)
        if self.kind == "smoothed":
            return fast_rnnt.rnnt_loss_smoothed(*leaves, self.symbols, self.blank, 0.1, 0.2, **common, **kwargs)
        if self.kind == "full":
            return fast_rnnt.rnnt_loss(*leaves, self.symbols, self.blank, **common, **kwargs)
        return fast_rnnt.rnnt_loss_pruned(*leaves, self.symbols, self.ranges, self.blank, **common,
                                          use_hat_loss=self.use_hat_loss, **kwargs)

    def logprobs(self, leaves, rnnt_type):
        """The op's (px, py) for rnnt_type (before the delay penalty)."""
        if self.kind == "simple":
            return fast_rnnt.get_rnnt_logprobs(*leaves, self.symbols, self.blank, rnnt_type, self.boundary)
        if self.kind == "smoothed":
            return fast_rnnt.get_rnnt_logprobs_smoothed(*leaves, self.symbols, self.blank, 0.1, 0.2, self.boundary,
                                                        rnnt_type)
        if self.kind == "full":
            return fast_rnnt.get_rnnt_logprobs_joint(*leaves, self.symbols, self.blank, boundary=self.boundary,
                                                     rnnt_type=rnnt_type)
        return fast_rnnt.get_rnnt_logprobs_pruned(*leaves, self.symbols, self.ranges, self.blank, self.boundary,
                                                  rnnt_type, self.use_hat_loss)


def _cases(kinds, seeds=(0, 1)):
    out = []
    for kind in kinds:
        for rnnt_type in RNNT_TYPES:
            for i, reduction in enumerate(REDUCTIONS):
                for seed in seeds:
                    delay_penalty = (0.0, 0.3)[(i + seed) % 2]
                    hats = (False, True) if kind == "pruned" else (False,)
                    for hat in hats:
                        out.append((kind, seed, rnnt_type, reduction, delay_penalty, hat))
    return out


def _id(p):
    kind, seed, rnnt_type, reduction, delay_penalty, hat = p
    return f"{kind}-{rnnt_type}-{reduction}-dp{delay_penalty}-seed{seed}" + ("-hat" if hat else "")


ALL_KINDS = ("simple", "smoothed", "full", "pruned")


def _run(case, **kwargs):
    leaves = case.leaves_with_grad()
    loss = case.loss(leaves, **kwargs)
    _backward(loss, case.reduction, case.seed)
    return loss.detach(), [x.grad for x in leaves]


# ----------------------------------------------------------------------------- lambda = 0, values


@pytest.mark.parametrize("params", _cases(ALL_KINDS, seeds=(0,)), ids=_id)
def test_lambda_zero_changes_nothing(params):
    case = Case(*params)
    loss_default, grads_default = _run(case)
    loss_zero, grads_zero = _run(case, fastemit_lambda=0.0)
    assert torch.equal(loss_default, loss_zero)
    for a, b in zip(grads_default, grads_zero):
        assert torch.equal(a, b)


@pytest.mark.parametrize("params", _cases(ALL_KINDS), ids=_id)
def test_loss_is_bitwise_unchanged(params):
    case = Case(*params)
    loss_zero, _ = _run(case)
    for lam in (0.01, LAMBDA, 3.0):
        loss, _ = _run(case, fastemit_lambda=lam)
        assert torch.equal(loss, loss_zero)


# ----------------------------------------------------------------------------- bitwise, recursion inputs


def _node_grads(loss, name):
    """Hooks on every autograd node whose name contains `name`; returns the list that the
    backward fills with (grad_inputs, grad_outputs) pairs."""
    seen, stack, captured = set(), [loss.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if name in node.name():
            node.register_hook(lambda grad_inputs, grad_outputs: captured.append((grad_inputs, grad_outputs)))
        stack.extend(n for n, _ in node.next_functions)
    return captured


@pytest.mark.parametrize("params", _cases(ALL_KINDS, seeds=(0,)), ids=_id)
def test_recursion_input_gradients_are_exact(params):
    """Bitwise: the recursion's px and py gradients are those of lambda = 0, and the gradient that
    leaves the FastEmit node toward the symbol log-probabilities is (1 + lambda) times the one
    that arrives from the lattice."""
    case = Case(*params)
    captured = {}
    for lam in (0.0, LAMBDA):
        leaves = case.leaves_with_grad()
        loss = case.loss(leaves, fastemit_lambda=lam)
        captured[lam] = (_node_grads(loss, "MutualInformationFunction"), _node_grads(loss, "ScaleGradFunction"))
        _backward(loss, case.reduction, case.seed)
    (recursion_0, scale_0), (recursion, scale) = captured[0.0], captured[LAMBDA]
    assert len(recursion_0) == len(recursion) == 1 and scale_0 == [] and len(scale) == 1
    for g0, g in zip(recursion_0[0][0][:2], recursion[0][0][:2]):  # (px_grad, py_grad)
        assert torch.equal(g0, g)
    (to_symbols,), (from_lattice,) = scale[0][0][:1], scale[0][1]
    assert torch.equal(to_symbols, from_lattice * (1.0 + LAMBDA))
    # What arrives is the lattice's symbol-arc gradient (the recursion's, before placement).
    T1 = from_lattice.size(-1)
    if case.kind != "pruned":
        assert torch.equal(from_lattice.reshape(B, S, T1), recursion[0][0][0][:, :, :T1])
    assert (from_lattice != 0).any()


# ----------------------------------------------------------------------------- the ops' own occupancies


def _cell_grads_from_op_occupancies(case, leaves):
    """FastEmit's expected gradient w.r.t. the leaves: the op's own occupancies on its recursion
    inputs, scaled (symbols) and mapped to the per-cell log-probabilities, pushed through the
    backward of get_rnnt_logprobs* ("constrained" reads its cells from the "modified" layout)."""
    px, py = case.logprobs([x.detach() for x in leaves], case.rnnt_type)
    px = ref.apply_delay_penalty_reference(px, case.delay_penalty, case.rnnt_type, case.boundary)
    _, (px_occ, py_occ) = fast_rnnt.mutual_information_recursion(px, py, case.boundary, return_grad=True)
    w = _weights(case.reduction, case.seed).view(-1, 1, 1)
    cells_type = "modified" if case.rnnt_type == "constrained" else case.rnnt_type
    px_cells, py_cells = case.logprobs(leaves, cells_type)
    symbol_grad = -(1.0 + LAMBDA) * w * px_occ
    blank_grad = -w * py_occ
    if case.rnnt_type == "constrained":
        blank_grad = blank_grad + torch.cat([torch.zeros_like(px_occ[:, :1]), -w * px_occ], 1)
    return torch.autograd.grad([px_cells, py_cells], leaves, [symbol_grad, blank_grad])


@pytest.mark.parametrize("params", _cases(ALL_KINDS), ids=_id)
def test_gradient_from_the_ops_occupancies(params):
    case = Case(*params)
    _, grads = _run(case, fastemit_lambda=LAMBDA)
    expected = _cell_grads_from_op_occupancies(case, case.leaves_with_grad())
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- float64 loop references


def _reference_grads(case):
    """The gradient w.r.t. the leaves from reference.py alone: its lattice, its occupancies
    (fastemit_cell_grads_reference) and the backward of its per-cell log-probabilities."""
    leaves = case.leaves_with_grad()
    w = _weights(case.reduction, case.seed)
    if case.kind == "pruned":
        logits = leaves[0]
        px, py = ref.pruned_logprobs_reference(logits.detach(), case.symbols, case.ranges, case.blank, case.boundary,
                                               case.rnnt_type, case.use_hat_loss)
        px = ref.apply_delay_penalty_reference(px, case.delay_penalty, case.rnnt_type, case.boundary)
        symbol_grad, blank_grad = ref.fastemit_cell_grads_reference(px, py, case.boundary, case.rnnt_type, LAMBDA, w)
        padded = torch.cat([case.symbols, torch.full((B, 1), case.blank)], 1)
        window_symbols = torch.stack([padded[b][case.ranges[b]] for b in range(B)])
        sym_lp, blank_lp = ref.arc_logprobs_reference(logits, window_symbols, case.blank, case.use_hat_loss)
        g_sym, g_blank = torch.zeros_like(sym_lp), torch.zeros_like(blank_lp)
        for b in range(B):
            for t in range(T):
                for k in range(case.ranges.size(2)):
                    s = int(case.ranges[b, t, k])
                    g_blank[b, t, k] = blank_grad[b, s, t]
                    if s < S:
                        g_sym[b, t, k] = symbol_grad[b, s, t]
        return ref.rnnt_loss_from_px_py_reference(px, py, case.boundary, case.rnnt_type, 0.0, case.reduction), \
            torch.autograd.grad([sym_lp, blank_lp], leaves, [g_sym, g_blank])
    if case.kind == "full":
        cells = lambda rnnt_type: ref.get_rnnt_logprobs_joint_reference(  # noqa: E731
            leaves[0], case.symbols, case.blank, rnnt_type, case.boundary)
    elif case.kind == "simple":
        cells = lambda rnnt_type: ref.get_rnnt_logprobs_reference(  # noqa: E731
            *leaves, case.symbols, case.blank, rnnt_type, case.boundary)
    else:
        cells = lambda rnnt_type: ref.get_rnnt_logprobs_smoothed_reference(  # noqa: E731
            *leaves, case.symbols, case.blank, 0.1, 0.2, rnnt_type, case.boundary)
    px, py = (x.detach() for x in cells(case.rnnt_type))
    px = ref.apply_delay_penalty_reference(px, case.delay_penalty, case.rnnt_type, case.boundary)
    symbol_grad, blank_grad = ref.fastemit_cell_grads_reference(px, py, case.boundary, case.rnnt_type, LAMBDA, w)
    px_cells, py_cells = cells("modified")  # the per-cell log-probabilities, unplaced
    loss = ref.rnnt_loss_from_px_py_reference(px, py, case.boundary, case.rnnt_type, 0.0, case.reduction)
    return loss, torch.autograd.grad([px_cells, py_cells], leaves, [symbol_grad, blank_grad])


@pytest.mark.parametrize("params", _cases(("full", "pruned", "simple")), ids=_id)
def test_against_float64_reference(params):
    case = Case(*params)
    loss, grads = _run(case, fastemit_lambda=LAMBDA)
    ref_loss, ref_grads = _reference_grads(case)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=1e-12)
    for g, e in zip(grads, ref_grads):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_smoothed_against_float64_reference(rnnt_type):
    case = Case("smoothed", 3, rnnt_type, "mean", 0.2)
    loss, grads = _run(case, fastemit_lambda=LAMBDA)
    ref_loss, ref_grads = _reference_grads(case)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=1e-12)
    for g, e in zip(grads, ref_grads):
        torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-12)


def test_logits_gradient_closed_form():
    """rnnt_loss, regular lattice: per cell, grad logits[c] = -(1+l) o_sym ([c == y] - p[c])
    - o_blank ([c == blank] - p[c]) (NeMo's form), with the reference's occupancies."""
    case = Case("full", 5, "regular", "sum", 0.0)
    _, (grad,) = _run(case, fastemit_lambda=LAMBDA)
    logits = case.leaves[0]
    px, py = ref.get_rnnt_logprobs_joint_reference(logits, case.symbols, 0, "regular", case.boundary)
    px_occ, py_occ = ref.mutual_information_occupancy_reference(px, py, case.boundary)
    p = logits.softmax(-1)  # (B, T, S+1, C)
    expected = torch.zeros_like(logits)
    for b in range(B):
        for t in range(T):
            for s in range(S + 1):
                o_sym = float(px_occ[b, s, t]) if s < S else 0.0
                o_blank = float(py_occ[b, s, t])
                row = (o_blank + (1 + LAMBDA) * o_sym) * p[b, t, s]
                row[0] -= o_blank
                if s < S:
                    row[int(case.symbols[b, s])] -= (1 + LAMBDA) * o_sym
                expected[b, t, s] = row
    torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-12)


def test_pruned_with_full_window_equals_full_loss():
    """s_range = S+1 (nothing pruned): rnnt_loss_pruned and rnnt_loss agree, gradients included."""
    logits = _logits(7).requires_grad_(True)
    symbols, boundary = _lm_am(7)[2], _boundary(7)
    ranges = torch.arange(S + 1).expand(B, T, S + 1).contiguous()
    full = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, "regular", 0.2, "sum", LAMBDA)
    (g_full,) = torch.autograd.grad(full, logits)
    pruned = fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, boundary, "regular", 0.2, "sum",
                                        fastemit_lambda=LAMBDA)
    (g_pruned,) = torch.autograd.grad(pruned, logits)
    torch.testing.assert_close(pruned, full, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_pruned, g_full, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------- return_grad, float32


@pytest.mark.parametrize("kind", ["simple", "smoothed"])
@pytest.mark.parametrize("rnnt_type", RNNT_TYPES)
def test_return_grad_occupancies_are_unchanged(kind, rnnt_type):
    """The occupancies that drive pruning describe the lattice, not the training signal."""
    case = Case(kind, 2, rnnt_type, "mean", 0.3)
    out = {}
    for lam in (0.0, LAMBDA):
        leaves = case.leaves_with_grad()
        loss, occupancies = case.loss(leaves, return_grad=True, fastemit_lambda=lam)
        loss.backward()
        out[lam] = (loss.detach(), occupancies, [x.grad for x in leaves])
    assert torch.equal(out[0.0][0], out[LAMBDA][0])
    for a, b in zip(out[0.0][1], out[LAMBDA][1]):
        assert torch.equal(a, b)
    # The loss returned with the occupancies carries the FastEmit gradient.
    _, grads = _run(case, fastemit_lambda=LAMBDA)
    for a, b in zip(out[LAMBDA][2], grads):
        assert torch.equal(a, b)
    assert not torch.equal(out[0.0][2][0], out[LAMBDA][2][0])


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_float32_loss_is_bitwise_unchanged(kind):
    case = Case(kind, 4, "regular", "mean", 0.0)
    case.leaves = [x.float() for x in case.leaves]
    loss_zero, grads_zero = _run(case)
    loss, grads = _run(case, fastemit_lambda=LAMBDA)
    assert loss.dtype == torch.float32 and torch.equal(loss, loss_zero)
    assert all(not torch.equal(a, b) for a, b in zip(grads, grads_zero))


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_lambda_raises_from_cpp(kind, bad):
    case = Case(kind, 0, "regular", "mean", 0.0)
    name = {"simple": "rnnt_loss_simple", "smoothed": "rnnt_loss_smoothed", "full": "rnnt_loss",
            "pruned": "rnnt_loss_pruned"}[kind]
    with pytest.raises(RuntimeError, match=rf"{name}: expected fastemit_lambda to be finite and >= 0, got"):
        case.loss(case.leaves, fastemit_lambda=bad)
    # The same check from the op itself, as TorchScript and C++ callers reach it.
    if kind in ("simple", "smoothed"):
        with pytest.raises(RuntimeError, match=rf"{name}_with_grad: expected fastemit_lambda"):
            case.loss(case.leaves, fastemit_lambda=bad, return_grad=True)


def test_scale_grad_rejects_bad_scale():
    with pytest.raises(RuntimeError, match="_scale_grad: expected a finite scale >= 0, got -1"):
        torch.ops.fast_rnnt._scale_grad(torch.zeros(3), -1.0)


# ----------------------------------------------------------------------------- the _scale_grad op


def _scale_grad_samples(requires_grad):
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    x[0, 0, 0] = float("-inf")
    y = torch.randn(4, 5).t()  # non-contiguous float32
    return [(x.requires_grad_(requires_grad), 1.5), (y.requires_grad_(requires_grad), 1.0),
            (torch.randn(3, dtype=torch.float32).requires_grad_(requires_grad), 0.0)]


def test_scale_grad_forward_is_a_bitwise_copy_and_backward_scales():
    x = torch.tensor([float("-inf"), float("nan"), -0.0, 1e-40, 3.0], dtype=torch.float32, requires_grad=True)
    y = torch.ops.fast_rnnt._scale_grad(x, 1.25)
    assert y.data_ptr() != x.data_ptr()
    assert torch.equal(y.detach().view(torch.int32), x.detach().view(torch.int32))
    g = torch.randn(5)
    (gx,) = torch.autograd.grad(y, x, g, create_graph=True)
    assert torch.equal(gx, g * 1.25)
    # The backward is differentiable: with y = _scale_grad(x, 3), d(y^2)/dx = 3 * 2y, and its
    # derivative goes through y once more: 3 * 2 * 3.
    x2 = torch.randn(4, dtype=torch.float64, requires_grad=True)
    (gx2,) = torch.autograd.grad(torch.ops.fast_rnnt._scale_grad(x2, 3.0).pow(2).sum(), x2, create_graph=True)
    (ggx2,) = torch.autograd.grad(gx2.sum(), x2)
    torch.testing.assert_close(ggx2, torch.full_like(x2, 18.0))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_scale_grad_opcheck(requires_grad):
    for args in _scale_grad_samples(requires_grad):
        torch.library.opcheck(torch.ops.fast_rnnt._scale_grad.default, args)


def test_losses_opcheck_with_fastemit():
    case = Case("full", 0, "constrained", "sum", 0.2)
    logits = case.leaves[0].requires_grad_(True)
    torch.library.opcheck(torch.ops.fast_rnnt.rnnt_loss.default,
                          (logits, case.symbols, 0, case.boundary, "constrained", 0.2, "sum", LAMBDA))
    case = Case("pruned", 1, "regular", "none", 0.0, use_hat_loss=True)
    torch.library.opcheck(torch.ops.fast_rnnt.rnnt_loss_pruned.default,
                          (case.leaves[0].requires_grad_(True), case.symbols, case.ranges, 0, case.boundary, "regular",
                           0.0, "none", True, LAMBDA))
    lm, am, symbols = (x.requires_grad_(True) if x.is_floating_point() else x for x in _lm_am(2, torch.float32))
    torch.library.opcheck(torch.ops.fast_rnnt.rnnt_loss_simple.default,
                          (lm, am, symbols, 0, None, "modified", 0.0, "mean", LAMBDA))
    torch.library.opcheck(torch.ops.fast_rnnt.rnnt_loss_smoothed_with_grad.default,
                          (lm, am, symbols, 0, 0.1, 0.1, None, "regular", 0.1, "sum", LAMBDA))


# ----------------------------------------------------------------------------- compile, TorchScript, autocast


def _all_losses(lm, am, logits, pruned_logits, symbols, ranges, boundary, lam: float):
    # The simple and smoothed ops themselves: their wrappers return a Union, not scriptable.
    simple = torch.ops.fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, "regular", 0.1, "sum", lam)
    smoothed, px_grad, py_grad = torch.ops.fast_rnnt.rnnt_loss_smoothed_with_grad(
        lm, am, symbols, 0, 0.1, 0.1, boundary, "regular", 0.0, "sum", fastemit_lambda=lam)
    full = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, "regular", 0.0, "mean", fastemit_lambda=lam)
    pruned = fast_rnnt.rnnt_loss_pruned(pruned_logits, symbols, ranges, 0, boundary, "regular", 0.0, "sum",
                                        fastemit_lambda=lam)
    return simple + smoothed + full + pruned + px_grad.sum() + py_grad.sum()


def _all_inputs(seed, dtype=torch.float32):
    lm, am, symbols = _lm_am(seed, dtype)
    boundary = _boundary(seed)
    ranges = _ranges(lm.double(), am.double(), symbols, boundary, "regular")
    return [lm, am, _logits(seed, dtype=dtype), _logits(seed + 1, K=2, dtype=dtype)], symbols, ranges, boundary


def _grads(fn, seed, lam):
    floats, symbols, ranges, boundary = _all_inputs(seed)
    floats = [x.requires_grad_(True) for x in floats]
    loss = fn(*floats[:4], symbols, ranges, boundary, lam)
    loss.backward()
    return loss.detach(), [x.grad for x in floats]


def test_compile_fullgraph_dynamic():
    torch._dynamo.reset()
    compiled = torch.compile(_all_losses, fullgraph=True, dynamic=True, backend="aot_eager")
    for seed in (0, 1):
        loss, grads = _grads(compiled, seed, LAMBDA)
        loss_eager, grads_eager = _grads(_all_losses, seed, LAMBDA)
        _, grads_zero = _grads(_all_losses, seed, 0.0)
        torch.testing.assert_close(loss, loss_eager)
        for g, e, z in zip(grads, grads_eager, grads_zero):
            torch.testing.assert_close(g, e)
            assert not torch.equal(g, z)


class AllLosses(torch.nn.Module):
    def forward(self, lm, am, logits, pruned_logits, symbols, ranges, boundary, lam: float):
        return _all_losses(lm, am, logits, pruned_logits, symbols, ranges, boundary, lam)


def test_torchscript_save_load(tmp_path):
    scripted = torch.jit.script(AllLosses())
    path = tmp_path / "fastemit.pt"
    scripted.save(str(path))
    loaded = torch.jit.load(str(path))
    loss, grads = _grads(loaded, 2, LAMBDA)
    loss_eager, grads_eager = _grads(_all_losses, 2, LAMBDA)
    assert torch.equal(loss, loss_eager)
    for g, e in zip(grads, grads_eager):
        assert torch.equal(g, e)


def test_autocast_bfloat16():
    """Under CPU autocast the losses still compute in float32; FastEmit's gradient reaches the
    bfloat16 inputs scaled, the loss unchanged."""
    out = {}
    for lam in (0.0, LAMBDA):
        floats, symbols, ranges, boundary = _all_inputs(3)
        floats = [x.bfloat16().requires_grad_(True) for x in floats]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = _all_losses(*floats, symbols, ranges, boundary, lam)
        loss.backward()
        out[lam] = loss.detach(), [x.grad for x in floats]
    assert out[0.0][0].dtype == torch.float32 and torch.equal(out[0.0][0], out[LAMBDA][0])
    for z, g in zip(out[0.0][1], out[LAMBDA][1]):
        assert g.dtype == torch.bfloat16 and not torch.equal(z, g)
