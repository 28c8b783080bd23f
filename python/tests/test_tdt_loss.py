"""fast_rnnt.tdt_loss and its leaf ops (duration_lattice, duration_arc_logprobs): against the
independent float64 references of tdt_reference.py (loop recursion, hand-computed lattices),
gradients, FastEmit, omega, dtypes, accuracy at T=1000, memory, errors, opcheck, torch.compile and
TorchScript."""

import io

import pytest
import torch

import fast_rnnt
from conftest import boundaries, devices
from tdt_reference import hand_tdt_case, hand_tdt_sigma_loss, tdt_loss_reference

DURATION_SETS = ([0, 1], [0, 1, 2], [0, 1, 2, 3, 4])
REDUCTIONS = ("none", "mean", "sum")


def tdt_inputs(device, B, S, T, C, durations, seed, dtype=torch.float64, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, S + 1, C + len(durations), generator=g, dtype=torch.float64)
    symbols = torch.randint(1, C, (B, S), generator=g)
    return logits.to(device, dtype).requires_grad_(requires_grad), symbols.to(device)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("durations", DURATION_SETS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference(device, durations, seed):
    B, S, T, C = 3, 3, 6, 5
    for boundary in boundaries(device, B, S, T):
        for sigma, fastemit_lambda in ((0.0, 0.0), (0.25, 0.0), (0.1, 0.5)):
            logits, symbols = tdt_inputs(device, B, S, T, C, durations, seed, requires_grad=True)
            loss = fast_rnnt.tdt_loss(logits, symbols, 0, durations, boundary, sigma=sigma,
                                      fastemit_lambda=fastemit_lambda, reduction="none")
            (grad,) = torch.autograd.grad(loss.sum(), logits)
            ref_logits = logits.detach().cpu().requires_grad_(True)
            bd = boundary.cpu() if boundary is not None else None
            ref = tdt_loss_reference(ref_logits, symbols.cpu(), 0, durations, bd, sigma,
                                     fastemit_lambda=fastemit_lambda, reduction="none")
            (ref_grad,) = torch.autograd.grad(ref.sum(), ref_logits)
            torch.testing.assert_close(loss.cpu(), ref, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(grad.cpu(), ref_grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("device", devices())
def test_hand_computed_lattices(device):
    logits, symbols, blank, durations, _, loss = hand_tdt_case()
    got = fast_rnnt.tdt_loss(logits.to(device), symbols.to(device), blank, durations, reduction="sum")
    assert abs(got.item() - loss) < 1e-12
    for sigma in (0.5, 1.25):
        got = fast_rnnt.tdt_loss(logits.to(device), symbols.to(device), blank, durations, sigma=sigma, reduction="sum")
        assert abs(got.item() - hand_tdt_sigma_loss(sigma)) < 1e-12
    _check_all_zero_lattice(device)


def _check_all_zero_lattice(device):
    # T=2, S=1, durations [0, 1], all logits 0: with C=2 tokens and 2 durations every arc
    # weighs log(1/2) + log(1/2) = log(1/4). The paths from (0, 0) to the final node (2, 1):
    #   symbol d=0 -> (0, 1), blank -> (1, 1), blank -> (2, 1)      (1/4)^3
    #   blank -> (1, 0), symbol d=0 -> (1, 1), blank -> (2, 1)      (1/4)^3
    #   symbol d=1 -> (1, 1), blank -> (2, 1)                       (1/4)^2
    # ((1, 0) -> (2, 0) does not exist: only the final node may sit on the last frame.)
    # p = 2/64 + 4/64 = 3/32.
    logits = torch.zeros(1, 2, 2, 4, dtype=torch.float64, device=device)
    symbols = torch.tensor([[1]], device=device)
    loss = fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1], reduction="none")
    torch.testing.assert_close(loss.cpu(), -torch.log(torch.tensor([3 / 32], dtype=torch.float64)))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reductions(device, reduction):
    logits, symbols = tdt_inputs(device, 3, 3, 5, 4, [0, 1, 2], seed=3)
    per_sequence = fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], reduction="none")
    expected = {"none": per_sequence, "mean": per_sequence.mean(), "sum": per_sequence.sum()}[reduction]
    torch.testing.assert_close(fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], reduction=reduction), expected)


