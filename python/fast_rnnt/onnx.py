"""ONNX export of the ``torch.ops.fast_rnnt`` ops, for the dynamo exporter
(``torch.onnx.export(..., dynamo=True)``).

::

    import fast_rnnt.onnx
    program = torch.onnx.export(
        model, args, dynamo=True,
        custom_translation_table=fast_rnnt.onnx.custom_translation_table(standard_ops=True),
    )

What each op becomes:

- ``get_rnnt_prune_ranges`` and ``do_rnnt_pruning`` (index arithmetic): standard ONNX ops, always.
- ``rnnt_loss_simple``, ``rnnt_loss_smoothed``, ``rnnt_loss``, ``rnnt_loss_pruned`` (without
  ``use_hat_loss``) and ``mutual_information``, with ``standard_ops=True``: standard ONNX ops.
  The per-cell log-probabilities are computed as in PyTorch (with a (B, S+1, T, C) log-sum-exp
  for the simple and smoothed losses; 16-bit logits read in float32), and the recursion is an
  ONNX ``Loop``: over the anti-diagonals ``s + t`` of the lattice for ``rnnt_type="regular"``, over the
  frames for ``"modified"`` and ``"constrained"``, each step updating all ``S+1`` cells of the
  diagonal (or frame) at once. Any runtime that implements opset 18 evaluates them. All
  ``rnnt_type``, ``reduction``, ``boundary``, ``delay_penalty`` and ``fastemit_lambda`` values are
  supported (``fastemit_lambda`` changes only gradients, so the exported forward ignores it).
- Every other loss (and these, with ``standard_ops=False``): one node of the custom domain
  ``fast_rnnt`` (version 1), named like the op (``fast_rnnt.rnnt_loss_pruned``, ...), with the
  op's tensors as inputs (an absent ``boundary`` is an empty input) and its scalar arguments as
  attributes of the same names (except ``fastemit_lambda``, which does not change the value); the
  exporter records the outputs' dtypes and shapes. A runtime
  needs a kernel for that domain to run the model; the graph itself passes ``onnx.checker``.

Requires the ``onnxscript`` package (``pip install onnxscript``) and a torch whose
``torch.onnx.export`` takes ``custom_translation_table`` (not torch 2.4); import this module
explicitly.
"""
import inspect
from typing import Callable, Dict, Optional, TypeVar, Union

import torch

if "custom_translation_table" not in inspect.signature(torch.onnx.export).parameters:
    raise ImportError(f"fast_rnnt.onnx needs torch.onnx.export(..., custom_translation_table=...), which "
                      f"torch {torch.__version__} lacks: install a newer torch for the ONNX export")

import numpy as np  # noqa: E402
import onnx_ir as ir  # noqa: E402
import onnxscript  # noqa: E402
from onnxscript import BFLOAT16, DOUBLE, FLOAT, FLOAT16, INT64  # noqa: E402
from onnxscript import opset18 as op  # noqa: E402
from onnx.defs import OpSchema  # noqa: E402
from onnxscript.values import Op, Opset  # noqa: E402

__all__ = ["DOMAIN", "OPSET", "custom_translation_table"]

#: The custom domain of the nodes that stand for fast_rnnt ops, and its version.
DOMAIN = "fast_rnnt"
DOMAIN_VERSION = 1
#: The standard ONNX opset the translations use.
OPSET = 18

_fr = Opset(DOMAIN, DOMAIN_VERSION)

TFloat = TypeVar("TFloat", bound=Union[FLOAT, DOUBLE, FLOAT16, BFLOAT16])

_REDUCTIONS = ("none", "mean", "sum")
_RNNT_TYPES = ("regular", "modified", "constrained")


# ----------------------------------------------------------------------------- helpers


def _neg_inf_like(x):
    return op.CastLike(op.Constant(value_float=float("-inf")), x)


def _const_like(value: float, x):
    """A scalar of x's dtype; from a float64 constant, so exact for float64 x."""
    return op.CastLike(op.Constant(value=ir.tensor(np.array(value, dtype=np.float64))), x)


def _dim(x, axis: int):
    """x.shape[axis] as a (1,) int64 tensor."""
    return op.Shape(x, start=axis, end=axis + 1)


def _scalar(x):
    """A (1,) tensor as a scalar."""
    return op.Squeeze(x, [0])


def _check_options(name: str, rnnt_type: str, reduction: Optional[str] = None) -> None:
    if rnnt_type not in _RNNT_TYPES:
        raise ValueError(f"{name}: expected rnnt_type to be 'regular', 'modified' or 'constrained', got '{rnnt_type}'")
    if reduction is not None and reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: expected reduction to be 'none', 'mean' or 'sum', got '{reduction}'")


