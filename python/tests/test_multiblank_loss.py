"""fast_rnnt.multiblank_rnnt_loss: against the independent float64 references of
tdt_reference.py, equal to rnnt_loss without big blanks, gradients, FastEmit, dtypes, errors,
opcheck, torch.compile and TorchScript."""

import io

import pytest
import torch

import fast_rnnt
from conftest import boundaries, devices
from tdt_reference import hand_multiblank_case, multiblank_rnnt_loss_reference

BIG_BLANK_SETS = ([], [2], [2, 4], [3, 2])
REDUCTIONS = ("none", "mean", "sum")


def mb_inputs(device, B, S, T, C, seed, dtype=torch.float64, requires_grad=False):
    """Logits of C tokens; the blank is C - 1, so big blanks are C - 2, C - 3, ...; symbols avoid
    the blanks."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, S + 1, C, generator=g, dtype=torch.float64)
    symbols = torch.randint(0, C - 3, (B, S), generator=g)
    return logits.to(device, dtype).requires_grad_(requires_grad), symbols.to(device)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("big_blank_durations", BIG_BLANK_SETS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference(device, big_blank_durations, seed):
    B, S, T, C = 3, 3, 6, 6
    for boundary in boundaries(device, B, S, T):
        for sigma, fastemit_lambda in ((0.0, 0.0), (0.3, 0.0), (0.1, 0.7)):
            logits, symbols = mb_inputs(device, B, S, T, C, seed, requires_grad=True)
            loss = fast_rnnt.multiblank_rnnt_loss(logits, symbols, C - 1, big_blank_durations, boundary,
                                                  sigma=sigma, fastemit_lambda=fastemit_lambda, reduction="none")
            (grad,) = torch.autograd.grad(loss.sum(), logits)
            ref_logits = logits.detach().cpu().requires_grad_(True)
            bd = boundary.cpu() if boundary is not None else None
            ref = multiblank_rnnt_loss_reference(ref_logits, symbols.cpu(), C - 1, big_blank_durations, bd, sigma,
                                                 fastemit_lambda, reduction="none")
            (ref_grad,) = torch.autograd.grad(ref.sum(), ref_logits)
            torch.testing.assert_close(loss.cpu(), ref, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(grad.cpu(), ref_grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("device", devices())
def test_hand_computed_lattice(device):
    logits, symbols, blank, big_blank_durations, _, loss = hand_multiblank_case()
    got = fast_rnnt.multiblank_rnnt_loss(logits.to(device), symbols.to(device), blank, big_blank_durations, reduction="sum")
    assert abs(got.item() - loss) < 1e-12


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_without_big_blanks_equals_rnnt_loss(device, dtype):
    for seed, boundary in enumerate(boundaries(device, 3, 4, 7)):
        logits, symbols = mb_inputs(device, 3, 4, 7, 6, seed, dtype=dtype, requires_grad=True)
        for blank in (0, 5):
            loss = fast_rnnt.multiblank_rnnt_loss(logits, symbols, blank, [], boundary, reduction="none")
            (grad,) = torch.autograd.grad(loss.sum(), logits)
            ref = fast_rnnt.rnnt_loss(logits, symbols, blank, boundary, reduction="none")
            (ref_grad,) = torch.autograd.grad(ref.sum(), logits)
            tol = dict(rtol=1e-10, atol=1e-10) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(loss, ref, **tol)
            torch.testing.assert_close(grad, ref_grad, **tol)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reductions(device, reduction):
    logits, symbols = mb_inputs(device, 3, 3, 6, 6, seed=3)
    per_sequence = fast_rnnt.multiblank_rnnt_loss(logits, symbols, 5, [2, 3], reduction="none")
    expected = {"none": per_sequence, "mean": per_sequence.mean(), "sum": per_sequence.sum()}[reduction]
    got = fast_rnnt.multiblank_rnnt_loss(logits, symbols, 5, [2, 3], reduction=reduction)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("device", devices())
def test_gradcheck(device):
    logits, symbols = mb_inputs(device, 2, 2, 5, 5, seed=4, requires_grad=True)
    ragged = torch.tensor([[0, 0, 2, 5], [1, 1, 2, 4]], device=device)
    for boundary in (None, ragged):
        assert torch.autograd.gradcheck(
            lambda x: fast_rnnt.multiblank_rnnt_loss(x, symbols, 4, [2, 3], boundary, sigma=0.1, reduction="none"),
            (logits,),
        )


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_lower_precision_follows_float64(device, dtype):
    logits, symbols = mb_inputs(device, 2, 4, 9, 8, seed=5)
    reduced = logits.to(dtype).requires_grad_(True)
    exact = reduced.detach().double().requires_grad_(True)
    loss = fast_rnnt.multiblank_rnnt_loss(reduced, symbols, 7, [2, 4], reduction="sum")
    ref = fast_rnnt.multiblank_rnnt_loss(exact, symbols, 7, [2, 4], reduction="sum")
    loss.backward()
    ref.backward()
    assert loss.dtype == torch.float32 and reduced.grad.dtype == dtype
    torch.testing.assert_close(loss.double(), ref, rtol=1e-5, atol=1e-4)
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]
    torch.testing.assert_close(reduced.grad.double(), exact.grad, rtol=0, atol=tol)


@pytest.mark.parametrize("device", devices())
def test_fastemit(device):
    logits, symbols = mb_inputs(device, 2, 3, 6, 6, seed=6, requires_grad=True)
    results = {}
    for lam in (0.0, 0.4):
        loss = fast_rnnt.multiblank_rnnt_loss(logits, symbols, 5, [2], fastemit_lambda=lam, reduction="sum")
        (grad,) = torch.autograd.grad(loss, logits)
        results[lam] = (loss.detach(), grad)
    plain = fast_rnnt.multiblank_rnnt_loss(logits, symbols, 5, [2], reduction="sum")
    (plain_grad,) = torch.autograd.grad(plain, logits)
    assert torch.equal(results[0.0][0], plain.detach()) and torch.equal(results[0.0][1], plain_grad)
    assert torch.equal(results[0.4][0], results[0.0][0])
    # Through log_softmax: the symbol arcs' (1 + lambda) shows as grad = sum over arcs of
    # occupancy * (onehot - softmax); compare against the loop reference with scaled symbol arcs.
    B, T, K, C = logits.shape
    lp = torch.log_softmax(logits.detach().double(), -1)
    sym_lp = lp.gather(3, torch.cat([symbols, symbols[:, :1]], 1)[:, None, :, None].expand(B, T, K, 1))
    blank_lp = torch.stack([lp[..., 5], lp[..., 4]], -1)
    a, b = sym_lp.clone().requires_grad_(True), blank_lp.clone().requires_grad_(True)
    fast_rnnt.duration_lattice(a, b, [0], [1, 2]).sum().backward()
    expected = torch.zeros_like(lp)
    softmax = lp.exp()
    expected.scatter_add_(3, torch.cat([symbols, symbols[:, :1]], 1)[:, None, :, None].expand(B, T, K, 1), a.grad * 1.4)
    expected[..., 5] += b.grad[..., 0]
    expected[..., 4] += b.grad[..., 1]
    expected -= softmax * (a.grad.sum(-1, keepdim=True) * 1.4 + b.grad.sum(-1, keepdim=True))
    torch.testing.assert_close(results[0.4][1], -expected.to(logits.dtype))


def test_bad_inputs():
    logits, symbols = mb_inputs("cpu", 2, 2, 4, 5, seed=7)
    cases = [
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits, symbols, 4, [1]), "big_blank_durations entry > 1"),
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits, symbols, 4, [2, 0]), "big_blank_durations entry > 1"),
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits, symbols, 1, [2, 3]), "need termination_symbol >= 2"),
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits, symbols, 5, [2]), "termination_symbol in \\[0, C\\)"),
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits, symbols.clone().fill_(7), 4, [2]), "every symbol in \\[0, C\\)"),
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits, symbols, 4, [2], fastemit_lambda=-1.0), "fastemit_lambda >= 0"),
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits, symbols, 4, [2], sigma=float("nan")), "finite sigma"),
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits[:1], symbols, 4, [2]), "expected symbols of shape"),
        (lambda: fast_rnnt.multiblank_rnnt_loss(logits, symbols, 4, [2], torch.tensor([[0, 0, 2, 9], [0, 0, 2, 4]])), "boundary\\[0\\]"),
    ]
    for call, message in cases:
        with pytest.raises(RuntimeError, match=f"multiblank_rnnt_loss: .*{message}"):
            call()


def sample_inputs(device, requires_grad=False):
    samples = []
    for seed, (big, bd) in enumerate([([], 0), ([2], 1), ([2, 3], 2)]):
        logits, symbols = mb_inputs(device, 2, 3, 5, 6, seed, requires_grad=requires_grad)
        boundary = boundaries(device, 2, 3, 5)[bd]
        samples.append(("multiblank_rnnt_loss", (logits, symbols, 5, big, boundary, 0.1 * seed, 0.3, "mean")))
    return samples


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("requires_grad", [False, True])
def test_opcheck(device, requires_grad):
    for name, args in sample_inputs(device, requires_grad):
        torch.library.opcheck(getattr(torch.ops.fast_rnnt, name).default, args)


@pytest.mark.parametrize("device", devices())
def test_compile_fullgraph_dynamic(device):
    compiled = torch.compile(fast_rnnt.multiblank_rnnt_loss, fullgraph=True, dynamic=True, backend="aot_eager")
    for B, S, T in [(2, 3, 5), (3, 4, 8)]:
        logits, symbols = mb_inputs(device, B, S, T, 6, seed=B, requires_grad=True)
        eager = fast_rnnt.multiblank_rnnt_loss(logits, symbols, 5, [2, 3], fastemit_lambda=0.2)
        (eager_grad,) = torch.autograd.grad(eager, logits)
        out = compiled(logits, symbols, 5, [2, 3], fastemit_lambda=0.2)
        (grad,) = torch.autograd.grad(out, logits)
        torch.testing.assert_close(out, eager)
        torch.testing.assert_close(grad, eager_grad)


class _MultiblankModule(torch.nn.Module):
    def forward(self, logits: torch.Tensor, symbols: torch.Tensor) -> torch.Tensor:
        return fast_rnnt.multiblank_rnnt_loss(logits, symbols, 5, [2, 4], sigma=0.05, fastemit_lambda=0.1)


def test_torchscript_save_load():
    logits, symbols = mb_inputs("cpu", 2, 3, 6, 6, seed=8, requires_grad=True)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(_MultiblankModule()), buffer)
    buffer.seek(0)
    out = torch.jit.load(buffer)(logits, symbols)
    (grad,) = torch.autograd.grad(out, logits)
    eager = _MultiblankModule()(logits, symbols)
    (eager_grad,) = torch.autograd.grad(eager, logits)
    torch.testing.assert_close(out, eager)
    torch.testing.assert_close(grad, eager_grad)
