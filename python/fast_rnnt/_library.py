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

with_cuda: bool = torch._C._dispatch_has_kernel_for_dispatch_key("fast_rnnt::mutual_information", "CUDA")
"""Whether the CUDA kernels were compiled into the library."""

cmake_prefix_path: str = str(_PACKAGE_DIR / "share" / "cmake")
"""Add to CMAKE_PREFIX_PATH so that ``find_package(fast_rnnt)`` finds the installed package."""
