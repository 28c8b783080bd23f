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


def _check_duration_lattice_shapes(symbol_w, blank_w, symbol_durations, blank_durations) -> None:
    torch._check(symbol_w.dim() == 4, lambda: "duration_lattice: expected symbol_w of shape (B, T, S+1, Ns)")
    torch._check(blank_w.dim() == 4, lambda: "duration_lattice: expected blank_w of shape (B, T, S+1, Nb)")
    torch._check(symbol_w.shape[:3] == blank_w.shape[:3], lambda: "duration_lattice: symbol_w and blank_w differ in (B, T, S+1)")
    torch._check(symbol_w.size(3) == len(symbol_durations), lambda: "duration_lattice: one symbol duration per column of symbol_w")
    torch._check(blank_w.size(3) == len(blank_durations), lambda: "duration_lattice: one blank duration per column of blank_w")


@torch.library.register_fake("fast_rnnt::duration_lattice")
def _(symbol_w, blank_w, symbol_durations, blank_durations, boundary=None, fastemit_lambda=0.0):
    _check_duration_lattice_shapes(symbol_w, blank_w, symbol_durations, blank_durations)
    return symbol_w.new_empty(symbol_w.size(0))


@torch.library.register_fake("fast_rnnt::_duration_lattice_backward")
def _(symbol_w, blank_w, symbol_durations, blank_durations, boundary, ans_grad, fastemit_lambda):
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
def _(logits, symbols, blanks, num_durations, sigma=0.0):
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
def _(logits, symbols, blanks, num_durations, normalizer, symbol_grad, blank_grad):
    _duration_arc_shapes(logits, symbols, blanks, num_durations)
    return logits.new_empty(logits.shape)


@torch.library.register_fake("fast_rnnt::_scale_grad")
def _(x, scale):
    return torch.empty_like(x, memory_format=torch.contiguous_format)
