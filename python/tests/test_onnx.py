"""ONNX export (torch.onnx.export(dynamo=True) with fast_rnnt.onnx.custom_translation_table):
pruning in standard ops run by onnxruntime, the losses as fast_rnnt-domain nodes, and the simple
and full losses in standard ops (an ONNX Loop) run by onnxruntime, all against PyTorch."""

import logging
import warnings

import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import fast_rnnt  # noqa: E402
import fast_rnnt.onnx  # noqa: E402

INPUT_NAMES = ("lm", "am", "logits", "symbols", "boundary")


def export(module, args, standard_ops, dynamic_shapes=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)  # "torchvision is not installed" from the exporter
        try:
            program = torch.onnx.export(
                module.eval(), args, dynamo=True, verbose=False, dynamic_shapes=dynamic_shapes,
                custom_translation_table=fast_rnnt.onnx.custom_translation_table(standard_ops=standard_ops),
            )
        finally:
            logging.disable(logging.NOTSET)
    onnx.checker.check_model(program.model_proto, full_check=True)
    return program.model_proto


def run(model, feeds):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v.numpy() for k, v in feeds.items() if k in names})


def lattice_inputs(B, S, T, C, dtype=torch.float32, seed=0):
    """lm, am, logits, symbols and a ragged boundary (s_end in [1, S], t_end in [S, T])."""
    g = torch.Generator().manual_seed(seed)
    lm = torch.randn(B, S + 1, C, generator=g, dtype=dtype)
    am = torch.randn(B, T, C, generator=g, dtype=dtype)
    logits = torch.randn(B, T, S + 1, C, generator=g, dtype=dtype)
    symbols = torch.randint(1, C, (B, S), generator=g)
    zeros = torch.zeros(B, dtype=torch.int64)
    boundary = torch.stack([zeros, zeros, torch.randint(1, S + 1, (B,), generator=g), torch.randint(S, T + 1, (B,), generator=g)], 1)
    boundary[0, 2:] = torch.tensor([S, T])
    return dict(zip(INPUT_NAMES, (lm, am, logits, symbols, boundary)))


def dynamic_shapes():
    batch, frames, symbols = (torch.export.Dim(n) for n in ("batch", "frames", "num_symbols"))
    return {
        "lm": {0: batch, 1: symbols + 1}, "am": {0: batch, 1: frames},
        "logits": {0: batch, 1: frames, 2: symbols + 1}, "symbols": {0: batch, 1: symbols}, "boundary": {0: batch},
    }


# ----------------------------------------------------------------------------- pruning


class Pruning(torch.nn.Module):
    """The pruning steps between the cheap loss (whose occupancies are inputs here) and the joiner."""

    def __init__(self, s_range):
        super().__init__()
        self.s_range = s_range

    def forward(self, px_grad, py_grad, boundary, am, lm):
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, self.s_range)
        am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am, lm, ranges)
        return ranges, am_pruned, lm_pruned


def pruning_inputs(B, S, T, regular, use_boundary, seed):
    feeds = lattice_inputs(B, S, T, 6, seed=seed)
    boundary = feeds["boundary"] if use_boundary else None
    rnnt_type = "regular" if regular else "modified"
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(
        feeds["lm"], feeds["am"], feeds["symbols"], 0, boundary, rnnt_type, return_grad=True
    )
    g = torch.Generator().manual_seed(seed)
    am, lm = torch.randn(B, T, 5, generator=g), torch.randn(B, S + 1, 7, generator=g)
    return {"px_grad": px_grad, "py_grad": py_grad, "boundary": boundary, "am": am, "lm": lm}


SIZES = [(3, 5, 9), (2, 4, 11), (5, 7, 8)]  # (B, S, T): one export serves them all


@pytest.mark.parametrize("regular,use_boundary,s_range", [(True, True, 3), (False, False, 2)])
def test_pruning_in_standard_ops_matches_pytorch(regular, use_boundary, s_range):
    # Ranges are integers, the pruned tensors copies: equal, not close. One export with dynamic
    # batch, frame and symbol sizes (the ops read sizes as SymInts), run at three sizes.
    module = Pruning(s_range)
    batch, symbols, frames = torch.export.Dim("batch"), torch.export.Dim("num_symbols", min=2), torch.export.Dim("frames", min=2)
    dims = {
        "px_grad": {0: batch, 1: symbols, 2: frames + 1 if regular else frames}, "py_grad": {0: batch, 1: symbols + 1, 2: frames},
        "boundary": {0: batch} if use_boundary else None, "am": {0: batch, 1: frames}, "lm": {0: batch, 1: symbols + 1},
    }
    model = export(module, tuple(pruning_inputs(*SIZES[0], regular, use_boundary, 0).values()), True, dynamic_shapes=dims)
    for seed, (B, S, T) in enumerate(SIZES):
        feeds = pruning_inputs(B, S, T, regular, use_boundary, seed)
        got = run(model, {k: v for k, v in feeds.items() if v is not None})
        for got_i, want in zip(got, module(*feeds.values())):
            assert torch.equal(torch.from_numpy(got_i), want)