def _boundary_columns(boundary, B, S, T):
    """(s_begin, t_begin, s_end, t_end), each (B, 1) int64; the defaults (0, 0, S, T) when
    boundary is None. B, S, T are (1,) int64."""
    if boundary is None:
        shape = op.Concat(B, op.Constant(value_ints=[1]), axis=0)
        zeros = op.Expand(op.Constant(value_int=0), shape)
        return zeros, zeros, op.Expand(S, shape), op.Expand(T, shape)
    return tuple(op.Slice(boundary, [i], [i + 1], [1]) for i in range(4))


@onnxscript.script(default_opset=op)
def _lattice_loop(pxd: TFloat, pyd: TFloat, s_begin: INT64, k_begin: INT64, s_end: INT64, k_end: INT64) -> TFloat:
    """The recursion, one step per lattice diagonal (or frame) k = 1 .. N-1.

    pxd, pyd: (B, N, S+1); step k sets p[s] = log_add(p[s-1] + pxd[k, s], p[s] + pyd[k, s]) for
    every s at once, where p holds the cells of step k-1. The start cell (s_begin, k_begin) is 0,
    every other cell of step 0 is -inf; the result (B, 1) is p[s_end] of step k_end.
    s_*, k_*: (B, 1).
    """
    neg_inf = op.CastLike(op.Constant(value_float=float("-inf")), pxd)
    zero = op.CastLike(op.Constant(value_float=0.0), pxd)
    num_steps = op.Squeeze(op.Shape(pxd, start=1, end=2), [0])
    positions = op.Shape(pxd, start=2, end=3)
    s_idx = op.Unsqueeze(op.Range(op.Constant(value_int=0), op.Squeeze(positions, [0]), op.Constant(value_int=1)), [0])
    state_shape = op.Concat(op.Shape(pxd, start=0, end=1), positions, axis=0)
    is_start = op.Equal(s_idx, s_begin)
    p = op.Where(op.And(is_start, op.Equal(k_begin, op.Constant(value_int=0))),
                 op.Expand(zero, state_shape), op.Expand(neg_inf, state_shape))
    ans = op.Where(op.Equal(k_end, op.Constant(value_int=0)), op.GatherElements(p, s_end, axis=1),
                   op.Expand(neg_inf, op.Shape(s_end)))
    first = op.Expand(neg_inf, op.Shape(s_end))  # (B, 1): p[-1] = -inf
    for i in range(num_steps - 1):
        k = i + 1
        k1 = op.Unsqueeze(k, [0])
        shifted = op.Concat(first, op.Slice(p, [0], [-1], [1]), axis=1)
        a = shifted + op.Squeeze(op.Gather(pxd, k1, axis=1), [1])
        b = p + op.Squeeze(op.Gather(pyd, k1, axis=1), [1])
        m = op.Max(a, b)
        m = op.Where(op.IsInf(m, detect_positive=0), zero, m)
        q = m + op.Log(op.Exp(a - m) + op.Exp(b - m))
        p = op.Where(op.And(is_start, op.Equal(k_begin, k)), zero, q)
        ans = op.Where(op.Equal(k_end, k), op.GatherElements(p, s_end, axis=1), ans)
    return ans


def _skew(y, num_steps, offset: int, diagonal: bool):
    """out[b, k, s] = y[b, s, k - offset - (s if diagonal else 0)], -inf where that column is
    outside [0, W). y: (B, S+1, W); out: (B, num_steps, S+1)."""
    B, P, W = _dim(y, 0), _dim(y, 1), _dim(y, 2)
    one, zero = op.Constant(value_int=1), op.Constant(value_int=0)
    k = op.Unsqueeze(op.Range(zero, _scalar(num_steps), one), [1])  # (N, 1)
    s = op.Unsqueeze(op.Range(zero, _scalar(P), one), [0])  # (1, S+1)
    col = k - op.Constant(value_int=offset)
    col = col - s if diagonal else col + s * zero
    valid = op.And(op.GreaterOrEqual(col, zero), op.Less(col, W))
    col = op.Clip(col, zero, _scalar(W) - one)
    out_shape = op.Concat(B, num_steps, P, axis=0)
    out = op.GatherElements(op.Transpose(y, perm=[0, 2, 1]), op.Expand(col, out_shape), axis=1)
    return op.Where(valid, out, _neg_inf_like(y))