@pytest.mark.parametrize("device", devices())
def test_gradcheck(device):
    logits, symbols = tdt_inputs(device, 2, 2, 4, 3, [0, 1, 2], seed=4, requires_grad=True)
    ragged = torch.tensor([[0, 0, 2, 4], [1, 1, 2, 3]], device=device)
    for boundary in (None, ragged):
        assert torch.autograd.gradcheck(
            lambda x: fast_rnnt.tdt_loss(x, symbols, 0, [0, 1, 2], boundary, sigma=0.1, reduction="none"),
            (logits,),
        )


@pytest.mark.parametrize("device", devices())
def test_leaf_gradcheck(device):
    g = torch.Generator().manual_seed(5)
    sw = torch.randn(2, 4, 3, 3, generator=g, dtype=torch.float64).to(device).requires_grad_(True)
    bw = torch.randn(2, 4, 3, 2, generator=g, dtype=torch.float64).to(device).requires_grad_(True)
    offset = torch.tensor([[0, 1, 2, 4], [1, 0, 2, 3]], device=device)
    for boundary in (None, offset):
        assert torch.autograd.gradcheck(
            lambda a, b: fast_rnnt.duration_lattice(a, b, [0, 1, 2], [1, 2], boundary), (sw, bw)
        )


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_lower_precision_follows_float64(device, dtype):
    logits, symbols = tdt_inputs(device, 2, 4, 8, 6, [0, 1, 2, 3, 4], seed=6)
    reduced = logits.to(dtype).requires_grad_(True)
    exact = reduced.detach().double().requires_grad_(True)  # the same rounded values
    loss = fast_rnnt.tdt_loss(reduced, symbols, 0, [0, 1, 2, 3, 4], reduction="sum")
    ref = fast_rnnt.tdt_loss(exact, symbols, 0, [0, 1, 2, 3, 4], reduction="sum")
    assert loss.dtype == torch.float32
    loss.backward()
    ref.backward()
    assert reduced.grad.dtype == dtype
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-4)
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]
    torch.testing.assert_close(reduced.grad.double(), exact.grad, rtol=0, atol=tol)


def _weights(device, B, S, T, C, durations, seed, dtype):
    logits, symbols = tdt_inputs(device, B, S, T, C, durations, seed)
    padded = torch.cat([symbols, symbols[:, :1]], 1)[:, None, :].expand(B, T, S + 1)
    sw, bw = fast_rnnt.duration_arc_logprobs(logits.to(dtype), padded, [0], len(durations))
    return sw, bw


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("num_durations", [0, 4])
def test_fastemit_scales_symbol_token_gradient(device, num_durations):
    """FastEmit in the fused read's backward (NeMo's rule): the gradient reaching the symbol arcs'
    token log-probability is (1 + lambda) times, blank arcs and duration log-probs unchanged."""
    B, S, T, C = 2, 3, 5, 6
    g = torch.Generator().manual_seed(7)
    logits = torch.randn(B, T, S + 1, C + num_durations, generator=g, dtype=torch.float64).to(device)
    symbols = torch.randint(0, C - 2, (B, T, S + 1), generator=g).to(device)
    blanks = [C - 1] if num_durations else [C - 1, C - 2]
    sym, blank, norm = torch.ops.fast_rnnt._duration_arc_logprobs_forward(logits, symbols, blanks, num_durations, 0.1)
    gs, gb = torch.rand_like(sym), torch.rand_like(blank)
    backward = torch.ops.fast_rnnt._duration_arc_logprobs_backward
    plain = backward(logits, symbols, blanks, num_durations, norm, gs, gb, 0.0)
    emit = backward(logits, symbols, blanks, num_durations, norm, gs, gb, 0.5)
    if num_durations == 0:  # the symbol arc is its token log-prob: exactly (1 + lambda) x its gradient
        assert torch.equal(emit, backward(logits, symbols, blanks, 0, norm, gs * 1.5, gb, 0.0))
    else:
        assert torch.equal(emit[..., C:], plain[..., C:])  # duration logits unchanged
        onehot = torch.nn.functional.one_hot(symbols, C).double()
        softmax = torch.softmax(logits[..., :C], -1)
        extra = 0.5 * gs.sum(-1, keepdim=True) * (onehot - softmax)
        torch.testing.assert_close(emit[..., :C], plain[..., :C] + extra, rtol=1e-12, atol=1e-12)
    values = fast_rnnt.duration_arc_logprobs(logits, symbols, blanks, num_durations, 0.1, fastemit_lambda=0.5)
    assert torch.equal(values[0], sym) and torch.equal(values[1], blank)  # values unchanged