# ----------------------------------------------------------------------------- custom domain


class AllLosses(torch.nn.Module):
    def forward(self, lm, am, logits, symbols, boundary):
        simple = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="none")
        smoothed, (px_grad, py_grad) = fast_rnnt.rnnt_loss_smoothed(
            lm, am, symbols, 0, 0.1, 0.2, boundary, "modified", 0.5, "sum", return_grad=True
        )
        ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, 2)
        am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am, lm, ranges)
        pruned = fast_rnnt.rnnt_loss_pruned(am_pruned + lm_pruned, symbols, ranges, 0, boundary, "modified", reduction="mean")
        full = fast_rnnt.rnnt_loss(logits, symbols, 0, None, "constrained", reduction="none")
        px, py = fast_rnnt.get_rnnt_logprobs(lm, am, symbols, 0, "regular", boundary)
        scores = fast_rnnt.mutual_information_recursion(px, py, boundary)
        return simple, smoothed, pruned, full, scores


def test_losses_export_as_custom_domain_nodes():
    feeds = lattice_inputs(3, 4, 7, 6)
    model = export(AllLosses(), tuple(feeds.values()), standard_ops=False)
    assert {(o.domain, o.version) for o in model.opset_import} >= {("fast_rnnt", 1)}
    custom = {n.op_type: n for n in model.graph.node if n.domain == "fast_rnnt"}
    assert set(custom) == {"rnnt_loss_simple", "rnnt_loss_smoothed_with_grad", "rnnt_loss_pruned", "rnnt_loss", "mutual_information"}
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in custom["rnnt_loss_smoothed_with_grad"].attribute}
    assert attrs == pytest.approx(
        {"termination_symbol": 0, "lm_only_scale": 0.1, "am_only_scale": 0.2, "rnnt_type": b"modified", "delay_penalty": 0.5, "reduction": b"sum"}
    )
    assert list(custom["rnnt_loss"].input) == ["logits", "symbols"]  # boundary=None: input left out
    assert len(custom["rnnt_loss_smoothed_with_grad"].output) == 3

    # Every custom node's outputs carry PyTorch's dtypes and shapes.
    types = {v.name: v.type.tensor_type for v in list(model.graph.value_info) + list(model.graph.output)}
    B, S, T = 3, 4, 7
    expected = {
        "rnnt_loss_simple": [(B,)], "rnnt_loss_smoothed_with_grad": [(), (B, S, T), (B, S + 1, T)],
        "rnnt_loss_pruned": [()], "rnnt_loss": [(B,)], "mutual_information": [(B,)],
    }
    for name, shapes in expected.items():
        for output, shape in zip(custom[name].output, shapes):
            t = types[output]
            assert t.elem_type == onnx.TensorProto.FLOAT, (name, output)
            assert tuple(d.dim_value for d in t.shape.dim) == shape, (name, output)


# ----------------------------------------------------------------------------- standard ops


class SimpleAndFull(torch.nn.Module):
    """rnnt_loss_simple and rnnt_loss for the given reductions; with_recursion: also the
    recursion on the simple loss's lattice; smoothed_scales: also rnnt_loss_smoothed."""

    def __init__(self, rnnt_type, reductions, delay_penalty, use_boundary, with_recursion=False, smoothed_scales=None):
        super().__init__()
        self.rnnt_type, self.reductions, self.delay_penalty = rnnt_type, reductions, delay_penalty
        self.use_boundary, self.with_recursion, self.smoothed_scales = use_boundary, with_recursion, smoothed_scales

    def forward(self, lm, am, logits, symbols, boundary):
        boundary = boundary if self.use_boundary else None
        out = []
        for reduction in self.reductions:
            out.append(fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, self.rnnt_type, self.delay_penalty, reduction))
            out.append(fast_rnnt.rnnt_loss(logits, symbols, 2, boundary, self.rnnt_type, self.delay_penalty, reduction))
        if self.with_recursion:
            px, py = fast_rnnt.get_rnnt_logprobs(lm, am, symbols, 1, self.rnnt_type, boundary)
            out.append(fast_rnnt.mutual_information_recursion(px, py, boundary))
        if self.smoothed_scales is not None:
            out.append(fast_rnnt.rnnt_loss_smoothed(
                lm, am, symbols, 1, *self.smoothed_scales, boundary, self.rnnt_type, self.delay_penalty, self.reductions[0]
            ))
        return tuple(out)


