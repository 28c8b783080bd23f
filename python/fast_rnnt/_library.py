"""Loads libfast_rnnt, which registers the ``torch.ops.fast_rnnt`` operators."""

import warnings
from pathlib import Path

import torch

_PACKAGE_DIR = Path(__file__).resolve().parent


def torch_mismatch(built_torch: str, built_cuda, found_torch: str, found_cuda):
    """Why a library built for torch ``built_torch`` (CUDA kernels for ``built_cuda``, or None for a
    CPU-only library) cannot load under torch ``found_torch`` (``found_cuda``); None when it can.
    libtorch's C++ ABI changes between releases, so the release must match exactly; CUDA kernels
    also need torch's CUDA libraries of the same CUDA version."""
    if found_torch.split("+")[0] != built_torch.split("+")[0]:
        return f"fast_rnnt was built for torch {built_torch}, found torch {found_torch}"
    if built_cuda is not None and found_cuda != built_cuda:
        return (f"fast_rnnt was built with CUDA kernels for torch {built_torch} (CUDA {built_cuda}), "
                f"found torch {found_torch} ({'CPU-only' if found_cuda is None else 'CUDA ' + found_cuda})")
    return None


def _check_torch() -> None:
    try:
        from ._build_info import CUDA_VERSION, TORCH_VERSION
    except ImportError:
        return  # no build info: the library check below names the problem
    reason = torch_mismatch(TORCH_VERSION, CUDA_VERSION, torch.__version__, torch.version.cuda)
    if reason:
        raise ImportError(
            f"{reason} (at {torch.__file__}); reinstall fast_rnnt against this torch "
            "(pip install --no-build-isolation --force-reinstall --no-deps fast_rnnt from source, or "
            f"the fast_rnnt wheel built for it), or install torch=={TORCH_VERSION.split('+')[0]}"
        )


def _load() -> Path:
    _check_torch()
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

if not with_cuda and torch.cuda.is_available():
    from . import _build_info

    warnings.warn(f"fast_rnnt has no CUDA kernels, CUDA tensors will fail: {_build_info.CUDA_DECISION}",
                  stacklevel=2)

cmake_prefix_path: str = str(_PACKAGE_DIR / "share" / "cmake")
"""Add to CMAKE_PREFIX_PATH so that ``find_package(fast_rnnt)`` finds the installed package."""
