"""torch.compile(fullgraph=True) of a training step through every loss (simple, smoothed, pruned
pipeline, full): no graph break, forward and backward equal to eager."""

import os

import pytest
import torch

import fast_rnnt


class PrunedTransducer(torch.nn.Module):
    """Linear encoder/decoder; simple and smoothed losses on projections, the pruned pipeline
    (smoothed occupancies -> ranges -> pruning -> joiner -> pruned loss) and the full loss."""

    def __init__(self, F=8, H=12, C=6, s_range=3):
        super().__init__()
        torch.manual_seed(0)
        self.s_range = s_range
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
        lm, am = self.simple_lm(dec), self.simple_am(enc)
        simple = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="sum")
        smoothed, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
            lm, am, symbols, 0, 0.1, 0.1, boundary, reduction="sum", return_grad=True
        )
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, self.s_range)
        am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(enc, dec, ranges)
        pruned = fast_rnnt.rnnt_loss_pruned(
            self.joiner(torch.tanh(am_pruned + lm_pruned)), symbols, ranges, 0, boundary, reduction="sum"
        )
        full = fast_rnnt.rnnt_loss(
            self.joiner(torch.tanh(enc[:, :, None] + dec[:, None])), symbols, 0, boundary, reduction="sum"
        )
        return simple + smoothed + pruned + full


def _inputs():
    g = torch.Generator().manual_seed(0)
    B, T, S = 3, 9, 4
    x = torch.randn(B, T, 8, generator=g)
    symbols = torch.randint(1, 6, (B, S), generator=g)
    boundary = torch.tensor([[0, 0, S, T], [0, 0, 2, 6], [0, 0, 3, 8]])
    return x, symbols, boundary


def _step(model, x, symbols, boundary):
    model.zero_grad()
    loss = model(x, symbols, boundary)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


BACKENDS = ["aot_eager"] + (["inductor"] if os.environ.get("FAST_RNNT_TEST_INDUCTOR") else [])


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_training_step_matches_eager(backend):
    # Inductor generates and compiles C++ for the step (about a minute on two cores), so it runs
    # only with FAST_RNNT_TEST_INDUCTOR=1; aot_eager traces the same graphs, forward and backward.
    torch._dynamo.reset()
    model = PrunedTransducer()
    args = _inputs()
    expected_loss, expected_grads = _step(model, *args)
    compiled = torch.compile(model, fullgraph=True, backend=backend)  # fullgraph: no graph break
    for _ in range(2):  # the second call reuses the compiled graph
        loss, grads = _step(compiled, *args)
        torch.testing.assert_close(loss, expected_loss, rtol=1e-5, atol=1e-5)
        for got, want in zip(grads, expected_grads):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    explanation = torch._dynamo.explain(model)(*args)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1


def test_dynamic_shapes_compile_once():
    # Speech batches change (B, T, S) from step to step: with dynamic=True one graph with symbolic
    # sizes serves them all (the ops read sizes as SymInts) and agrees with eager on each. The
    # sizes avoid the model's constants (s_range=3, C=6, H=12, F=8, boundary's 4), which the
    # tracer would otherwise take for the same symbol.
    from torch._dynamo.testing import CompileCounterWithBackend

    torch._dynamo.reset()
    model = PrunedTransducer()
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(model, fullgraph=True, backend=counter, dynamic=True)
    frames_after_first = None
    for B, T, S in [(2, 9, 5), (5, 11, 7), (7, 13, 9)]:
        g = torch.Generator().manual_seed(B)
        x = torch.randn(B, T, 8, generator=g)
        symbols = torch.randint(1, 6, (B, S), generator=g)
        boundary = torch.tensor([[0, 0, S, T]] + [[0, 0, S - 1, T - 2]] * (B - 1))
        expected_loss, expected_grads = _step(model, x, symbols, boundary)
        loss, grads = _step(compiled, x, symbols, boundary)
        torch.testing.assert_close(loss, expected_loss, rtol=1e-5, atol=1e-5)
        for got, want in zip(grads, expected_grads):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        frames_after_first = frames_after_first or counter.frame_count
    assert counter.frame_count == frames_after_first  # no recompilation for new shapes