# Every reduction on the regular lattice; the other lattices, float64, the delay penalty,
# boundary=None and the smoothed loss (with zero scales too) once each (each loss is a Loop,
# and the exporter's optimizer takes ~1 s a Loop).
CONFIGS = [
    SimpleAndFull("regular", ("none", "sum", "mean"), 0.0, True, with_recursion=True),
    SimpleAndFull("regular", ("sum",), 0.3, False, smoothed_scales=(0.1, 0.2)),
    SimpleAndFull("modified", ("mean",), 0.3, True, with_recursion=True, smoothed_scales=(0.0, 0.3)),
    SimpleAndFull("constrained", ("none",), 0.0, True, smoothed_scales=(0.25, 0.0)),
]


@pytest.mark.parametrize(
    "module,dtype",
    [(CONFIGS[0], torch.float32), (CONFIGS[1], torch.float64), (CONFIGS[2], torch.float32), (CONFIGS[3], torch.float32)],
    ids=["regular-f32", "regular-f64-penalty-noboundary", "modified-f32-penalty", "constrained-f32"],
)
def test_simple_and_full_losses_in_standard_ops_match_pytorch(module, dtype):
    # One export with dynamic sizes, run at three sizes. Measured: max relative difference
    # 2.6e-7 (float32), 2e-16 (float64); asserted: 1e-4 / 1e-12.
    feeds = lattice_inputs(3, 4, 8, 6, dtype)
    model = export(module, tuple(feeds.values()), standard_ops=True, dynamic_shapes=dynamic_shapes())
    assert all(n.domain in ("", "pkg.onnxscript.torch_lib.common") for n in model.graph.node), "standard ops only"
    assert any(n.op_type == "Loop" for n in model.graph.node)
    rtol = 1e-4 if dtype == torch.float32 else 1e-12
    for seed, (B, S, T) in enumerate([(3, 4, 8), (5, 7, 20), (1, 1, 2)]):
        feeds = lattice_inputs(B, S, T, 6, dtype, seed=seed)
        for got, want in zip(run(model, feeds), module(*feeds.values())):
            torch.testing.assert_close(torch.from_numpy(got), want, rtol=rtol, atol=0)


class Pruned(torch.nn.Module):
    def __init__(self, rnnt_type, reduction, delay_penalty, use_boundary, use_hat_loss=False):
        super().__init__()
        self.options = (rnnt_type, delay_penalty, reduction, use_hat_loss)
        self.use_boundary = use_boundary

    def forward(self, logits, symbols, ranges, boundary):
        boundary = boundary if self.use_boundary else None
        return fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, boundary, *self.options)


def pruned_inputs(module, seed=0, B=3, S=5, T=9, C=6, s_range=3):
    feeds = lattice_inputs(B, S, T, C, seed=seed)
    boundary = feeds["boundary"] if module.use_boundary else None
    _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(
        feeds["lm"], feeds["am"], feeds["symbols"], 0, boundary, module.options[0], return_grad=True
    )
    ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)
    logits = torch.randn(B, T, s_range, C, generator=torch.Generator().manual_seed(seed))
    return {"logits": logits, "symbols": feeds["symbols"], "ranges": ranges, "boundary": feeds["boundary"]}


@pytest.mark.parametrize(
    "module",
    [Pruned("regular", "none", 0.0, True), Pruned("modified", "mean", 0.3, True), Pruned("constrained", "sum", 0.5, False)],
    ids=["regular", "modified", "constrained"],
)
def test_pruned_loss_in_standard_ops_matches_pytorch(module):
    # Measured: max relative difference 1.1e-7 (float32). One export with dynamic sizes, run at
    # three sizes.
    batch, symbols, frames = torch.export.Dim("batch"), torch.export.Dim("num_symbols", min=3), torch.export.Dim("frames", min=2)
    dims = {"logits": {0: batch, 1: frames}, "symbols": {0: batch, 1: symbols}, "ranges": {0: batch, 1: frames}, "boundary": {0: batch}}
    model = export(module, tuple(pruned_inputs(module).values()), standard_ops=True, dynamic_shapes=dims)
    assert not any(n.domain == "fast_rnnt" for n in model.graph.node)
    for seed, (B, S, T) in enumerate(SIZES):
        feeds = pruned_inputs(module, seed, B=B, S=S, T=T)
        (got,) = run(model, feeds)
        torch.testing.assert_close(torch.from_numpy(got), module(*feeds.values()), rtol=1e-4, atol=0)