def _recursion(px, py, boundary, regular: bool):
    """mutual_information(px, py, boundary) in standard ops: (B,) scores."""
    B, S1, T = _dim(py, 0), _dim(py, 1), _dim(py, 2)
    S = S1 - op.Constant(value_ints=[1])
    s_begin, t_begin, s_end, t_end = _boundary_columns(boundary, B, S, T)
    # X[b, s] = px[b, s-1]: the symbol arc into row s (none into row 0).
    first_row = op.Expand(_neg_inf_like(px), op.Concat(B, op.Constant(value_ints=[1]), _dim(px, 2), axis=0))
    x = op.Concat(first_row, px, axis=1)
    if regular:  # step k = s + t: both arcs into (s, t) leave cells of step k-1
        num_steps = S + T + op.Constant(value_ints=[1])
        pxd, pyd = _skew(x, num_steps, 0, True), _skew(py, num_steps, 1, True)
        k_begin, k_end = s_begin + t_begin, s_end + t_end
    else:  # step k = t: both arcs into (s, t) leave frame t-1
        num_steps = T + op.Constant(value_ints=[1])
        pxd, pyd = _skew(x, num_steps, 1, False), _skew(py, num_steps, 1, False)
        k_begin, k_end = t_begin, t_end
    scores = _lattice_loop(pxd, pyd, s_begin, k_begin, s_end, k_end)
    # (B, 1) -> (B,). The shape inference of the exporter's optimizer takes the Loop's outputs
    # for scalars; the Expand restates the shape (B,) from B itself.
    return op.Expand(op.Reshape(scores, op.Constant(value_ints=[-1])), B)


def _place_on_lattice(px, py, rnnt_type: str, boundary):
    """As ops/rnnt_lattice.h: px (B, S, T), py (B, S+1, T) -> the recursion's inputs."""
    if rnnt_type == "regular":
        neg_inf_col = op.Expand(_neg_inf_like(px), op.Concat(_dim(px, 0), _dim(px, 1), op.Constant(value_ints=[1]), axis=0))
        px = op.Concat(px, neg_inf_col, axis=2)
        if boundary is not None:
            frames = op.Range(op.Constant(value_int=0), _scalar(_dim(px, 2)), op.Constant(value_int=1))
            t_end = op.Unsqueeze(op.Slice(boundary, [3], [4], [1]), [2])  # (B, 1, 1)
            px = op.Where(op.Equal(op.Unsqueeze(frames, [0, 1]), t_end), _neg_inf_like(px), px)
    elif rnnt_type == "constrained":
        px = px + op.Slice(py, [1], [2147483647], [1])
    return px, py


def _delay_penalty(px, py, delay_penalty: float, boundary):
    if not delay_penalty > 0.0:
        return px
    T1 = _dim(px, 2)
    if boundary is None:
        t_end = op.CastLike(op.Expand(_dim(py, 2), _dim(px, 0)), px)
    else:
        t_end = op.CastLike(op.Squeeze(op.Slice(boundary, [3], [4], [1]), [1]), px)
    frames = op.CastLike(op.Range(op.Constant(value_int=0), _scalar(T1), op.Constant(value_int=1)), px)
    one, two = op.CastLike(op.Constant(value_float=1.0), px), op.CastLike(op.Constant(value_float=2.0), px)
    penalty = op.Unsqueeze((t_end - one) / two, [1, 2]) - op.Unsqueeze(frames, [0, 1])
    return px + penalty * _const_like(delay_penalty, px)


def _reduce(scores, reduction: str):
    if reduction == "sum":
        return op.Neg(op.ReduceSum(scores, keepdims=0))
    if reduction == "mean":
        return op.Neg(op.ReduceMean(scores, keepdims=0))
    return op.Neg(scores)


def _log_sum_exp(x, axis: int):
    """As torch.logsumexp: a row of -inf shifts by 0 (and gives -inf, not NaN)."""
    m = op.ReduceMax(x, [axis], keepdims=1)
    m = op.Where(op.IsInf(m), op.CastLike(op.Constant(value_float=0.0), x), m)
    return op.Squeeze(m, [axis]) + op.Log(op.ReduceSum(op.Exp(x - m), [axis], keepdims=0))


def _loss(px, py, boundary, rnnt_type, delay_penalty, reduction):
    px, py = _place_on_lattice(px, py, rnnt_type, boundary)
    px = _delay_penalty(px, py, delay_penalty, boundary)
    return _reduce(_recursion(px, py, boundary, rnnt_type == "regular"), reduction)


# ----------------------------------------------------------------------------- standard ops