@pytest.mark.parametrize("device", devices())
def test_fastemit_on_the_loss(device):
    logits, symbols = tdt_inputs(device, 2, 3, 6, 4, [0, 1, 2], seed=8, requires_grad=True)
    out = {}
    for lam in (0.0, 0.3):
        loss = fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], fastemit_lambda=lam, reduction="sum")
        (grad,) = torch.autograd.grad(loss, logits)
        out[lam] = (loss.detach(), grad)
    plain = fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], reduction="sum")
    (plain_grad,) = torch.autograd.grad(plain, logits)
    assert torch.equal(out[0.0][0], plain.detach()) and torch.equal(out[0.0][1], plain_grad)
    assert torch.equal(out[0.3][0], out[0.0][0])
    assert not torch.allclose(out[0.3][1], out[0.0][1])


@pytest.mark.parametrize("device", devices())
def test_omega(device):
    durations = [0, 1, 2]
    logits, symbols = tdt_inputs(device, 2, 3, 6, 5, durations, seed=9)
    tdt = fast_rnnt.tdt_loss(logits, symbols, 0, durations, sigma=0.2, reduction="none")
    # omega = 1 always takes NeMo's other branch: the standard RNN-T loss of the token logits.
    standard = fast_rnnt.tdt_loss(logits, symbols, 0, durations, sigma=0.2, omega=1.0, reduction="none")
    torch.testing.assert_close(standard, fast_rnnt.rnnt_loss(logits[..., :5], symbols, 0, reduction="none"))
    torch.testing.assert_close(
        fast_rnnt.tdt_loss(logits, symbols, 0, durations, sigma=0.2, omega=0.0, reduction="none"), tdt
    )
    torch.manual_seed(0)
    draws = [fast_rnnt.tdt_loss(logits, symbols, 0, durations, sigma=0.2, omega=0.5, reduction="none") for _ in range(40)]
    torch.manual_seed(0)  # the reference draws from the same generator
    ref = [tdt_loss_reference(logits.cpu(), symbols.cpu(), 0, durations, sigma=0.2, omega=0.5, reduction="none")
           for _ in range(40)]
    for d, r in zip(draws, ref):
        torch.testing.assert_close(d.cpu(), r)
    picked_standard = sum(bool(torch.equal(d, standard)) for d in draws)
    assert all(torch.equal(d, standard) or torch.equal(d, tdt) for d in draws)
    assert 5 <= picked_standard <= 35


def test_float32_accuracy_at_t1000():
    """Mass conservation: float32 occupancies against float64 at T=1000, S=200."""
    B, S, T, C, durations = 1, 200, 1000, 6, [0, 1, 2, 3, 4]
    sw64, bw64 = _weights("cpu", B, S, T, C, durations, seed=10, dtype=torch.float64)
    occ = {}
    for dtype in (torch.float64, torch.float32):
        a = sw64.detach().to(dtype).clone().requires_grad_(True)
        b = bw64.detach().to(dtype).clone().requires_grad_(True)
        fast_rnnt.duration_lattice(a, b, durations, durations[1:]).sum().backward()
        occ[dtype] = (a.grad.double(), b.grad.double())
    err = max((occ[torch.float32][k] - occ[torch.float64][k]).abs().max().item() for k in range(2))
    assert err < 1e-5, err  # measured: 1e-7
    # Every path crosses each frame boundary t -> t+1 on exactly one arc of duration d >= 1 that
    # starts in (t - d, t]: per-frame mass 1.
    for dtype in (torch.float64, torch.float32):
        sym, blank = occ[dtype]
        mass = torch.zeros(T, dtype=torch.float64)
        for i, d in enumerate(durations):
            per_frame = sym[0, :, :, i].sum(1)
            for k in range(d):
                mass[k:] += per_frame[: T - k]
        for j, d in enumerate(durations[1:]):
            per_frame = blank[0, :, :, j].sum(1)
            for k in range(d):
                mass[k:] += per_frame[: T - k]
        assert (mass - 1).abs().max().item() < (1e-12 if dtype == torch.float64 else 2e-6)  # measured: 2e-7