def test_pruned_hat_loss_stays_a_custom_node():
    module = Pruned("regular", "sum", 0.0, True, use_hat_loss=True)
    model = export(module, tuple(pruned_inputs(module).values()), standard_ops=True)
    assert [n.op_type for n in model.graph.node if n.domain == "fast_rnnt"] == ["rnnt_loss_pruned"]


@pytest.mark.parametrize("modified", [False, True])
def test_recursion_with_offset_boundary_in_standard_ops(modified):
    class Recursion(torch.nn.Module):
        def forward(self, px, py, boundary):
            return fast_rnnt.mutual_information_recursion(px, py, boundary)

    g = torch.Generator().manual_seed(1)
    B, S, T = 4, 5, 9
    px = torch.randn(B, S, T if modified else T + 1, generator=g)
    py = torch.randn(B, S + 1, T, generator=g)
    boundary = torch.tensor([[1, 0, 5, 9], [0, 2, 4, 8], [2, 3, 5, 9], [1, 1, 3, 6]])  # s_begin, t_begin > 0
    model = export(Recursion(), (px, py, boundary), standard_ops=True)
    (got,) = run(model, {"px": px, "py": py, "boundary": boundary})
    torch.testing.assert_close(torch.from_numpy(got), Recursion()(px, py, boundary), rtol=1e-5, atol=0)


def test_full_loss_reads_float16_logits_in_float32():
    class Full(torch.nn.Module):
        def forward(self, logits, symbols, boundary):
            return fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, reduction="none")

    feeds = lattice_inputs(3, 4, 8, 6)
    args = (feeds["logits"].half(), feeds["symbols"], feeds["boundary"])
    model = export(Full(), args, standard_ops=True)
    (got,) = run(model, dict(zip(("logits", "symbols", "boundary"), args)))
    torch.testing.assert_close(torch.from_numpy(got), Full()(*args), rtol=1e-4, atol=0)  # float32 both


def test_bad_options_fail_at_export():
    class Bad(torch.nn.Module):
        def forward(self, lm, am, logits, symbols, boundary):
            return torch.ops.fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, "regular", 0.0, "avg")

    feeds = lattice_inputs(2, 3, 5, 6)
    with pytest.raises(Exception, match="expected reduction"):
        export(Bad(), tuple(feeds.values()), standard_ops=True)


# ----------------------------------------------------------------------------- FastEmit


class FastEmitLosses(torch.nn.Module):
    """Every k2-family loss with fastemit_lambda, which changes only gradients."""

    def __init__(self, fastemit_lambda):
        super().__init__()
        self.fastemit_lambda = fastemit_lambda

    def forward(self, lm, am, logits, symbols, boundary, ranges, pruned_logits):
        lam = self.fastemit_lambda
        simple = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, boundary, "regular", 0.2, "none", fastemit_lambda=lam)
        smoothed = fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, 0.1, 0.2, boundary, "modified", 0.0, "sum",
                                                fastemit_lambda=lam)
        pruned = fast_rnnt.rnnt_loss_pruned(pruned_logits, symbols, ranges, 0, boundary, "regular", reduction="none",
                                            fastemit_lambda=lam)
        full = fast_rnnt.rnnt_loss(logits, symbols, 0, boundary, "constrained", reduction="none", fastemit_lambda=lam)
        return simple, smoothed, pruned, full


@pytest.mark.parametrize("standard_ops", [False, True])
def test_fastemit_exports_the_unchanged_forward(standard_ops):
    feeds = lattice_inputs(2, 3, 6, 6)
    module = Pruned("regular", "none", 0.0, True)
    pruned = pruned_inputs(module, B=2, S=3, T=6, s_range=2)
    feeds.update(ranges=pruned["ranges"], pruned_logits=pruned["logits"])
    model = export(FastEmitLosses(0.5), tuple(feeds.values()), standard_ops=standard_ops)
    custom = [n for n in model.graph.node if n.domain == "fast_rnnt"]
    if not standard_ops:
        assert sorted(n.op_type for n in custom) == ["rnnt_loss", "rnnt_loss_pruned", "rnnt_loss_simple",
                                                      "rnnt_loss_smoothed"]
        assert all("fastemit_lambda" not in [a.name for a in n.attribute] for n in custom)
        return
    assert custom == []
    for got, want in zip(run(model, feeds), FastEmitLosses(0.0)(*feeds.values())):
        torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=0)