def get_rnnt_prune_ranges(px_grad: TFloat, py_grad: TFloat, boundary: Optional[INT64], s_range: int) -> INT64:
    """As ops/pruned.cpp, in standard ops; s_range is taken as given (the Python wrapper has
    already reduced it to S+1)."""
    B, S1, T = _dim(py_grad, 0), _dim(py_grad, 1), _dim(py_grad, 2)
    one = op.Constant(value_ints=[1])
    S = S1 - one
    num_begins = S1 + one - op.Constant(value_ints=[s_range])
    # score[b, s, t] = sum_k py_grad[b, s + k, t] - px_grad[b, s - 1, t] (s > 0), summed in
    # the order PyTorch does, so ties and near-ties resolve the same way.
    score = op.Slice(py_grad, op.Constant(value_ints=[0]), num_begins, one)
    for k in range(1, s_range):
        begin = op.Constant(value_ints=[k])
        score = score + op.Slice(py_grad, begin, begin + num_begins, one)
    symbol_occ = op.Slice(px_grad, op.Constant(value_ints=[0, 0]), op.Concat(num_begins - one, T, axis=0),
                          op.Constant(value_ints=[1, 2]))
    zeros = op.Expand(op.CastLike(op.Constant(value_float=0.0), px_grad), op.Concat(B, one, T, axis=0))
    score = score - op.Concat(zeros, symbol_occ, axis=1)
    s_begin = op.ArgMax(score, axis=1, keepdims=0)  # (B, T), first maximum

    _, _, s_end, t_end = _boundary_columns(boundary, B, S, T)
    t_idx = op.Unsqueeze(op.Range(op.Constant(value_int=0), _scalar(T), op.Constant(value_int=1)), [0])  # (1, T)
    last = op.Max(s_end - op.Constant(value_int=s_range - 1), op.Constant(value_int=0))
    s_begin = op.Where(op.Less(t_idx, t_end - op.Constant(value_int=1)), s_begin, last)

    regular = op.Equal(_dim(px_grad, 2), T + one)
    step = op.Where(regular, op.Constant(value_ints=[s_range]), op.Constant(value_ints=[2]))
    s_begin = _suffix_min(s_begin, t_idx)
    ramp = t_idx * (step - one)
    s_begin = ramp - op.Max(_suffix_min(ramp - s_begin, t_idx), op.Constant(value_int=0))
    return op.Unsqueeze(s_begin, [2]) + op.Range(op.Constant(value_int=0), op.Constant(value_int=s_range), op.Constant(value_int=1))


def _suffix_min(x, t_idx):
    """min over t' >= t along axis 1 of the (B, T) int64 x, via a (B, T, T) masked ReduceMin."""
    later = op.GreaterOrEqual(t_idx, op.Transpose(t_idx, perm=[1, 0]))  # (T, T): [t, t'] = t' >= t
    big = op.Constant(value_int=2**62)
    return op.ReduceMin(op.Where(later, op.Unsqueeze(x, [1]), big), [2], keepdims=0)


def do_rnnt_pruning(am: TFloat, lm: TFloat, ranges: INT64):
    """am_pruned = am broadcast over the window, lm_pruned[b, t, k] = lm[b, ranges[b, t, k]]."""
    B, T, R = _dim(ranges, 0), _dim(ranges, 1), _dim(ranges, 2)
    am_pruned = op.Expand(op.Unsqueeze(am, [2]), op.Concat(B, T, R, _dim(am, 2), axis=0))
    index = op.Reshape(ranges, op.Concat(B, op.Constant(value_ints=[-1, 1]), axis=0))  # (B, T*R, 1)
    index = op.Expand(index, op.Concat(B, T * R, _dim(lm, 2), axis=0))
    lm_pruned = op.Reshape(op.GatherElements(lm, index, axis=1), op.Concat(B, T, R, _dim(lm, 2), axis=0))
    return am_pruned, lm_pruned


def mutual_information(px: TFloat, py: TFloat, boundary: Optional[INT64] = None) -> TFloat:
    """The recursion in standard ops. The lattice (px of T+1 or T columns) is told apart at
    export time, from the exported shapes (static sizes or the exporter's symbolic ones)."""
    if px.shape is None or py.shape is None or px.shape[2] is None or py.shape[2] is None:
        raise ValueError("mutual_information: the ONNX translation needs the last dimensions of px and py "
                         f"to tell the regular lattice from the modified one, got shapes {px.shape} and {py.shape}")
    return _recursion(px, py, boundary, bool(px.shape[2] != py.shape[2]))


def _simple_parts(lm, am, symbols, termination_symbol: int):
    """As simple_parts in ops/rnnt_loss.cpp: px_am (B, S, T) = am[b, t, symbols[b, s]],
    px_lm (B, S, 1), py_am (B, 1, T), py_lm (B, S+1, 1), and the normalizers (B, S+1, T) =
    logsumexp_c(lm[b, s, c] + am[b, t, c]) (here over a (B, S+1, T, C) tensor)."""
    B, T, S = _dim(am, 0), _dim(am, 1), _dim(symbols, 1)
    norm = _log_sum_exp(op.Unsqueeze(lm, [2]) + op.Unsqueeze(am, [1]), 3)
    px_lm = op.GatherElements(op.Slice(lm, [0], [-1], [1]), op.Unsqueeze(symbols, [2]), axis=2)
    px_am = op.GatherElements(am, op.Expand(op.Unsqueeze(symbols, [1]), op.Concat(B, T, S, axis=0)), axis=2)
    blank = op.Constant(value_ints=[termination_symbol])
    py_am = op.Transpose(op.Gather(am, blank, axis=2), perm=[0, 2, 1])
    py_lm = op.Gather(lm, blank, axis=2)
    return op.Transpose(px_am, perm=[0, 2, 1]), px_lm, py_am, py_lm, norm