@pytest.mark.parametrize("device", devices())
def test_unreachable_lattice(device):
    # No frames for one symbol: -inf score, zero (not NaN) gradient.
    logits, symbols = tdt_inputs(device, 1, 1, 2, 3, [0, 1], seed=11, requires_grad=True)
    boundary = torch.tensor([[0, 0, 1, 0]], device=device)
    loss = fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1], boundary, reduction="sum")
    assert loss.item() == float("inf")
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


BAD_DURATIONS = [
    ([1, 2], "contain 0 and 1"),
    ([0, 2], "contain 0 and 1"),
    ([0, 1, 3, 2], "ascending without repeats"),
    ([0, 1, 1], "ascending without repeats"),
    ([0, 1, -2], "ascending without repeats"),
    ([-1, 0, 1], "contain 0 and 1"),
    ([0, 1, 2, 3, 4, 5, 6, 7, 8], "too many durations"),
]


@pytest.mark.parametrize("durations,message", BAD_DURATIONS)
def test_bad_durations(durations, message):
    logits, symbols = tdt_inputs("cpu", 1, 2, 3, 4, [0, 1, 2, 3], seed=12)  # last dim 8
    with pytest.raises(RuntimeError, match=f"tdt_loss: .*{message}"):
        fast_rnnt.tdt_loss(logits, symbols, 0, durations)


def test_bad_inputs():
    logits, symbols = tdt_inputs("cpu", 2, 2, 3, 4, [0, 1, 2], seed=13)
    cases = [
        (lambda: fast_rnnt.tdt_loss(logits, symbols.clone().fill_(4), 0, [0, 1, 2]), "expected every symbol in \\[0, C\\) = \\[0, 4\\)"),
        (lambda: fast_rnnt.tdt_loss(logits, symbols, 4, [0, 1, 2]), "termination_symbol in \\[0, C\\)"),
        (lambda: fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], fastemit_lambda=-0.1), "fastemit_lambda >= 0"),
        (lambda: fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], omega=1.5), "omega in \\[0, 1\\]"),
        (lambda: fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], reduction="avg"), "reduction"),
        (lambda: fast_rnnt.tdt_loss(logits[0], symbols, 0, [0, 1, 2]), "expected logits of shape"),
        (lambda: fast_rnnt.tdt_loss(logits, symbols[:, :1], 0, [0, 1, 2]), "expected symbols of shape"),
        (lambda: fast_rnnt.tdt_loss(logits, symbols.int(), 0, [0, 1, 2]), "symbols to be int64"),
        (lambda: fast_rnnt.tdt_loss(logits.int(), symbols, 0, [0, 1, 2]), "float32, float64"),
        (lambda: fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], torch.tensor([[0, 0, 3, 3], [0, 0, 2, 3]])), "boundary\\[0\\]"),
        (lambda: fast_rnnt.duration_lattice(logits[..., :3], logits[..., :1], [0, 1], [1]), "one symbol duration per column"),
        (lambda: fast_rnnt.duration_lattice(logits[..., :2], logits[..., :1], [0, 1], [0]), "blank_durations >= 1"),
        (lambda: fast_rnnt.duration_lattice(logits[..., :2], logits[..., :1].float(), [0, 1], [1]), "symbol_w is Double but blank_w is Float"),
    ]
    for call, message in cases:
        with pytest.raises(RuntimeError, match=message):
            call()


