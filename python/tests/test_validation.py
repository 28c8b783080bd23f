"""Input validation of every public op (issue 7): one table row per bad input and op, asserting a
RuntimeError whose message names the op, the argument and the values.

Every row also runs in a child process first (all rows in a few processes, restarted after a
crash), so a segfault or a hang fails that row's test instead of killing pytest; the in-process
call runs only once the child has shown that it is safe.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

import fast_rnnt  # noqa: F401  (loads the ops)

OPS = torch.ops.fast_rnnt
B, S, T, C = 2, 3, 6, 5
S_RANGE = 2


def _lm_am():
    g = torch.Generator().manual_seed(0)
    return {
        "lm": torch.randn(B, S + 1, C, generator=g),
        "am": torch.randn(B, T, C, generator=g),
        "symbols": torch.randint(1, C, (B, S), generator=g),
        "termination_symbol": 0,
        "boundary": torch.tensor([[0, 0, S, T], [0, 0, 2, 5]]),
    }


def _joint():
    g = torch.Generator().manual_seed(0)
    return {
        "logits": torch.randn(B, T, S + 1, C, generator=g),
        "symbols": torch.randint(1, C, (B, S), generator=g),
        "termination_symbol": 0,
        "boundary": torch.tensor([[0, 0, S, T], [0, 0, 2, 5]]),
    }


def _ranges():
    # Window begins 0 0 1 1 2 2 (a valid monotone sequence within [0, S]).
    begins = torch.tensor([0, 0, 1, 1, 2, 2]).view(1, T, 1).expand(B, T, 1)
    return (begins + torch.arange(S_RANGE)).contiguous()


def _pruned():
    g = torch.Generator().manual_seed(0)
    return {
        "logits": torch.randn(B, T, S_RANGE, C, generator=g),
        "symbols": torch.randint(1, C, (B, S), generator=g),
        "ranges": _ranges(),
        "termination_symbol": 0,
        "boundary": torch.tensor([[0, 0, S, T], [0, 0, 2, 5]]),
    }


def _prune_ranges():
    g = torch.Generator().manual_seed(0)
    return {
        "px_grad": torch.rand(B, S, T + 1, generator=g),
        "py_grad": torch.rand(B, S + 1, T, generator=g),
        "boundary": torch.tensor([[0, 0, S, T], [0, 0, 2, 5]]),
        "s_range": S_RANGE,
    }


def _do_pruning():
    g = torch.Generator().manual_seed(0)
    return {"am": torch.randn(B, T, 4, generator=g), "lm": torch.randn(B, S + 1, 4, generator=g), "ranges": _ranges()}


def _arc():
    g = torch.Generator().manual_seed(0)
    return {
        "logits": torch.randn(B, T, S + 1, C, generator=g),
        "symbols": torch.randint(0, C, (B, T, S + 1), generator=g),
        "termination_symbol": 0,
        "use_hat_loss": False,
    }


def _mi():
    g = torch.Generator().manual_seed(0)
    return {
        "px": torch.randn(B, S, T + 1, generator=g),
        "py": torch.randn(B, S + 1, T, generator=g),
        "boundary": torch.tensor([[0, 0, S, T], [1, 2, 2, 5]]),
    }


def _joint_mi():
    kw = _mi()
    return {"px": [kw["px"], kw["px"] * 2], "py": [kw["py"], kw["py"] * 2], "boundary": kw["boundary"]}


def _set(**changes):
    """A mutation that replaces arguments (values may be callables of the good arguments)."""

    def apply(kw):
        for k, v in changes.items():
            kw[k] = v(kw) if callable(v) else v
        return kw

    apply.keys = set(changes)
    return apply


def _bd(rows):
    return _set(boundary=torch.tensor(rows))


# Cases shared by the losses and logprobs on (lm, am) and on full logits.
_SYMBOL_CASES = [
    ("symbols_1d", _set(symbols=lambda kw: kw["symbols"][0]), r"expected symbols of shape \(B, S\).*got"),
    ("symbols_int32", _set(symbols=lambda kw: kw["symbols"].int()), r"expected symbols to be int64, got Int"),
    ("symbols_wrong_S", _set(symbols=lambda kw: kw["symbols"][:, :2]), r"expected symbols of shape \(B, S\) = \(2, 3\)"),
    ("symbols_wrong_B", _set(symbols=lambda kw: kw["symbols"][:1]), r"expected symbols of shape \(B, S\) = \(2, 3\)"),
    ("symbol_too_large", _set(symbols=lambda kw: kw["symbols"].index_fill(1, torch.tensor([1]), C)), r"expected every symbol in \[0, C\) = \[0, 5\), got symbols\[0, 1\] = 5"),
    ("symbol_negative", _set(symbols=lambda kw: kw["symbols"].index_fill(1, torch.tensor([2]), -1)), r"expected every symbol in \[0, C\) = \[0, 5\), got symbols\[0, 2\] = -1"),
    ("termination_negative", _set(termination_symbol=-1), r"expected termination_symbol in \[0, C\) = \[0, 5\), got -1"),
    ("termination_too_large", _set(termination_symbol=C), r"expected termination_symbol in \[0, C\) = \[0, 5\), got 5"),
    ("boundary_int32", _set(boundary=lambda kw: kw["boundary"].int()), r"expected boundary to be int64, got Int"),
    ("boundary_shape", _set(boundary=lambda kw: kw["boundary"][:, :3]), r"expected boundary of shape \(B, 4\) = \(2, 4\), got \[2, 3\]"),
    ("boundary_batch", _set(boundary=lambda kw: kw["boundary"][:1]), r"expected boundary of shape \(B, 4\) = \(2, 4\), got \[1, 4\]"),
    ("boundary_s_end_gt_S", _bd([[0, 0, S + 1, T], [0, 0, 2, 5]]), r"boundary\[0\] = \(s_begin=0, t_begin=0, s_end=4, t_end=6\) is out of range.*S=3.*T=6"),
    ("boundary_t_end_gt_T", _bd([[0, 0, S, T], [0, 0, 2, T + 1]]), r"boundary\[1\] = \(s_begin=0, t_begin=0, s_end=2, t_end=7\) is out of range"),
    ("boundary_s_begin_gt_s_end", _bd([[0, 0, S, T], [3, 0, 2, 5]]), r"boundary\[1\] = \(s_begin=3, .*is out of range"),
    ("boundary_t_begin_negative", _bd([[0, -1, S, T], [0, 0, 2, 5]]), r"boundary\[0\] = \(s_begin=0, t_begin=-1, .*is out of range"),
    ("rnnt_type", _set(rnnt_type="fancy"), r"expected rnnt_type to be 'regular', 'modified' or 'constrained', got 'fancy'"),
    ("reduction", _set(reduction="max"), r"expected reduction to be 'none', 'mean' or 'sum', got 'max'"),
    ("modified_sequence_T_lt_S", _set(rnnt_type="modified", boundary=torch.tensor([[0, 0, S, T], [0, 3, 3, 5]])), r"rnnt_type='modified' requires t_end - t_begin >= s_end - s_begin for every sequence, got boundary\[1\] = \(s_begin=0, t_begin=3, s_end=3, t_end=5\)"),
    ("fastemit_lambda_negative", _set(fastemit_lambda=-0.5), r"expected fastemit_lambda to be finite and >= 0, got -0.5"),
    ("fastemit_lambda_nan", _set(fastemit_lambda=float("nan")), r"expected fastemit_lambda to be finite and >= 0, got nan"),
]

# A second device for the device checks: "meta" works without a GPU for the composite ops,
# whose checks run before any kernel; the device kernels' own checks need a real second device.
OTHER = "cuda" if torch.cuda.is_available() and fast_rnnt.with_cuda else "meta"


def _to_other(name):
    return _set(**{name: lambda kw: kw[name].to(OTHER)})


_KERNEL_DEVICE_CASES = {
    "mi": [
        ("py_device", _to_other("py"), rf"px is on cpu but py is on {OTHER}"),
        ("boundary_device", _to_other("boundary"), rf"boundary is on {OTHER}.* but px is on cpu"),
    ],
    "arc": [("symbols_device", _to_other("symbols"), rf"symbols is on {OTHER}.* but logits is on cpu")],
}
if OTHER == "meta":  # the meta (fake) kernels do not check devices
    _KERNEL_DEVICE_CASES = {k: [] for k in _KERNEL_DEVICE_CASES}

_LM_AM_CASES = [
    ("am_device", _to_other("am"), rf"lm is on cpu but am is on {OTHER}"),
    ("symbols_device", _to_other("symbols"), rf"symbols is on {OTHER}.* but the scores are on cpu"),
    ("boundary_device", _to_other("boundary"), rf"boundary is on {OTHER}.* but the scores are on cpu"),
    ("lm_2d", _set(lm=lambda kw: kw["lm"][0]), r"expected lm of shape \(B, S\+1, C\), got a 2-D tensor"),
    ("am_4d", _set(am=lambda kw: kw["am"][None]), r"expected am of shape \(B, T, C\), got a 4-D tensor"),
    ("lm_int", _set(lm=lambda kw: kw["lm"].long(), am=lambda kw: kw["am"].long()), r"expected lm to be float32, float64, float16 or bfloat16, got Long"),
    ("am_dtype", _set(am=lambda kw: kw["am"].double()), r"lm is Float but am is Double"),
    ("lm_am_batch", _set(am=lambda kw: kw["am"][:1]), r"batch size mismatch: lm.size\(0\)=2 but am.size\(0\)=1"),
    ("lm_am_classes", _set(am=lambda kw: kw["am"][:, :, :4]), r"number of classes mismatch: lm.size\(2\)=5 but am.size\(2\)=4"),
    ("modified_T_lt_S", _set(rnnt_type="modified", boundary=None, symbols=torch.ones(B, T + 1, dtype=torch.long), lm=torch.randn(B, T + 2, C)), r"rnnt_type='modified' requires T >= S, got T=6 and S=7"),
    ("lm_empty_S", _set(lm=lambda kw: kw["lm"][:, :0]), r"expected lm of shape \(B, S\+1, C\) with S\+1 >= 1"),
]

_JOINT_CASES = [
    ("symbols_device", _to_other("symbols"), rf"symbols is on {OTHER}.* but the scores are on cpu"),
    ("boundary_device", _to_other("boundary"), rf"boundary is on {OTHER}.* but the scores are on cpu"),
    ("logits_3d", _set(logits=lambda kw: kw["logits"][0]), r"expected logits of shape \(B, T, S\+1, C\), got a 3-D tensor"),
    ("logits_int", _set(logits=lambda kw: kw["logits"].long()), r"expected logits to be float32, float64, float16 or bfloat16, got Long"),
    ("modified_T_lt_S", _set(rnnt_type="modified", boundary=None, symbols=torch.ones(B, T + 1, dtype=torch.long), logits=torch.randn(B, T, T + 2, C)), r"rnnt_type='modified' requires T >= S, got T=6 and S=7"),
    ("logits_empty_S", _set(logits=lambda kw: kw["logits"][:, :, :0]), r"expected logits of shape \(B, T, S\+1, C\) with S\+1 >= 1"),
    ("logits_no_classes", _set(logits=lambda kw: kw["logits"][..., :0]), r"expected termination_symbol in \[0, C\) = \[0, 0\), got 0"),
]

_PRUNED_CASES = [
    ("symbols_device", _to_other("symbols"), rf"symbols is on {OTHER}.* but logits is on cpu"),
    ("ranges_device", _to_other("ranges"), rf"ranges is on {OTHER}.* but the other inputs are on cpu"),
    ("boundary_device", _to_other("boundary"), rf"boundary is on {OTHER}.* but the other inputs are on cpu"),
    ("logits_3d", _set(logits=lambda kw: kw["logits"][0]), r"expected logits of shape \(B, T, s_range, C\), got a 3-D tensor"),
    ("logits_int", _set(logits=lambda kw: kw["logits"].long()), r"expected logits to be float32, float64, float16 or bfloat16, got Long"),
    ("symbols_1d", _set(symbols=lambda kw: kw["symbols"][0]), r"expected symbols of shape \(B, S\), got a 1-D tensor"),
    ("symbols_int32", _set(symbols=lambda kw: kw["symbols"].int()), r"expected symbols to be int64, got Int"),
    ("symbols_wrong_B", _set(symbols=lambda kw: kw["symbols"][:1]), r"batch size mismatch: logits.size\(0\)=2 but symbols.size\(0\)=1"),
    ("symbol_too_large", _set(symbols=lambda kw: kw["symbols"].index_fill(1, torch.tensor([1]), C)), r"expected every symbol in \[0, C\) = \[0, 5\), got symbols\[0, 1\] = 5"),
    ("termination_too_large", _set(termination_symbol=C), r"expected termination_symbol in \[0, C\) = \[0, 5\), got 5"),
    ("termination_negative", _set(termination_symbol=-2), r"expected termination_symbol in \[0, C\) = \[0, 5\), got -2"),
    ("hat_termination", _set(use_hat_loss=True, termination_symbol=1), r"use_hat_loss=True requires termination_symbol == 0"),
    ("hat_one_class", _set(use_hat_loss=True, logits=lambda kw: kw["logits"][..., :1], symbols=lambda kw: torch.zeros_like(kw["symbols"])), r"use_hat_loss=True requires at least 2 classes .*got C=1"),
    ("ranges_int32", _set(ranges=lambda kw: kw["ranges"].int()), r"expected ranges to be int64, got Int"),
    ("ranges_shape", _set(ranges=lambda kw: kw["ranges"][:, :4]), r"expected ranges of shape \(B, T, s_range\) = \(2, 6, 2\), got \[2, 4, 2\]"),
    ("ranges_beyond_S", _set(ranges=lambda kw: kw["ranges"] + 2), r"ranges\[0, 2\] = \(3, 4\) is invalid: expected s_range consecutive symbol positions .* within \[0, S=3\]"),
    ("ranges_negative", _set(ranges=lambda kw: kw["ranges"] - 1), r"ranges\[0, 0\] = \(-1, 0\) is invalid"),
    ("ranges_not_consecutive", _set(ranges=lambda kw: kw["ranges"].index_fill(2, torch.tensor([1]), 3)), r"ranges\[0, 0\] = \(0, 3\) is invalid"),
    ("s_range_too_wide", _set(logits=lambda kw: torch.randn(B, T, S + 2, C), ranges=lambda kw: torch.arange(S + 2).expand(B, T, S + 2).contiguous()), r"expected s_range <= S\+1 = 4 .*got s_range=5"),
    ("s_range_1_regular", _set(logits=lambda kw: kw["logits"][:, :, :1], ranges=lambda kw: kw["ranges"][:, :, :1]), r"expected s_range >= 2 for the regular lattice with S=3 .*got s_range=1"),
    ("boundary_int32", _set(boundary=lambda kw: kw["boundary"].int()), r"expected boundary to be int64, got Int"),
    ("boundary_shape", _set(boundary=lambda kw: kw["boundary"][:, :3]), r"expected boundary of shape \(B, 4\) = \(2, 4\), got \[2, 3\]"),
    ("boundary_s_end_gt_S", _bd([[0, 0, S + 1, T], [0, 0, 2, 5]]), r"boundary\[0\] = \(s_begin=0, t_begin=0, s_end=4, t_end=6\) is out of range"),
    ("boundary_t_end_gt_T", _bd([[0, 0, S, T + 1], [0, 0, 2, 5]]), r"boundary\[0\] = .*t_end=7\) is out of range"),
    ("rnnt_type", _set(rnnt_type="fancy"), r"expected rnnt_type to be 'regular', 'modified' or 'constrained', got 'fancy'"),
    ("reduction", _set(reduction="max"), r"expected reduction to be 'none', 'mean' or 'sum', got 'max'"),
    ("modified_sequence_T_lt_S", _set(rnnt_type="modified", boundary=torch.tensor([[0, 0, S, T], [0, 3, 3, 5]])), r"rnnt_type='modified' requires t_end - t_begin >= s_end - s_begin for every sequence, got boundary\[1\]"),
    ("fastemit_lambda_negative", _set(fastemit_lambda=-0.5), r"expected fastemit_lambda to be finite and >= 0, got -0.5"),
]

_PRUNE_RANGES_CASES = [
    ("py_grad_device", _to_other("py_grad"), rf"px_grad is on cpu but py_grad is on {OTHER}"),
    ("boundary_device", _to_other("boundary"), rf"boundary is on {OTHER}.* but the other inputs are on cpu"),
    ("px_grad_2d", _set(px_grad=lambda kw: kw["px_grad"][0]), r"expected px_grad of shape \(B, S, T\+1\) or \(B, S, T\), got a 2-D tensor"),
    ("py_grad_2d", _set(py_grad=lambda kw: kw["py_grad"][0]), r"expected py_grad of shape \(B, S\+1, T\), got a 2-D tensor"),
    ("dtype_mismatch", _set(py_grad=lambda kw: kw["py_grad"].double()), r"expected px_grad and py_grad of one floating dtype, got Float and Double"),
    ("int_grads", _set(px_grad=lambda kw: kw["px_grad"].long(), py_grad=lambda kw: kw["py_grad"].long()), r"expected px_grad and py_grad of one floating dtype, got Long and Long"),
    ("py_grad_rows", _set(py_grad=lambda kw: kw["py_grad"][:, :3]), r"expected py_grad of shape \(B, S\+1, T\) = \(2, 4, T\)"),
    ("px_grad_frames", _set(px_grad=lambda kw: torch.rand(B, S, T + 2)), r"expected px_grad.size\(2\) to be T\+1=7 \(regular\) or T=6"),
    ("boundary_int32", _set(boundary=lambda kw: kw["boundary"].int()), r"expected boundary to be int64, got Int"),
    ("boundary_values", _bd([[0, 0, S, T + 1], [0, 0, 2, 5]]), r"boundary\[0\] = .*t_end=7\) is out of range"),
    ("s_range_0", _set(s_range=0), r"expected s_range >= 2 for the regular lattice with S=3 .*got s_range=0"),
    ("s_range_1_regular", _set(s_range=1), r"expected s_range >= 2 .*got s_range=1"),
    ("s_range_0_modified", _set(s_range=0, px_grad=lambda kw: kw["px_grad"][:, :, :T]), r"expected s_range >= 1 for the modified/constrained lattice .*got s_range=0"),
    ("s_range_too_wide", _set(s_range=S + 2), r"expected s_range <= S\+1 = 4 .*got s_range=5"),
]

_DO_PRUNING_CASES = [
    ("lm_device", _to_other("lm"), rf"lm is on {OTHER}.* but am is on cpu"),
    ("ranges_device", _to_other("ranges"), rf"ranges is on {OTHER}.* but the other inputs are on cpu"),
    ("am_2d", _set(am=lambda kw: kw["am"][0]), r"expected am of shape \(B, T, D_am\), got a 2-D tensor"),
    ("lm_2d", _set(lm=lambda kw: kw["lm"][0]), r"expected lm of shape \(B, S\+1, D_lm\), got a 2-D tensor"),
    ("ranges_2d", _set(ranges=lambda kw: kw["ranges"][0]), r"expected ranges of shape \(B, T, s_range\), got a 2-D tensor"),
    ("batch", _set(lm=lambda kw: kw["lm"][:1]), r"batch size mismatch: am.size\(0\)=2 but lm.size\(0\)=1"),
    ("am_int", _set(am=lambda kw: kw["am"].long(), lm=lambda kw: kw["lm"].long()), r"expected am to be float32, float64, float16 or bfloat16, got Long"),
    ("dtype_mismatch", _set(lm=lambda kw: kw["lm"].double()), r"am is Float but lm is Double"),
    ("ranges_int32", _set(ranges=lambda kw: kw["ranges"].int()), r"expected ranges to be int64, got Int"),
    ("ranges_frames", _set(ranges=lambda kw: kw["ranges"][:, :5]), r"expected ranges of shape \(B, T, s_range\) = \(2, 6, 2\), got \[2, 5, 2\]"),
    ("ranges_beyond_S", _set(ranges=lambda kw: kw["ranges"] + 2), r"ranges\[0, 2\] = \(3, 4\) is invalid.*within \[0, S=3\]"),
    ("s_range_0", _set(ranges=lambda kw: kw["ranges"][:, :, :0]), r"expected s_range >= 1, got ranges of shape \[2, 6, 0\]"),
]

_ARC_CASES = _KERNEL_DEVICE_CASES["arc"] + [
    ("logits_3d", _set(logits=lambda kw: kw["logits"][0]), r"expected logits of shape \(B, T, K, C\), got a 3-D tensor"),
    ("logits_int", _set(logits=lambda kw: kw["logits"].long()), r"expected logits to be float32, float64, float16 or bfloat16, got Long"),
    ("symbols_int32", _set(symbols=lambda kw: kw["symbols"].int()), r"expected symbols to be int64, got Int"),
    ("symbols_shape", _set(symbols=lambda kw: kw["symbols"][:, :, :2]), r"expected symbols of shape \(B, T, K\) = \[2, 6, 4\]"),
    ("symbol_too_large", _set(symbols=lambda kw: kw["symbols"].index_fill(2, torch.tensor([3]), C)), r"expected every symbol in \[0, C\) = \[0, 5\), got symbols\[0, 0, 3\] = 5"),
    ("symbol_negative", _set(symbols=lambda kw: kw["symbols"].index_fill(2, torch.tensor([0]), -3)), r"got symbols\[0, 0, 0\] = -3"),
    ("termination_too_large", _set(termination_symbol=C), r"expected termination_symbol in \[0, C\) = \[0, 5\), got 5"),
    ("hat_termination", _set(use_hat_loss=True, termination_symbol=2), r"use_hat_loss=True expects termination_symbol == 0"),
    ("no_classes", _set(logits=lambda kw: kw["logits"][..., :0], symbols=torch.zeros(B, T, S + 1, dtype=torch.long)), r"expected logits with at least one class"),
]

_MI_CASES = _KERNEL_DEVICE_CASES["mi"] + [
    ("px_2d", _set(px=lambda kw: kw["px"][0]), r"expected px of shape \(B, S, T\+1\) or \(B, S, T\), got a 2-D tensor"),
    ("py_4d", _set(py=lambda kw: kw["py"][None]), r"expected py of shape \(B, S\+1, T\), got a 4-D tensor"),
    ("px_int", _set(px=lambda kw: kw["px"].long(), py=lambda kw: kw["py"].long()), r"expected px to be float32, float64, float16 or bfloat16, got Long"),
    ("dtype_mismatch", _set(py=lambda kw: kw["py"].double()), r"px is Float but py is Double"),
    ("batch", _set(py=lambda kw: kw["py"][:1]), r"batch size mismatch: px.size\(0\)=2 but py.size\(0\)=1"),
    ("py_rows", _set(py=lambda kw: kw["py"][:, :3]), r"expected py.size\(1\) == px.size\(1\) \+ 1 = 4"),
    ("px_frames", _set(px=lambda kw: torch.randn(B, S, T + 2)), r"expected px.size\(2\) to be T\+1=7 \(regular\) or T=6"),
    ("boundary_int32", _set(boundary=lambda kw: kw["boundary"].int()), r"expected boundary to be int64, got Int"),
    ("boundary_shape", _set(boundary=lambda kw: kw["boundary"].t()), r"expected boundary of shape \(B, 4\) = \(2, 4\), got \[4, 2\]"),
    ("boundary_s_end_gt_S", _bd([[0, 0, S + 1, T], [0, 0, 2, 5]]), r"boundary\[0\] = \(s_begin=0, t_begin=0, s_end=4, t_end=6\) is out of range: expected 0 <= s_begin <= s_end <= S=3 and 0 <= t_begin <= t_end <= T=6"),
    ("boundary_t_begin_gt_t_end", _bd([[0, 0, S, T], [0, 6, 2, 5]]), r"boundary\[1\] = \(s_begin=0, t_begin=6, s_end=2, t_end=5\) is out of range"),
]

_JOINT_MI_CASES = [
    ("part_device", _set(px=lambda kw: [kw["px"][0], kw["px"][1].to(OTHER)]), rf"expected every px\[n\] and py\[n\] on cpu, got px\[1\] on {OTHER}"),
    ("lengths", _set(py=lambda kw: kw["py"][:1]), r"expected px and py to be non-empty lists of equal length, got 2 and 1 tensors"),
    ("empty", _set(px=[], py=[]), r"expected px and py to be non-empty lists of equal length, got 0 and 0"),
    ("part_shapes", _set(px=lambda kw: [kw["px"][0], kw["px"][1][:, :2]]), r"expected every px\[n\] of shape \[2, 3, 7\]"),
    ("px_int", _set(px=lambda kw: [p.long() for p in kw["px"]], py=lambda kw: [p.long() for p in kw["py"]]), r"expected px to be float32, float64, float16 or bfloat16, got Long"),
    ("batch", _set(py=lambda kw: [p[:1] for p in kw["py"]]), r"batch size mismatch: px.size\(0\)=2 but py.size\(0\)=1"),
    ("boundary_values", _bd([[0, 0, S, T + 1], [0, 0, 2, 5]]), r"boundary\[0\] = .*t_end=7\) is out of range"),
]

FAMILIES = {
    # op -> (good arguments, cases)
    "get_rnnt_logprobs": (_lm_am, _LM_AM_CASES + _SYMBOL_CASES),
    "rnnt_loss_simple": (_lm_am, _LM_AM_CASES + _SYMBOL_CASES),
    "rnnt_loss_simple_with_grad": (_lm_am, _LM_AM_CASES + _SYMBOL_CASES),
    "get_rnnt_logprobs_smoothed": (_lm_am, _LM_AM_CASES + _SYMBOL_CASES),
    "rnnt_loss_smoothed": (_lm_am, _LM_AM_CASES + _SYMBOL_CASES),
    "rnnt_loss_smoothed_with_grad": (_lm_am, _LM_AM_CASES + _SYMBOL_CASES),
    "get_rnnt_logprobs_joint": (_joint, _JOINT_CASES + _SYMBOL_CASES),
    "rnnt_loss": (_joint, _JOINT_CASES + _SYMBOL_CASES),
    "get_rnnt_logprobs_pruned": (_pruned, _PRUNED_CASES),
    "rnnt_loss_pruned": (_pruned, _PRUNED_CASES),
    "get_rnnt_prune_ranges": (_prune_ranges, _PRUNE_RANGES_CASES),
    "do_rnnt_pruning": (_do_pruning, _DO_PRUNING_CASES),
    "arc_logprobs": (_arc, _ARC_CASES),
    "mutual_information": (_mi, _MI_CASES),
    "mutual_information_with_grad": (_mi, _MI_CASES),
    "joint_mutual_information": (_joint_mi, _JOINT_MI_CASES),
}


def _arg_names(op: str) -> set:
    return {a.name for a in getattr(OPS, op).default._schema.arguments}


def cases():
    """[(id, op, build() -> kwargs, fragment)]: every case whose arguments the op takes."""
    out = []
    for op, (good, table) in FAMILIES.items():
        names = _arg_names(op)
        for name, mutate, fragment in table:
            if not mutate.keys <= names:
                continue
            def build(good=good, mutate=mutate):
                return mutate(good())

            out.append((f"{op}-{name}", op, build, f"{op}: .*{fragment}"))
    return out


CASES = cases()


def run_case(op: str, build):
    """The message of the RuntimeError the call raises, or None when it returns."""
    kwargs = {k: v for k, v in build().items() if k in _arg_names(op)}
    try:
        getattr(OPS, op)(**kwargs)
    except RuntimeError as e:
        return str(e).splitlines()[0]
    return None


_CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, %r)
    import test_validation as v
    for case_id, op, build, _ in v.CASES[int(sys.argv[1]):]:
        try:
            result = {"id": case_id, "message": v.run_case(op, build)}
        except Exception as e:  # a different exception type: reported, not a crash
            result = {"id": case_id, "message": None, "other": f"{type(e).__name__}: {e}"}
        print(json.dumps(result), flush=True)
    """
    % os.path.dirname(os.path.abspath(__file__))
)