def smoothed_arc_logprobs(lm: TFloat, am: TFloat, symbols: INT64, termination_symbol: int,
                          lm_only_scale: float = 0.0, am_only_scale: float = 0.0):
    """The cells (px (B, S, T), py (B, S+1, T)) of the simple and smoothed losses in standard ops,
    as the smoothed_arc_logprobs op: j * joint + l * lm_only + a * am_only with j = 1 - l - a,
    a term whose scale is exactly 0 left out."""
    px_am, px_lm, py_am, py_lm, norm = _simple_parts(lm, am, symbols, termination_symbol)
    joint_scale = 1.0 - lm_only_scale - am_only_scale
    px = (px_am + px_lm - op.Slice(norm, [0], [-1], [1])) * _const_like(joint_scale, lm)
    py = (py_am + py_lm - norm) * _const_like(joint_scale, lm)
    if lm_only_scale == 0.0 and am_only_scale == 0.0:
        return px, py
    tiny = 2.2250738585072014e-308 if lm.dtype == DOUBLE.dtype else 1.1754943508222875e-38
    lm_max = op.ReduceMax(lm, [2], keepdims=1)  # (B, S+1, 1)
    lm_probs = op.Exp(lm - lm_max)
    lm_sum = op.ReduceSum(lm_probs, [2], keepdims=1)
    if lm_only_scale != 0.0:
        lm_only_norm = op.Log(lm_sum) + lm_max  # (B, S+1, 1)
        lm_scale = _const_like(lm_only_scale, lm)
        px = px + (px_lm - op.Slice(lm_only_norm, [0], [-1], [1])) * lm_scale
        py = py + (py_lm - lm_only_norm) * lm_scale
    if am_only_scale != 0.0:
        am_max = op.ReduceMax(am, [2], keepdims=1)  # (B, T, 1)
        unigram = op.ReduceMean(lm_probs / lm_sum, [0, 1], keepdims=0) + _const_like(tiny, lm)  # (C,)
        am_only_norm = op.Transpose(op.Log(op.MatMul(op.Exp(am - am_max), op.Unsqueeze(unigram, [1]))) + am_max,
                                    perm=[0, 2, 1])  # (B, 1, T)
        log_unigram = op.Log(unigram)
        am_scale = _const_like(am_only_scale, lm)
        px = px + (px_am + op.Unsqueeze(op.Gather(log_unigram, symbols, axis=0), [2]) - am_only_norm) * am_scale
        py = py + (py_am + op.Gather(log_unigram, op.Constant(value_ints=[termination_symbol]), axis=0)
                   - am_only_norm) * am_scale
    return px, py


def rnnt_loss_simple(lm: TFloat, am: TFloat, symbols: INT64, termination_symbol: int,
                     boundary: Optional[INT64] = None, rnnt_type: str = "regular",
                     delay_penalty: float = 0.0, reduction: str = "mean", fastemit_lambda: float = 0.0) -> TFloat:
    """The simple loss in standard ops (a (B, S+1, T, C) log-sum-exp, then the Loop)."""
    _check_options("rnnt_loss_simple", rnnt_type, reduction)
    px, py = smoothed_arc_logprobs(lm, am, symbols, termination_symbol)
    return _loss(px, py, boundary, rnnt_type, delay_penalty, reduction)


def rnnt_loss_smoothed(lm: TFloat, am: TFloat, symbols: INT64, termination_symbol: int,
                       lm_only_scale: float = 0.1, am_only_scale: float = 0.1,
                       boundary: Optional[INT64] = None, rnnt_type: str = "regular",
                       delay_penalty: float = 0.0, reduction: str = "mean",
                       fastemit_lambda: float = 0.0) -> TFloat:
    """The smoothed loss in standard ops; zero scales become 1e-20, as in k2."""
    _check_options("rnnt_loss_smoothed", rnnt_type, reduction)
    px, py = smoothed_arc_logprobs(lm, am, symbols, termination_symbol,
                                   1e-20 if lm_only_scale == 0.0 else lm_only_scale,
                                   1e-20 if am_only_scale == 0.0 else am_only_scale)
    return _loss(px, py, boundary, rnnt_type, delay_penalty, reduction)


