"""Fake (meta) kernels: output shapes and dtypes of every op, for torch.compile and FakeTensor.

They mirror the shape relations of the C++ checks; value checks (boundary ranges, symbols)
happen in the real kernels.
"""

import torch


def _check_recursion_shapes(px: torch.Tensor, py: torch.Tensor, boundary) -> None:
    torch._check(px.dim() == 3, lambda: f"mutual_information: expected px of shape (B, S, T+1) or (B, S, T), got {px.dim()}-D")
    torch._check(py.dim() == 3, lambda: f"mutual_information: expected py of shape (B, S+1, T), got {py.dim()}-D")
    torch._check(px.size(0) == py.size(0), lambda: "mutual_information: batch size mismatch")
    torch._check(py.size(1) == px.size(1) + 1, lambda: "mutual_information: expected py.size(1) == px.size(1) + 1")
    torch._check(
        (px.size(2) == py.size(2) + 1) | (px.size(2) == py.size(2)),
        lambda: "mutual_information: expected px.size(2) to be T+1 or T",
    )
    if boundary is not None:
        torch._check(boundary.dim() == 2 and boundary.size(1) == 4, lambda: "mutual_information: expected boundary of shape (B, 4)")


@torch.library.register_fake("fast_rnnt::mutual_information")
def _(px, py, boundary=None):
    _check_recursion_shapes(px, py, boundary)
    return px.new_empty(px.size(0))


@torch.library.register_fake("fast_rnnt::mutual_information_with_grad")
def _(px, py, boundary=None):
    _check_recursion_shapes(px, py, boundary)
    return px.new_empty(px.size(0)), px.new_empty(px.shape), py.new_empty(py.shape)  # contiguous, as the kernels


def _check_arc_logprobs_shapes(logits: torch.Tensor, symbols: torch.Tensor, termination_symbol: int, use_hat_loss: bool) -> None:
    torch._check(logits.dim() == 4, lambda: f"arc_logprobs: expected logits of shape (B, T, K, C), got {logits.dim()}-D")
    torch._check(
        symbols.dim() == 3 and tuple(symbols.shape) == tuple(logits.shape[:3]),
        lambda: "arc_logprobs: expected symbols of shape (B, T, K) matching logits",
    )
    torch._check(symbols.dtype == torch.int64, lambda: f"arc_logprobs: expected symbols to be int64, got {symbols.dtype}")
    torch._check(
        0 <= termination_symbol < logits.size(3), lambda: "arc_logprobs: expected termination_symbol in [0, C)"
    )
    if use_hat_loss:
        torch._check(termination_symbol == 0, lambda: "arc_logprobs: use_hat_loss=True expects termination_symbol == 0")


def _arc_output_dtype(logits: torch.Tensor) -> torch.dtype:
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


@torch.library.register_fake("fast_rnnt::arc_logprobs")
def _(logits, symbols, termination_symbol, use_hat_loss=False):
    _check_arc_logprobs_shapes(logits, symbols, termination_symbol, use_hat_loss)
    shape, dtype = logits.shape[:3], _arc_output_dtype(logits)
    return logits.new_empty(shape, dtype=dtype), logits.new_empty(shape, dtype=dtype)


@torch.library.register_fake("fast_rnnt::_arc_logprobs_forward")
def _(logits, symbols, termination_symbol, use_hat_loss):
    _check_arc_logprobs_shapes(logits, symbols, termination_symbol, use_hat_loss)
    shape, dtype = logits.shape[:3], _arc_output_dtype(logits)
    return tuple(logits.new_empty(shape, dtype=dtype) for _ in range(3))


@torch.library.register_fake("fast_rnnt::_arc_logprobs_backward")
def _(logits, symbols, termination_symbol, use_hat_loss, normalizer, symbol_grad, blank_grad):
    _check_arc_logprobs_shapes(logits, symbols, termination_symbol, use_hat_loss)
    torch._check(normalizer.shape == logits.shape[:3], lambda: "_arc_logprobs_backward: expected normalizer of shape (B, T, K)")
    return logits.new_empty(logits.shape)


def _check_smoothed_arc_shapes(lm: torch.Tensor, am: torch.Tensor, symbols: torch.Tensor, termination_symbol: int) -> None:
    torch._check(lm.dim() == 3 and am.dim() == 3, lambda: "smoothed_arc_logprobs: expected lm (B, S+1, C) and am (B, T, C)")
    torch._check(lm.size(0) == am.size(0), lambda: "smoothed_arc_logprobs: batch size mismatch")
    torch._check(lm.size(2) == am.size(2), lambda: "smoothed_arc_logprobs: number of classes mismatch")
    torch._check(
        symbols.dim() == 2 and symbols.size(0) == lm.size(0) and symbols.size(1) == lm.size(1) - 1,
        lambda: "smoothed_arc_logprobs: expected symbols of shape (B, S)",
    )
    torch._check(0 <= termination_symbol < lm.size(2), lambda: "smoothed_arc_logprobs: expected termination_symbol in [0, C)")


