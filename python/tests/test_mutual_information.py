"""mutual_information_recursion and joint_mutual_information_recursion against the float64
loop reference, through autograd, TorchScript, torch.compile and opcheck."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from reference import mutual_information_occupancy_reference, mutual_information_reference

import fast_rnnt

SEEDS = [0, 1, 2]


def random_boundary(B, S, T, generator, modified=False):
    """Ragged rows (s_begin, t_begin, s_end, t_end), nonzero begins included."""
    rows = []
    for _ in range(B):
        s0 = int(torch.randint(0, S // 2 + 1, (), generator=generator))
        t0 = int(torch.randint(0, T // 2 + 1, (), generator=generator))
        s1 = int(torch.randint(s0, S + 1, (), generator=generator))
        t1 = int(torch.randint(t0, T + 1, (), generator=generator))
        if modified and s1 - s0 > t1 - t0:  # keep a path in most rows
            s1 = s0 + (t1 - t0)
        rows.append([s0, t0, s1, t1])
    return torch.tensor(rows, dtype=torch.int64)


def sample_inputs(device, B=3, S=4, T=6, modified=False, dtype=torch.float64, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    px = torch.randn(B, S, T if modified else T + 1, generator=g, dtype=dtype)
    py = torch.randn(B, S + 1, T, generator=g, dtype=dtype)
    boundary = random_boundary(B, S, T, g, modified)
    px, py, boundary = px.to(device), py.to(device), boundary.to(device)
    return px.requires_grad_(requires_grad), py.requires_grad_(requires_grad), boundary


SHAPES = [(3, 4, 6), (1, 5, 5), (2, 0, 3), (2, 3, 1), (4, 12, 30)]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("B,S,T", SHAPES)
@pytest.mark.parametrize("with_boundary", [False, True])
def test_matches_reference(device, seed, modified, B, S, T, with_boundary):
    px, py, boundary = sample_inputs(device, B, S, T, modified, seed=seed)
    boundary = boundary if with_boundary else None
    got = fast_rnnt.mutual_information_recursion(px, py, boundary)
    want = mutual_information_reference(px.cpu(), py.cpu(), None if boundary is None else boundary.cpu())
    assert got.dtype == torch.float64 and got.shape == (B,)
    torch.testing.assert_close(got.cpu(), want, rtol=1e-12, atol=1e-12)


# The CPU kernel copies px/py into wave rows in 8 x 8 blocks and the rest element by element:
# sizes on both sides of the block edges, with and without offset boundaries, both precisions.
@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("S,T", [(7, 8), (8, 9), (9, 17), (16, 7), (17, 40)])
def test_occupancies_match_reference_around_block_edges(device, modified, dtype, S, T):
    px, py, boundary = sample_inputs(device, 3, S, T, modified, seed=100 * S + T)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    for bd in (None, boundary):
        scores, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(px.to(dtype), py.to(dtype), bd, return_grad=True)
        bd_cpu = None if bd is None else bd.cpu()
        want_px, want_py = mutual_information_occupancy_reference(px.cpu(), py.cpu(), bd_cpu)
        torch.testing.assert_close(scores.cpu().double(), mutual_information_reference(px.cpu(), py.cpu(), bd_cpu), **tol)
        torch.testing.assert_close(px_grad.cpu().double(), want_px, **tol)
        torch.testing.assert_close(py_grad.cpu().double(), want_py, **tol)


def test_modified_without_path_is_minus_inf(device):
    px = torch.randn(2, 5, 3, dtype=torch.float64, device=device)  # S=5 > T=3
    py = torch.randn(2, 6, 3, dtype=torch.float64, device=device)
    scores, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
    assert torch.isneginf(scores).all()
    assert px_grad.abs().sum() == 0 and py_grad.abs().sum() == 0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("modified", [False, True])
def test_gradcheck(device, seed, modified):
    px, py, boundary = sample_inputs(device, 2, 3, 4, modified, seed=seed, requires_grad=True)
    for bd in (None, boundary):
        assert torch.autograd.gradcheck(lambda a, b: fast_rnnt.mutual_information_recursion(a, b, bd), (px, py))


@pytest.mark.parametrize("modified", [False, True])
def test_return_grad_equals_autograd_and_is_zero_outside_boundary(device, modified):
    px, py, boundary = sample_inputs(device, 4, 6, 9, modified, seed=3, requires_grad=True)
    scores, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(px, py, boundary, return_grad=True)
    assert scores.requires_grad and not px_grad.requires_grad
    scores.sum().backward()
    torch.testing.assert_close(px_grad, px.grad)
    torch.testing.assert_close(py_grad, py.grad)
    for b, (s0, t0, s1, t1) in enumerate(boundary.tolist()):
        inside_x = torch.zeros_like(px_grad[b], dtype=torch.bool)
        inside_x[s0:s1, t0 : t1 + (0 if modified else 1)] = True
        inside_y = torch.zeros_like(py_grad[b], dtype=torch.bool)
        inside_y[s0 : s1 + 1, t0:t1] = True
        assert px_grad[b][~inside_x].abs().sum() == 0
        assert py_grad[b][~inside_y].abs().sum() == 0
        if torch.isfinite(scores[b]) and (s1 > s0 or t1 > t0):
            # Occupancies are probabilities, and every path ends with one arc into (s_end, t_end).
            assert 0 <= px_grad[b].min() and px_grad[b].max() <= 1 + 1e-12
            last_arcs = py_grad[b, s1, t1 - 1] if t1 > t0 else 0.0
            last_arcs = last_arcs + (px_grad[b, s1 - 1, t1 - (1 if modified else 0)] if s1 > s0 and (not modified or t1 > t0) else 0.0)
            torch.testing.assert_close(torch.as_tensor(last_arcs, dtype=torch.float64, device=device), torch.tensor(1.0, dtype=torch.float64, device=device))


def test_grad_output_scales_each_sequence(device):
    px, py, boundary = sample_inputs(device, 3, 4, 5, seed=4, requires_grad=True)
    w = torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64, device=device)
    (fast_rnnt.mutual_information_recursion(px, py, boundary) * w).sum().backward()
    _, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(px.detach(), py.detach(), boundary, return_grad=True)
    torch.testing.assert_close(px.grad, px_grad * w[:, None, None])
    torch.testing.assert_close(py.grad, py_grad * w[:, None, None])


def test_non_contiguous_inputs(device):
    px, py, boundary = sample_inputs(device, 3, 4, 6, seed=5)
    px_nc = px.transpose(1, 2).contiguous().transpose(1, 2)
    py_nc = torch.stack([py, -py], dim=3)[..., 0]  # every other element of a buffer
    assert not px_nc.is_contiguous() and not py_nc.is_contiguous()
    torch.testing.assert_close(
        fast_rnnt.mutual_information_recursion(px_nc, py_nc, boundary),
        fast_rnnt.mutual_information_recursion(px, py, boundary),
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_lower_precision_agrees_with_float64(device, dtype):
    px, py, boundary = sample_inputs(device, 4, 10, 20, seed=6)
    want = fast_rnnt.mutual_information_recursion(px, py, boundary)
    pxl, pyl = px.to(dtype).requires_grad_(), py.to(dtype).requires_grad_()
    got, (px_grad, _) = fast_rnnt.mutual_information_recursion(pxl, pyl, boundary, return_grad=True)
    assert got.dtype == dtype and px_grad.dtype == dtype
    # The inputs were rounded to `dtype`: compare with float64 on the rounded inputs.
    want = fast_rnnt.mutual_information_recursion(pxl.double(), pyl.double(), boundary)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


def test_long_sequence_float32(device):
    g = torch.Generator().manual_seed(7)
    px = torch.randn(1, 300, 1201, generator=g).to(device)
    py = torch.randn(1, 301, 1200, generator=g).to(device)
    got = fast_rnnt.mutual_information_recursion(px, py)
    want = fast_rnnt.mutual_information_recursion(px.double(), py.double())
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=0)


def test_empty_batch(device):
    px = torch.zeros(0, 3, 5, device=device)
    py = torch.zeros(0, 4, 4, device=device)
    assert fast_rnnt.mutual_information_recursion(px, py).shape == (0,)
    _, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
    assert px_grad.shape == px.shape and py_grad.shape == py.shape


@pytest.mark.parametrize("seed", SEEDS)
def test_joint_breakdown_sums_to_total(device, seed):
    g = torch.Generator().manual_seed(seed)
    B, S, T, N = 2, 3, 5, 3
    px = [torch.randn(B, S, T + 1, generator=g, dtype=torch.float64).to(device).requires_grad_() for _ in range(N)]
    py = [torch.randn(B, S + 1, T, generator=g, dtype=torch.float64).to(device).requires_grad_() for _ in range(N)]
    px[1].data[:, :, -1] = float("-inf")  # -inf parts must not turn into NaN
    boundary = torch.tensor([[0, 0, 3, 5], [0, 0, 2, 4]], device=device)
    parts = fast_rnnt.joint_mutual_information_recursion(px, py, boundary)
    assert parts.shape == (N, B)
    total = fast_rnnt.mutual_information_recursion(sum(px), sum(py), boundary)
    torch.testing.assert_close(parts.sum(0), total)
    parts.sum().backward()
    _, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(sum(px).detach(), sum(py).detach(), boundary, return_grad=True)
    for n in range(N):
        torch.testing.assert_close(px[n].grad, px_grad)
        torch.testing.assert_close(py[n].grad, py_grad)
    assert torch.isfinite(parts).all()


# ---------------------------------------------------------------------------- bad input


def bad_inputs():
    px, py = torch.zeros(2, 3, 5), torch.zeros(2, 4, 4)
    good_bd = torch.tensor([[0, 0, 3, 4], [0, 0, 3, 4]])
    return [
        ("px-ndim", (px[0], py, None), "expected px of shape"),
        ("py-ndim", (px, py[0], None), "expected py of shape"),
        ("batch", (px, torch.zeros(3, 4, 4), None), "batch size mismatch"),
        ("S", (px, torch.zeros(2, 5, 4), None), r"py.size\(1\) == px.size\(1\) \+ 1"),
        ("T", (torch.zeros(2, 3, 7), py, None), r"px.size\(2\) to be T\+1=5"),
        ("dtype-mismatch", (px, py.double(), None), "px is Float but py is Double"),
        ("int-px", (px.long(), py.long(), None), "expected px to be float32"),
        ("boundary-dtype", (px, py, good_bd.int()), "expected boundary to be int64"),
        ("boundary-shape", (px, py, good_bd[:, :3]), r"expected boundary of shape \(B, 4\)"),
        ("boundary-s_end", (px, py, torch.tensor([[0, 0, 3, 4], [0, 0, 4, 4]])), r"boundary\[1\] = \(s_begin=0, t_begin=0, s_end=4"),
        ("boundary-t_end", (px, py, torch.tensor([[0, 0, 3, 5], [0, 0, 3, 4]])), r"boundary\[0\].*T=4"),
        ("boundary-begin>end", (px, py, torch.tensor([[2, 0, 1, 4], [0, 0, 3, 4]])), r"boundary\[0\]"),
        ("boundary-negative", (px, py, torch.tensor([[0, -1, 3, 4], [0, 0, 3, 4]])), r"boundary\[0\]"),
    ]


@pytest.mark.parametrize("name,args,match", bad_inputs(), ids=[c[0] for c in bad_inputs()])
def test_bad_input_raises(name, args, match):
    with pytest.raises(RuntimeError, match=match):
        torch.ops.fast_rnnt.mutual_information(*args)
    with pytest.raises(RuntimeError, match=match):
        torch.ops.fast_rnnt.mutual_information_with_grad(*args)


@pytest.mark.skipif(not torch.cuda.is_available() or not fast_rnnt.with_cuda, reason="needs a GPU")
def test_device_mismatch_raises():
    with pytest.raises(RuntimeError, match="px is on cpu but py is on cuda"):
        fast_rnnt.mutual_information_recursion(torch.zeros(1, 2, 4), torch.zeros(1, 3, 3, device="cuda"))


def test_bad_input_does_not_kill_the_process():
    """Run every bad input in a child process: a crash there fails this test instead of pytest."""
    code = textwrap.dedent(
        """
        import sys, torch, fast_rnnt
        sys.path.insert(0, %r)
        from test_mutual_information import bad_inputs
        for name, args, _ in bad_inputs():
            try:
                torch.ops.fast_rnnt.mutual_information_with_grad(*args)
            except RuntimeError:
                continue
            sys.exit(f"{name}: no error")
        print("all raised")
        """
        % os.path.dirname(__file__)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "all raised" in out.stdout, out.stderr


# ------------------------------------------------------------------- ecosystem


def test_opcheck():
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() and fast_rnnt.with_cuda else []):
        for modified in (False, True):
            for requires_grad in (False, True):
                px, py, boundary = sample_inputs(device, 3, 4, 6, modified, requires_grad=requires_grad)
                for op in (torch.ops.fast_rnnt.mutual_information, torch.ops.fast_rnnt.mutual_information_with_grad):
                    torch.library.opcheck(op, (px, py, boundary))
                    torch.library.opcheck(op, (px, py, None))


def test_torch_compile_fullgraph(device):
    px, py, boundary = sample_inputs(device, 3, 4, 6, requires_grad=True)

    def step(px, py, boundary):
        scores, (px_grad, _) = fast_rnnt.mutual_information_recursion(px, py, boundary, return_grad=True)
        return -(scores.sum()) + px_grad.sum() * 0

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    loss = compiled(px, py, boundary)
    loss.backward()
    grads = (px.grad.clone(), py.grad.clone())
    px.grad = py.grad = None
    step(px, py, boundary).backward()
    torch.testing.assert_close(loss, step(px, py, boundary))
    torch.testing.assert_close(grads, (px.grad, py.grad))


class _Recursion(torch.nn.Module):
    def forward(self, px: torch.Tensor, py: torch.Tensor, boundary: torch.Tensor) -> torch.Tensor:
        return torch.ops.fast_rnnt.mutual_information(px, py, boundary)


def test_torchscript_roundtrip_in_fresh_process(tmp_path):
    px, py, boundary = sample_inputs("cpu", 3, 4, 6)
    scripted = torch.jit.script(_Recursion())
    path = tmp_path / "recursion.pt"
    scripted.save(str(path))
    torch.save({"px": px, "py": py, "boundary": boundary}, tmp_path / "inputs.pt")
    expected = fast_rnnt.mutual_information_recursion(px, py, boundary)
    code = textwrap.dedent(
        f"""
        import torch, fast_rnnt
        m = torch.jit.load({str(path)!r})
        d = torch.load({str(tmp_path / 'inputs.pt')!r})
        px = d["px"].requires_grad_()
        out = m(px, d["py"], d["boundary"])
        out.sum().backward()
        torch.save({{"out": out.detach(), "grad": px.grad}}, {str(tmp_path / 'out.pt')!r})
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    result = torch.load(tmp_path / "out.pt")
    torch.testing.assert_close(result["out"], expected)
    _, (px_grad, _) = fast_rnnt.mutual_information_recursion(px, py, boundary, return_grad=True)
    torch.testing.assert_close(result["grad"], px_grad)


@pytest.mark.skipif(not torch.cuda.is_available() or not fast_rnnt.with_cuda, reason="needs a GPU")
@pytest.mark.parametrize("modified", [False, True])
def test_cpu_equals_cuda(modified):
    px, py, boundary = sample_inputs("cpu", 5, 20, 50, modified, dtype=torch.float32, seed=8)
    cpu = fast_rnnt.mutual_information_recursion(px, py, boundary, return_grad=True)
    cuda = fast_rnnt.mutual_information_recursion(px.cuda(), py.cuda(), boundary.cuda(), return_grad=True)
    torch.testing.assert_close(cuda[0].cpu(), cpu[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cuda[1][0].cpu(), cpu[1][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cuda[1][1].cpu(), cpu[1][1], rtol=1e-5, atol=1e-5)