def sample_inputs(device, requires_grad=False):
    """(op, args) for opcheck: the loss and its leaves, boundaries and options."""
    samples = []
    for seed, (durations, bd) in enumerate([([0, 1], 0), ([0, 1, 2], 1), ([0, 1, 2, 3, 4], 2)]):
        logits, symbols = tdt_inputs(device, 2, 3, 5, 4, durations, seed, requires_grad=requires_grad)
        boundary = boundaries(device, 2, 3, 5)[bd]
        samples.append(("tdt_loss", (logits, symbols, 0, durations, boundary, 0.1, 0.0, 0.2 * seed, "mean")))
        padded = torch.cat([symbols, symbols[:, :1]], 1)[:, None, :].expand(2, 5, 4)
        samples.append(("duration_arc_logprobs", (logits, padded, [0], len(durations), 0.1, 0.3)))
        sw, bw = fast_rnnt.duration_arc_logprobs(logits.detach(), padded, [0], len(durations))
        sw, bw = sw.requires_grad_(requires_grad), bw.requires_grad_(requires_grad)
        samples.append(("duration_lattice", (sw, bw, durations, durations[1:], boundary)))
        if not requires_grad:
            g = torch.rand(2, dtype=sw.dtype, device=device)
            samples.append(("_duration_lattice_backward", (sw, bw, durations, durations[1:], boundary, g)))
            fwd = torch.ops.fast_rnnt._duration_arc_logprobs_forward(logits, padded, [0], len(durations), 0.1)
            samples.append(("_duration_arc_logprobs_forward", (logits, padded, [0], len(durations), 0.1)))
            samples.append(("_duration_arc_logprobs_backward",
                            (logits, padded, [0], len(durations), fwd[2], torch.rand_like(fwd[0]),
                             torch.rand_like(fwd[1]), 0.3)))
    return samples


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck(device, requires_grad):
    for name, args in sample_inputs(device, requires_grad):
        torch.library.opcheck(getattr(torch.ops.fast_rnnt, name).default, args)


@pytest.mark.parametrize("device", devices())
def test_compile_fullgraph_dynamic(device):
    compiled = torch.compile(fast_rnnt.tdt_loss, fullgraph=True, dynamic=True, backend="aot_eager")
    for B, S, T in [(2, 3, 5), (3, 4, 7)]:
        logits, symbols = tdt_inputs(device, B, S, T, 4, [0, 1, 2], seed=B, requires_grad=True)
        eager = fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], fastemit_lambda=0.1)
        (eager_grad,) = torch.autograd.grad(eager, logits)
        out = compiled(logits, symbols, 0, [0, 1, 2], fastemit_lambda=0.1)
        (grad,) = torch.autograd.grad(out, logits)
        torch.testing.assert_close(out, eager)
        torch.testing.assert_close(grad, eager_grad)


class _TdtModule(torch.nn.Module):
    def forward(self, logits: torch.Tensor, symbols: torch.Tensor) -> torch.Tensor:
        return fast_rnnt.tdt_loss(logits, symbols, 0, [0, 1, 2], sigma=0.05, fastemit_lambda=0.1)


def test_torchscript_save_load():
    logits, symbols = tdt_inputs("cpu", 2, 3, 5, 4, [0, 1, 2], seed=14, requires_grad=True)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(_TdtModule()), buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    out = loaded(logits, symbols)
    (grad,) = torch.autograd.grad(out, logits)
    eager = _TdtModule()(logits, symbols)
    (eager_grad,) = torch.autograd.grad(eager, logits)
    torch.testing.assert_close(out, eager)
    torch.testing.assert_close(grad, eager_grad)


_MEMORY_CHILD = r"""
import torch, fast_rnnt
from fast_rnnt.benchmark.common import memory_in_use, peak_memory
torch.set_num_threads(1)
cpu = torch.device("cpu")
B, S, T, C, durations = 4, 50, 200, 1024, [0, 1, 2, 3, 4]
g = torch.Generator().manual_seed(0)
logits = torch.randn(B, T, S + 1, C + len(durations), generator=g).requires_grad_(True)
symbols = torch.randint(1, C, (B, S), generator=g)
before = memory_in_use(cpu)
fast_rnnt.{loss}.backward()
print((peak_memory(cpu) - before) / (logits.numel() * logits.element_size()))
"""


@pytest.mark.parametrize("loss", [
    "tdt_loss(logits, symbols, 0, durations)",
    "multiblank_rnnt_loss(logits, symbols, C - 1, [2, 4])",
])
def test_memory_beyond_inputs(loss):
    """Peak memory of forward + backward beyond the inputs, in a fresh process: the gradient
    (1x the logits) and O(B*T*S*D) more, no log-softmax copy of the logits' size."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD.replace("{loss}", loss)],
                         capture_output=True, text=True, check=True)
    ratio = float(out.stdout.strip().splitlines()[-1])
    assert ratio <= 1.1, ratio