@torch.library.register_fake("fast_rnnt::smoothed_arc_logprobs")
def _(lm, am, symbols, termination_symbol, lm_only_scale=0.0, am_only_scale=0.0):
    _check_smoothed_arc_shapes(lm, am, symbols, termination_symbol)
    B, S1, T = lm.size(0), lm.size(1), am.size(1)
    return lm.new_empty(B, S1 - 1, T), lm.new_empty(B, S1, T)


@torch.library.register_fake("fast_rnnt::_smoothed_arc_logprobs_forward")
def _(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale):
    _check_smoothed_arc_shapes(lm, am, symbols, termination_symbol)
    B, S1, T, C = lm.size(0), lm.size(1), am.size(1), lm.size(2)
    R, dtype = S1 + (1 if am_only_scale != 0.0 else 0), _arc_output_dtype(lm)
    return (lm.new_empty(B, S1 - 1, T), lm.new_empty(B, S1, T), lm.new_empty(B, R, C, dtype=dtype),
            lm.new_empty(B, T, C, dtype=dtype), lm.new_empty(B, R, T, dtype=dtype))


@torch.library.register_fake("fast_rnnt::_smoothed_arc_logprobs_backward")
def _(px_grad, py_grad, symbols, termination_symbol, lm_only_scale, am_only_scale, lm_rows, am_probs, sums):
    torch._check(px_grad.dim() == 3 and py_grad.dim() == 3 and am_probs.dim() == 3,
                 lambda: "_smoothed_arc_logprobs_backward: expected 3-D px_grad, py_grad and am_probs")
    B, S1, C = py_grad.size(0), py_grad.size(1), am_probs.size(2)
    return am_probs.new_empty(B, S1, C), am_probs.new_empty(am_probs.shape)


@torch.library.register_fake("fast_rnnt::_scale_grad")
def _(x, scale):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _check_duration_lattice_shapes(symbol_w, blank_w, symbol_durations, blank_durations) -> None:
    torch._check(symbol_w.dim() == 4, lambda: "duration_lattice: expected symbol_w of shape (B, T, S+1, Ns)")
    torch._check(blank_w.dim() == 4, lambda: "duration_lattice: expected blank_w of shape (B, T, S+1, Nb)")
    torch._check(symbol_w.shape[:3] == blank_w.shape[:3], lambda: "duration_lattice: symbol_w and blank_w differ in (B, T, S+1)")
    torch._check(symbol_w.size(3) == len(symbol_durations), lambda: "duration_lattice: one symbol duration per column of symbol_w")
    torch._check(blank_w.size(3) == len(blank_durations), lambda: "duration_lattice: one blank duration per column of blank_w")


@torch.library.register_fake("fast_rnnt::duration_lattice")
def _(symbol_w, blank_w, symbol_durations, blank_durations, boundary=None):
    _check_duration_lattice_shapes(symbol_w, blank_w, symbol_durations, blank_durations)
    return symbol_w.new_empty(symbol_w.size(0))


@torch.library.register_fake("fast_rnnt::_duration_lattice_backward")
def _(symbol_w, blank_w, symbol_durations, blank_durations, boundary, ans_grad):
    _check_duration_lattice_shapes(symbol_w, blank_w, symbol_durations, blank_durations)
    return symbol_w.new_empty(symbol_w.shape), blank_w.new_empty(blank_w.shape)


def _duration_arc_shapes(logits, symbols, blanks, num_durations):
    torch._check(logits.dim() == 4, lambda: "duration_arc_logprobs: expected logits of shape (B, T, K, C + D)")
    torch._check(tuple(symbols.shape) == tuple(logits.shape[:3]), lambda: "duration_arc_logprobs: expected symbols of shape (B, T, K)")
    torch._check(logits.size(3) > num_durations, lambda: "duration_arc_logprobs: expected logits.size(3) > num_durations")
    rows = tuple(logits.shape[:3])
    if num_durations > 0:
        return rows + (num_durations,), rows + (num_durations - 1,)
    return rows + (1,), rows + (len(blanks),)


@torch.library.register_fake("fast_rnnt::duration_arc_logprobs")
def _(logits, symbols, blanks, num_durations, sigma=0.0, fastemit_lambda=0.0):
    sym_shape, blank_shape = _duration_arc_shapes(logits, symbols, blanks, num_durations)
    dtype = _arc_output_dtype(logits)
    return logits.new_empty(sym_shape, dtype=dtype), logits.new_empty(blank_shape, dtype=dtype)


@torch.library.register_fake("fast_rnnt::_duration_arc_logprobs_forward")
def _(logits, symbols, blanks, num_durations, sigma):
    sym_shape, blank_shape = _duration_arc_shapes(logits, symbols, blanks, num_durations)
    dtype = _arc_output_dtype(logits)
    norm_shape = tuple(logits.shape[:3]) + (2,)
    return (logits.new_empty(sym_shape, dtype=dtype), logits.new_empty(blank_shape, dtype=dtype),
            logits.new_empty(norm_shape, dtype=dtype))


@torch.library.register_fake("fast_rnnt::_duration_arc_logprobs_backward")
def _(logits, symbols, blanks, num_durations, normalizer, symbol_grad, blank_grad, fastemit_lambda):
    _duration_arc_shapes(logits, symbols, blanks, num_durations)
    return logits.new_empty(logits.shape)
