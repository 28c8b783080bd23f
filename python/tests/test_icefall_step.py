"""The library calls of an icefall pruned-transducer training step (pruned_transducer_stateless*
and zipformer model.py: forward_transducer), every argument by keyword as icefall passes it,
against the same calls made positionally, then backpropagated."""

import pytest
import torch
from torch import nn

import fast_rnnt


class TinyTransducer(nn.Module):
    """Encoder / decoder outputs as parameters; icefall's simple projections and joiner."""

    def __init__(self, B, T, S, vocab_size, encoder_dim=12, decoder_dim=10, joiner_dim=8):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.encoder_out = nn.Parameter(torch.randn(B, T, encoder_dim, generator=g))
        self.decoder_out = nn.Parameter(torch.randn(B, S + 1, decoder_dim, generator=g))
        self.simple_am_proj = nn.Linear(encoder_dim, vocab_size)
        self.simple_lm_proj = nn.Linear(decoder_dim, vocab_size)
        self.encoder_proj = nn.Linear(encoder_dim, joiner_dim)
        self.decoder_proj = nn.Linear(decoder_dim, joiner_dim)
        self.output_linear = nn.Linear(joiner_dim, vocab_size)

    def joiner(self, am_pruned, lm_pruned):
        return self.output_linear(torch.tanh(am_pruned + lm_pruned))


def transducer_losses(model, y_padded, boundary, blank_id, by_keyword, prune_range=5, am_scale=0.25,
                      lm_scale=0.25, rnnt_type="regular", delay_penalty=0.0):
    lm = model.simple_lm_proj(model.decoder_out)
    am = model.simple_am_proj(model.encoder_out)
    am_proj = model.encoder_proj(model.encoder_out)
    lm_proj = model.decoder_proj(model.decoder_out)
    if by_keyword:
        simple_loss, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
            lm=lm.float(),
            am=am.float(),
            symbols=y_padded,
            termination_symbol=blank_id,
            lm_only_scale=lm_scale,
            am_only_scale=am_scale,
            boundary=boundary,
            rnnt_type=rnnt_type,
            delay_penalty=delay_penalty,
            reduction="sum",
            return_grad=True,
        )
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=prune_range)
        am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am=am_proj, lm=lm_proj, ranges=ranges)
        logits = model.joiner(am_pruned, lm_pruned)
        pruned_loss = fast_rnnt.rnnt_loss_pruned(
            logits=logits.float(),
            symbols=y_padded,
            ranges=ranges,
            termination_symbol=blank_id,
            boundary=boundary,
            rnnt_type=rnnt_type,
            delay_penalty=delay_penalty,
            reduction="sum",
        )
    else:
        simple_loss, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
            lm.float(), am.float(), y_padded, blank_id, lm_scale, am_scale, boundary, rnnt_type, delay_penalty, "sum", True
        )
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, prune_range)
        am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am_proj, lm_proj, ranges)
        logits = model.joiner(am_pruned, lm_pruned)
        pruned_loss = fast_rnnt.rnnt_loss_pruned(
            logits.float(), y_padded, ranges, blank_id, boundary, rnnt_type, delay_penalty, "sum"
        )
    return simple_loss, pruned_loss, ranges


def batch(B=3, T=16, S=6, vocab_size=9, seed=1):
    g = torch.Generator().manual_seed(seed)
    y_lens = torch.tensor([S, S - 2, S - 3])[:B]
    x_lens = torch.tensor([T, T - 3, T - 6])[:B]
    y_padded = torch.randint(1, vocab_size, (B, S), generator=g)
    y_padded[torch.arange(S).unsqueeze(0) >= y_lens.unsqueeze(1)] = 0  # icefall pads with 0
    boundary = torch.zeros((B, 4), dtype=torch.int64)
    boundary[:, 2] = y_lens
    boundary[:, 3] = x_lens
    return y_padded, boundary


@pytest.mark.parametrize("rnnt_type,delay_penalty", [("regular", 0.0), ("regular", 0.1), ("modified", 0.0), ("constrained", 0.05)])
def test_icefall_step_by_keyword(rnnt_type, delay_penalty):
    y_padded, boundary = batch()
    results = {}
    for by_keyword in (True, False):
        torch.manual_seed(0)
        model = TinyTransducer(3, 16, 6, vocab_size=9)
        simple_loss, pruned_loss, ranges = transducer_losses(
            model, y_padded, boundary, 0, by_keyword, rnnt_type=rnnt_type, delay_penalty=delay_penalty
        )
        assert simple_loss.dim() == 0 and pruned_loss.dim() == 0
        assert torch.isfinite(simple_loss) and torch.isfinite(pruned_loss)
        assert ranges.shape == (3, 16, 5)
        loss = 0.5 * simple_loss + pruned_loss  # icefall's simple_loss_scale
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
        results[by_keyword] = (simple_loss.detach(), pruned_loss.detach(), ranges, grads)
    kw, pos = results[True], results[False]
    torch.testing.assert_close(kw[0], pos[0], rtol=0, atol=0)
    torch.testing.assert_close(kw[1], pos[1], rtol=0, atol=0)
    assert torch.equal(kw[2], pos[2])
    for a, b in zip(kw[3], pos[3]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_icefall_hat_and_full_losses_by_keyword():
    # The HAT recipe (use_hat_loss=True, blank 0) and the unpruned k2 calls icefall also makes.
    y_padded, boundary = batch()
    model = TinyTransducer(3, 16, 6, vocab_size=9)
    lm = model.simple_lm_proj(model.decoder_out)
    am = model.simple_am_proj(model.encoder_out)
    simple_loss, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(
        lm=lm, am=am, symbols=y_padded, termination_symbol=0, boundary=boundary, reduction="sum", return_grad=True
    )
    ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=4)
    am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(
        am=model.encoder_proj(model.encoder_out), lm=model.decoder_proj(model.decoder_out), ranges=ranges
    )
    logits = model.joiner(am_pruned, lm_pruned)
    hat = fast_rnnt.rnnt_loss_pruned(
        logits=logits, symbols=y_padded, ranges=ranges, termination_symbol=0, boundary=boundary,
        reduction="sum", use_hat_loss=True,
    )
    px, py = fast_rnnt.get_rnnt_logprobs_pruned(
        logits=logits, symbols=y_padded, ranges=ranges, termination_symbol=0, boundary=boundary,
        rnnt_type="regular", use_hat_loss=True,
    )
    scores = fast_rnnt.mutual_information_recursion(px=px, py=py, boundary=boundary, return_grad=False)
    torch.testing.assert_close(hat, -scores.sum())
    full_logits = model.joiner(model.encoder_proj(model.encoder_out).unsqueeze(2), model.decoder_proj(model.decoder_out).unsqueeze(1))
    full = fast_rnnt.rnnt_loss(
        logits=full_logits, symbols=y_padded, termination_symbol=0, boundary=boundary, rnnt_type="regular",
        delay_penalty=0.0, reduction="sum",
    )
    px, py = fast_rnnt.get_rnnt_logprobs_joint(
        logits=full_logits, symbols=y_padded, termination_symbol=0, boundary=boundary, rnnt_type="regular"
    )
    torch.testing.assert_close(full, -fast_rnnt.mutual_information_recursion(px, py, boundary).sum())
    (simple_loss + hat + full).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