def rnnt_loss(logits: TFloat, symbols: INT64, termination_symbol: int, boundary: Optional[INT64] = None,
              rnnt_type: str = "regular", delay_penalty: float = 0.0, reduction: str = "mean",
              fastemit_lambda: float = 0.0) -> FLOAT:
    """The full loss in standard ops: log-softmax entries of the joiner logits, then the Loop.
    Half-precision logits are read in float32, as the fused kernel does."""
    _check_options("rnnt_loss", rnnt_type, reduction)
    if logits.dtype in (FLOAT16.dtype, BFLOAT16.dtype):
        logits = op.Cast(logits, to=FLOAT.dtype)
    B, T, S1 = _dim(logits, 0), _dim(logits, 1), _dim(logits, 2)
    norm = _log_sum_exp(logits, 3)  # (B, T, S+1)
    blank = op.Constant(value_ints=[termination_symbol])
    padded = op.Concat(symbols, op.Expand(blank, op.Concat(B, op.Constant(value_ints=[1]), axis=0)), axis=1)
    index = op.Expand(op.Unsqueeze(padded, [1, 3]), op.Concat(B, T, S1, op.Constant(value_ints=[1]), axis=0))
    symbol_lp = op.Squeeze(op.GatherElements(logits, index, axis=3), [3]) - norm  # (B, T, S+1)
    px = op.Transpose(op.Slice(symbol_lp, [0], [-1], [2]), perm=[0, 2, 1])  # (B, S, T)
    py = op.Transpose(op.Squeeze(op.Gather(logits, blank, axis=3), [3]) - norm, perm=[0, 2, 1])
    return _loss(px, py, boundary, rnnt_type, delay_penalty, reduction)


def rnnt_loss_pruned(logits: TFloat, symbols: INT64, ranges: INT64, termination_symbol: int,
                     boundary: Optional[INT64] = None, rnnt_type: str = "regular",
                     delay_penalty: float = 0.0, reduction: str = "mean", use_hat_loss: bool = False,
                     fastemit_lambda: float = 0.0) -> FLOAT:
    """The pruned loss in standard ops: log-softmax entries of the pruned logits placed on the
    full (-inf filled) lattice, then the Loop. use_hat_loss=True stays a fast_rnnt node."""
    _check_options("rnnt_loss_pruned", rnnt_type, reduction)
    if use_hat_loss:
        return _custom_rnnt_loss_pruned(logits, symbols, ranges, termination_symbol, boundary, rnnt_type,
                                        delay_penalty, reduction, use_hat_loss)
    if logits.dtype in (FLOAT16.dtype, BFLOAT16.dtype):
        logits = op.Cast(logits, to=FLOAT.dtype)
    B, T, R, S = _dim(logits, 0), _dim(logits, 1), _dim(logits, 2), _dim(symbols, 1)
    one = op.Constant(value_ints=[1])
    norm = _log_sum_exp(logits, 3)  # (B, T, R)
    blank = op.Constant(value_ints=[termination_symbol])
    padded = op.Concat(symbols, op.Expand(blank, op.Concat(B, one, axis=0)), axis=1)  # (B, S+1)
    window_symbols = op.GatherElements(padded, op.Reshape(ranges, op.Concat(B, op.Constant(value_ints=[-1]), axis=0)), axis=1)
    window_symbols = op.Reshape(window_symbols, op.Concat(B, T, R, one, axis=0))  # (B, T, R, 1)
    symbol_lp = op.Squeeze(op.GatherElements(logits, window_symbols, axis=3), [3]) - norm  # (B, T, R)
    blank_lp = op.Squeeze(op.Gather(logits, blank, axis=3), [3]) - norm  # (B, T, R)
    # Window position k of frame t is symbol position ranges[b, t, 0] + k: read the lattice's
    # (s, t) entry from k = s - ranges[b, t, 0], -inf outside [0, R).
    zero = op.Constant(value_int=0)
    positions = op.Range(zero, _scalar(S + one), op.Constant(value_int=1))  # (S+1,)
    k = op.Unsqueeze(positions, [0, 1]) - op.Slice(ranges, [0], [1], [2])  # (B, T, S+1)
    valid = op.And(op.GreaterOrEqual(k, zero), op.Less(k, R))
    k = op.Clip(k, zero, _scalar(R) - op.Constant(value_int=1))
    neg_inf = _neg_inf_like(symbol_lp)
    py = op.Transpose(op.Where(valid, op.GatherElements(blank_lp, k, axis=2), neg_inf), perm=[0, 2, 1])
    px = op.Transpose(op.Where(valid, op.GatherElements(symbol_lp, k, axis=2), neg_inf), perm=[0, 2, 1])
    px = op.Slice(px, [0], [-1], [1])  # position S has no symbol arc
    return _loss(px, py, boundary, rnnt_type, delay_penalty, reduction)


# ----------------------------------------------------------------------------- custom domain

_FLOATS = ["tensor(float)", "tensor(double)", "tensor(float16)", "tensor(bfloat16)"]
_ATTR_TYPES = {
    int: OpSchema.AttrType.INT,
    float: OpSchema.AttrType.FLOAT,
    str: OpSchema.AttrType.STRING,
    bool: OpSchema.AttrType.INT,
}