@pytest.fixture(scope="module")
def child_results():
    """Every case run in child processes: id -> {"message": ...} or {"crash": ...}."""
    results, start = {}, 0
    while start < len(CASES):
        try:
            out = subprocess.run([sys.executable, "-c", _CHILD, str(start)], capture_output=True, text=True, timeout=240)
            stdout, tail, rc = out.stdout, out.stderr[-2000:], out.returncode
        except subprocess.TimeoutExpired as e:
            stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            tail, rc = "timed out (hang)", "timeout"
        for line in stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                results[r["id"]] = r
        done = start
        while done < len(CASES) and CASES[done][0] in results:
            done += 1
        if done < len(CASES):  # the child died (or hung) on case `done`
            results[CASES[done][0]] = {"crash": f"exit status {rc}: {tail}"}
            done += 1
        start = done
    return results


@pytest.mark.parametrize("case_id,op,build,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises(child_results, case_id, op, build, fragment):
    child = child_results[case_id]
    assert "crash" not in child, f"{case_id} crashed the process: {child['crash']}"
    assert child.get("other") is None, f"{case_id} raised {child['other']}"
    assert child["message"] is not None, f"{case_id}: no error"
    assert re.search(fragment, child["message"]), child["message"]
    with pytest.raises(RuntimeError, match=fragment):
        getattr(OPS, op)(**{k: v for k, v in build().items() if k in _arg_names(op)})


# The duration-lattice family's bad inputs are tested beside its losses (in-process), and the
# fused lm/am op's beside it.
VALIDATED_IN_OWN_FILE = {
    "tdt_loss": "test_tdt_loss.py::test_bad_inputs, test_bad_durations",
    "duration_lattice": "test_tdt_loss.py::test_bad_inputs",
    "duration_arc_logprobs": "test_tdt_loss.py::test_bad_inputs (through tdt_loss)",
    "multiblank_rnnt_loss": "test_multiblank_loss.py::test_bad_inputs",
    "smoothed_arc_logprobs": "test_smoothed_arc_logprobs.py::test_bad_inputs",
}


def test_every_public_op_is_covered():
    public = {n for n in dir(OPS) if not n.startswith("_") and isinstance(getattr(OPS, n), torch._ops.OpOverloadPacket)}
    covered = set(FAMILIES) | set(VALIDATED_IN_OWN_FILE)
    assert public <= covered, public - covered


def test_good_inputs_pass():
    for op, (good, _) in FAMILIES.items():
        kwargs = {k: v for k, v in good().items() if k in _arg_names(op)}
        getattr(OPS, op)(**kwargs)
