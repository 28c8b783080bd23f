"""Autocast: under torch.autocast the losses compute in float32 and return float32 losses;
gradients reach the inputs in their own dtypes; an autocast training step matches the float32
step."""

import pytest
import torch

import fast_rnnt

# bfloat16 is the autocast dtype every CPU build supports; float16 autocast runs on CUDA.
AUTOCAST = [("cpu", torch.bfloat16)] + (
    [("cuda", torch.float16)] if torch.cuda.is_available() and fast_rnnt.with_cuda else []
)


def lattice_inputs(device, dtype, B=2, S=3, T=5, C=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    lm = torch.randn(B, S + 1, C, generator=g).to(device, dtype).requires_grad_()
    am = torch.randn(B, T, C, generator=g).to(device, dtype).requires_grad_()
    symbols = torch.randint(1, C, (B, S), generator=g).to(device)
    boundary = torch.tensor([[0, 0, S - 1, T - 1], [0, 0, S, T]], device=device)
    return lm, am, symbols, boundary


def _losses(lm, am, symbols, boundary):
    """Every loss op family on (lm, am): name -> (loss, inputs whose gradients are checked)."""
    logits = lm[:, None, :, :] + am[:, :, None, :]  # (B, T, S+1, C), dtype of lm/am
    out = {
        "rnnt_loss_simple": fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="none"),
        "rnnt_loss_smoothed": fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, 0.1, 0.2, boundary, reduction="sum"),
        "rnnt_loss": fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, reduction="mean"),
        # 3 token and 3 duration logits.
        "tdt_loss": fast_rnnt.tdt_loss(logits, symbols.clamp(max=2), 0, [0, 1, 2], boundary, reduction="none"),
        "multiblank_rnnt_loss": fast_rnnt.multiblank_rnnt_loss(logits, symbols, 5, [2], boundary, reduction="sum"),
    }
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(
        lm.detach().float(), am.detach().float(), symbols, 0, boundary, return_grad=True
    )
    ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, 2)
    am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am, lm, ranges)
    out["rnnt_loss_pruned"] = fast_rnnt.rnnt_loss_pruned(am_pruned + lm_pruned, symbols, ranges, 0, boundary, reduction="none")
    px = lm[:, :-1, :].sum(-1, keepdim=True) * 0.1 + am[:, None, :, 0]  # (B, S, T)
    px = torch.cat([px, torch.full_like(px[:, :, :1], float("-inf"))], dim=2)  # (B, S, T+1)
    py = lm[:, :, 1:2] * 0.1 + am[:, None, :, 1]  # (B, S+1, T)
    out["mutual_information_recursion"] = fast_rnnt.mutual_information_recursion(px, py, boundary)
    return out


@pytest.mark.parametrize("device_type,dtype", AUTOCAST)
@pytest.mark.parametrize("input_dtype", [torch.float32, "autocast"])
def test_losses_are_float32_and_grads_keep_input_dtype(device_type, dtype, input_dtype):
    input_dtype = dtype if input_dtype == "autocast" else input_dtype
    lm, am, symbols, boundary = lattice_inputs(device_type, input_dtype)
    with torch.autocast(device_type, dtype=dtype):
        losses = _losses(lm, am, symbols, boundary)
    ref = _losses(*(x.detach().float().requires_grad_() if x.is_floating_point() else x for x in (lm, am)), symbols, boundary)
    for name, loss in losses.items():
        assert loss.dtype == torch.float32, name
        lm.grad = am.grad = None
        loss.sum().backward()
        assert lm.grad.dtype == input_dtype and am.grad.dtype == input_dtype, name
        # Same inputs in float32 outside autocast: the autocast loss is computed in float32 from
        # (possibly bfloat16-rounded) inputs, so it agrees to the input rounding.
        torch.testing.assert_close(loss, ref[name], rtol=2e-2, atol=2e-2, msg=name)


def test_autocast_keeps_float64():
    lm, am, symbols, boundary = lattice_inputs("cpu", torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary)
        logits = lm[:, None] + am[:, :, None]
        full = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary)
    assert loss.dtype == torch.float64 and full.dtype == torch.float64


class TinyTransducer(torch.nn.Module):
    """Linear encoder and decoder, the simple loss's projections and an additive joiner."""

    def __init__(self, F=8, H=16, C=6, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.encoder = torch.nn.Linear(F, H)
        self.embed = torch.nn.Embedding(C, H)
        self.decoder = torch.nn.Linear(H, H)
        self.simple_am = torch.nn.Linear(H, C)
        self.simple_lm = torch.nn.Linear(H, C)
        self.joiner = torch.nn.Linear(H, C)

    def forward(self, x, symbols, boundary):
        enc = self.encoder(x)  # (B, T, H)
        sos = torch.zeros_like(symbols[:, :1])
        dec = self.decoder(self.embed(torch.cat([sos, symbols], dim=1)))  # (B, S+1, H)
        simple = fast_rnnt.rnnt_loss_simple(self.simple_lm(dec), self.simple_am(enc), symbols, 0, boundary)
        logits = self.joiner(torch.tanh(enc[:, :, None, :] + dec[:, None, :, :]))  # (B, T, S+1, C)
        full = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary)
        self.logits_dtype = logits.dtype
        return 0.5 * simple + full


def test_autocast_training_step_matches_float32():
    # Tolerance: bfloat16 keeps 8 mantissa bits (relative rounding 2^-9 ~ 2e-3 per value) in the
    # Linear layers; the losses themselves are computed in float32. Measured here: loss 1.6e-4
    # relative, gradients at most 4.4e-3 of their norm; asserted: 2e-3 and 2e-2.
    g = torch.Generator().manual_seed(0)
    B, T, S, F = 3, 12, 5, 8
    x = torch.randn(B, T, F, generator=g)
    symbols = torch.randint(1, 6, (B, S), generator=g)
    boundary = torch.tensor([[0, 0, S, T], [0, 0, S - 2, T - 3], [0, 0, S - 1, T - 1]])

    def step(autocast):
        model = TinyTransducer()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = model(x, symbols, boundary)
        assert model.logits_dtype == (torch.bfloat16 if autocast else torch.float32)
        loss.backward()
        return loss, {n: p.grad for n, p in model.named_parameters()}

    loss32, grads32 = step(False)
    loss16, grads16 = step(True)
    assert loss16.dtype == torch.float32
    torch.testing.assert_close(loss16, loss32, rtol=2e-3, atol=0)
    for name, g32 in grads32.items():
        g16 = grads16[name]
        assert g16.dtype == torch.float32, name  # parameters stay float32 under autocast
        rel = ((g16 - g32).norm() / g32.norm()).item()
        assert rel < 2e-2, (name, rel)