def _custom_op(name: str, inputs: str, outputs: str, attributes: Dict[str, type]) -> Op:
    """An op of the fast_rnnt domain, described by an OpSchema that is *not* registered with
    onnx (the exporter only needs it to build the node). inputs/outputs: space-separated
    ``name:type`` with type T (float tensors), L (float32/float64 losses of any float input), I
    (int64), and a trailing ``?`` for an optional input."""
    def params(spec):
        out = []
        for item in spec.split():
            pname, ptype = item.split(":")
            option = OpSchema.FormalParameterOption.Single
            if ptype.endswith("?"):
                ptype, option = ptype[:-1], OpSchema.FormalParameterOption.Optional
            out.append(OpSchema.FormalParameter(pname, ptype, param_option=option))
        return out

    schema = OpSchema(
        name, DOMAIN, DOMAIN_VERSION,
        inputs=params(inputs), outputs=params(outputs),
        type_constraints=[("T", _FLOATS, ""), ("L", ["tensor(float)", "tensor(double)"], ""),
                          ("I", ["tensor(int64)"], "")],
        attributes=[OpSchema.Attribute(a, _ATTR_TYPES[t]) for a, t in attributes.items()],
    )
    return Op(_fr, name, schema)


_LOSS_ATTRS = {"termination_symbol": int, "rnnt_type": str, "delay_penalty": float, "reduction": str}
_SMOOTHED_ATTRS = {"termination_symbol": int, "lm_only_scale": float, "am_only_scale": float,
                   "rnnt_type": str, "delay_penalty": float, "reduction": str}
_MI = _custom_op("mutual_information", "px:T py:T boundary:I?", "scores:T", {})
_MI_WITH_GRAD = _custom_op("mutual_information_with_grad", "px:T py:T boundary:I?",
                           "scores:T px_grad:T py_grad:T", {})
_SIMPLE = _custom_op("rnnt_loss_simple", "lm:T am:T symbols:I boundary:I?", "loss:T", _LOSS_ATTRS)
_SIMPLE_WITH_GRAD = _custom_op("rnnt_loss_simple_with_grad", "lm:T am:T symbols:I boundary:I?",
                               "loss:T px_grad:T py_grad:T", _LOSS_ATTRS)
_SMOOTHED = _custom_op("rnnt_loss_smoothed", "lm:T am:T symbols:I boundary:I?", "loss:T", _SMOOTHED_ATTRS)
_SMOOTHED_WITH_GRAD = _custom_op("rnnt_loss_smoothed_with_grad", "lm:T am:T symbols:I boundary:I?",
                                 "loss:T px_grad:T py_grad:T", _SMOOTHED_ATTRS)
_FULL = _custom_op("rnnt_loss", "logits:T symbols:I boundary:I?", "loss:L", _LOSS_ATTRS)
_PRUNED = _custom_op("rnnt_loss_pruned", "logits:T symbols:I ranges:I boundary:I?", "loss:L",
                     {**_LOSS_ATTRS, "use_hat_loss": bool})


def _custom_mutual_information(px: TFloat, py: TFloat, boundary: Optional[INT64] = None) -> TFloat:
    return _MI(px, py, boundary)


def _custom_mutual_information_with_grad(px: TFloat, py: TFloat, boundary: Optional[INT64] = None):
    return _MI_WITH_GRAD(px, py, boundary)


def _custom_rnnt_loss_simple(lm: TFloat, am: TFloat, symbols: INT64, termination_symbol: int,
                             boundary: Optional[INT64] = None, rnnt_type: str = "regular",
                             delay_penalty: float = 0.0, reduction: str = "mean",
                             fastemit_lambda: float = 0.0) -> TFloat:
    _check_options("rnnt_loss_simple", rnnt_type, reduction)
    return _SIMPLE(lm, am, symbols, boundary, termination_symbol=termination_symbol, rnnt_type=rnnt_type,
                   delay_penalty=delay_penalty, reduction=reduction)


def _custom_rnnt_loss_simple_with_grad(lm: TFloat, am: TFloat, symbols: INT64, termination_symbol: int,
                                       boundary: Optional[INT64] = None, rnnt_type: str = "regular",
                                       delay_penalty: float = 0.0, reduction: str = "mean",
                                       fastemit_lambda: float = 0.0):
    _check_options("rnnt_loss_simple_with_grad", rnnt_type, reduction)
    return _SIMPLE_WITH_GRAD(lm, am, symbols, boundary, termination_symbol=termination_symbol,
                             rnnt_type=rnnt_type, delay_penalty=delay_penalty, reduction=reduction)


def _custom_rnnt_loss_smoothed(lm: TFloat, am: TFloat, symbols: INT64, termination_symbol: int,
                               lm_only_scale: float = 0.1, am_only_scale: float = 0.1,
                               boundary: Optional[INT64] = None, rnnt_type: str = "regular",
                               delay_penalty: float = 0.0, reduction: str = "mean",
                               fastemit_lambda: float = 0.0) -> TFloat:
    _check_options("rnnt_loss_smoothed", rnnt_type, reduction)
    return _SMOOTHED(lm, am, symbols, boundary, termination_symbol=termination_symbol,
                     lm_only_scale=lm_only_scale, am_only_scale=am_only_scale, rnnt_type=rnnt_type,
                     delay_penalty=delay_penalty, reduction=reduction)


