"""Loads libfast_rnnt, which registers the ``torch.ops.fast_rnnt`` operators."""

from pathlib import Path

import torch

_PACKAGE_DIR = Path(__file__).resolve().parent


def _load() -> Path:
    lib_dir = _PACKAGE_DIR / "lib"
    candidates = sorted(lib_dir.glob("libfast_rnnt*.so")) + sorted(lib_dir.glob("libfast_rnnt*.dylib"))
    if not candidates:
        raise ImportError(
            f"fast_rnnt: the compiled library was not found in {lib_dir}; build it with "
            "`pip install --no-build-isolation .` (or `make build` in a source checkout)"
        )
    torch.ops.load_library(str(candidates[0]))
    return candidates[0]


library_path: Path = _load()
"""The loaded shared library: C++ programs link the same file."""

class _WithCuda(int):
    """Whether the CUDA kernels were compiled into the library, usable both ways its peers
    spell it: as k2's bool (``if fast_rnnt.with_cuda:``, ``== True``, ``bool(...)``; it is an
    ``int`` of value 0 or 1 that prints as ``False`` / ``True``) and as fast_rnnt 1.3's
    function (``fast_rnnt.with_cuda()`` returns the ``bool``). Only ``is True`` differs."""

    def __call__(self) -> bool:
        return bool(self)

    def __repr__(self) -> str:
        return repr(bool(self))

    __str__ = __repr__


with_cuda = _WithCuda(torch._C._dispatch_has_kernel_for_dispatch_key("fast_rnnt::mutual_information", "CUDA"))
"""Whether the CUDA kernels were compiled into the library: ``if fast_rnnt.with_cuda:`` (k2) or
``fast_rnnt.with_cuda()`` (fast_rnnt 1.3)."""

cmake_prefix_path: str = str(_PACKAGE_DIR / "share" / "cmake")
"""Add to CMAKE_PREFIX_PATH so that ``find_package(fast_rnnt)`` finds the installed package."""
