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
    return px.new_empty(px.size(0)), torch.empty_like(px), torch.empty_like(py)