def _custom_rnnt_loss_smoothed_with_grad(lm: TFloat, am: TFloat, symbols: INT64, termination_symbol: int,
                                         lm_only_scale: float = 0.1, am_only_scale: float = 0.1,
                                         boundary: Optional[INT64] = None, rnnt_type: str = "regular",
                                         delay_penalty: float = 0.0, reduction: str = "mean",
                                         fastemit_lambda: float = 0.0):
    _check_options("rnnt_loss_smoothed_with_grad", rnnt_type, reduction)
    return _SMOOTHED_WITH_GRAD(lm, am, symbols, boundary, termination_symbol=termination_symbol,
                               lm_only_scale=lm_only_scale, am_only_scale=am_only_scale, rnnt_type=rnnt_type,
                               delay_penalty=delay_penalty, reduction=reduction)


def _custom_rnnt_loss(logits: TFloat, symbols: INT64, termination_symbol: int, boundary: Optional[INT64] = None,
                      rnnt_type: str = "regular", delay_penalty: float = 0.0, reduction: str = "mean",
                      fastemit_lambda: float = 0.0):
    _check_options("rnnt_loss", rnnt_type, reduction)
    return _FULL(logits, symbols, boundary, termination_symbol=termination_symbol, rnnt_type=rnnt_type,
                 delay_penalty=delay_penalty, reduction=reduction)


def _custom_rnnt_loss_pruned(logits: TFloat, symbols: INT64, ranges: INT64, termination_symbol: int,
                             boundary: Optional[INT64] = None, rnnt_type: str = "regular",
                             delay_penalty: float = 0.0, reduction: str = "mean", use_hat_loss: bool = False,
                             fastemit_lambda: float = 0.0):
    _check_options("rnnt_loss_pruned", rnnt_type, reduction)
    return _PRUNED(logits, symbols, ranges, boundary, termination_symbol=termination_symbol, rnnt_type=rnnt_type,
                   delay_penalty=delay_penalty, reduction=reduction, use_hat_loss=int(use_hat_loss))


def custom_translation_table(standard_ops: bool = False) -> Dict[torch._ops.OpOverload, Callable]:
    """Translations of the fast_rnnt ops for ``torch.onnx.export(..., dynamo=True,
    custom_translation_table=...)``.

    Args:
        standard_ops: translate ``rnnt_loss_simple``, ``rnnt_loss_smoothed``, ``rnnt_loss``,
            ``rnnt_loss_pruned`` (unless ``use_hat_loss``) and ``mutual_information`` to
            standard ONNX ops (an ONNX
            ``Loop`` over the lattice) instead of nodes of the ``fast_rnnt`` domain.

    Returns:
        A dict from ``torch.ops.fast_rnnt.<op>.default`` to its onnxscript translation:
        ``get_rnnt_prune_ranges``, ``do_rnnt_pruning`` and ``smoothed_arc_logprobs`` in standard ops; ``mutual_information``,
        ``mutual_information_with_grad``, ``rnnt_loss_simple`` (and ``_with_grad``),
        ``rnnt_loss_smoothed`` (and ``_with_grad``), ``rnnt_loss`` and ``rnnt_loss_pruned`` as
        ``fast_rnnt`` domain nodes, or, for the five above, standard ops. Merge it with your own
        table to translate more ops.
    """
    ops = torch.ops.fast_rnnt
    table = {
        ops.get_rnnt_prune_ranges.default: get_rnnt_prune_ranges,
        ops.do_rnnt_pruning.default: do_rnnt_pruning,
        ops.smoothed_arc_logprobs.default: smoothed_arc_logprobs,
        ops.mutual_information.default: _custom_mutual_information,
        ops.mutual_information_with_grad.default: _custom_mutual_information_with_grad,
        ops.rnnt_loss_simple.default: _custom_rnnt_loss_simple,
        ops.rnnt_loss_simple_with_grad.default: _custom_rnnt_loss_simple_with_grad,
        ops.rnnt_loss_smoothed.default: _custom_rnnt_loss_smoothed,
        ops.rnnt_loss_smoothed_with_grad.default: _custom_rnnt_loss_smoothed_with_grad,
        ops.rnnt_loss.default: _custom_rnnt_loss,
        ops.rnnt_loss_pruned.default: _custom_rnnt_loss_pruned,
    }
    if standard_ops:
        table[ops.mutual_information.default] = mutual_information
        table[ops.rnnt_loss_simple.default] = rnnt_loss_simple
        table[ops.rnnt_loss.default] = rnnt_loss
        table[ops.rnnt_loss_pruned.default] = rnnt_loss_pruned
        table[ops.rnnt_loss_smoothed.default] = rnnt_loss_smoothed
    return table
