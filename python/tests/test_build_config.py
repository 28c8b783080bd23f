"""The build's decisions without a GPU or a toolkit: the CUDA auto rule and the default
TORCH_CUDA_ARCH_LIST (tools/cuda_config.py, used by setup.py), and the import-time check that the
library meets the torch it was built for (fast_rnnt._library.torch_mismatch)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from cuda_config import Toolkit, cuda_build_decision, default_cuda_arch_list  # noqa: E402

from fast_rnnt._library import torch_mismatch  # noqa: E402

NVCC13 = ("7.5", "8.0", "8.6", "8.7", "8.9", "9.0", "10.0", "12.0")
TORCH_CU130 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
TORCH_CU121 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]


# ---------------------------------------------------------------------- default TORCH_CUDA_ARCH_LIST
def test_arch_list_is_the_visible_gpu():
    assert default_cuda_arch_list([(8, 6)], TORCH_CU130, NVCC13) == "8.6"


def test_arch_list_of_several_visible_gpus_is_each_once_in_order():
    assert default_cuda_arch_list([(9, 0), (8, 0), (9, 0)], TORCH_CU130, NVCC13) == "8.0;9.0"


def test_arch_list_without_gpu_is_torchs_with_ptx_for_the_newest():
    assert default_cuda_arch_list([], TORCH_CU130, NVCC13) == "7.5;8.0;8.6;9.0;10.0;12.0+PTX"


def test_arch_list_drops_what_nvcc_cannot_compile():
    # CUDA 13's nvcc no longer compiles sm_50..sm_70, which a CUDA 12 torch lists.
    assert default_cuda_arch_list([], TORCH_CU121, NVCC13) == "7.5;8.0;8.6;9.0+PTX"


def test_arch_list_variants_and_ptx_entries_name_their_architecture():
    assert default_cuda_arch_list([], ["sm_90a", "sm_100f", "compute_120"], ()) == "9.0;10.0;12.0+PTX"


def test_arch_list_ignores_a_visible_gpu_nvcc_cannot_compile():
    assert default_cuda_arch_list([(6, 1)], TORCH_CU130, NVCC13) == "7.5;8.0;8.6;9.0;10.0;12.0+PTX"


def test_arch_list_without_any_information_is_left_to_torch():
    assert default_cuda_arch_list([], [], NVCC13) is None


# ---------------------------------------------------------------------- the CUDA auto rule
CU13 = Toolkit(home="/usr/local/cuda-13.0", version="13.0", architectures=NVCC13)


def test_cuda_when_torch_and_toolkit_agree():
    decision = cuda_build_decision(None, "2.14.1+cu130", "13.0", CU13)
    assert decision.with_cuda and "nvcc 13.0" in decision.reason


def test_minor_version_difference_still_builds_cuda():
    assert cuda_build_decision(None, "2.14.1+cu130", "13.1", CU13).with_cuda


def test_major_mismatch_falls_back_with_the_reason_and_the_fix():
    decision = cuda_build_decision(None, "2.4.1+cu121", "12.1", CU13)
    assert not decision.with_cuda
    assert "torch 2.4.1+cu121 was built with CUDA 12.1, nvcc here is 13.0" in decision.reason
    assert "install a CUDA 12.x toolkit and set CUDA_HOME or CUDACXX" in decision.reason


def test_missing_toolkit_falls_back_with_the_reason():
    decision = cuda_build_decision(None, "2.14.1+cu130", "13.0", None)
    assert not decision.with_cuda and "no CUDA toolkit was found" in decision.reason


def test_missing_library_falls_back_naming_it():
    partial = Toolkit(home="/opt/cuda", version="13.0", missing=("cublas_v2.h", "libnvrtc"))
    decision = cuda_build_decision(None, "2.14.1+cu130", "13.0", partial)
    assert not decision.with_cuda and "lacks cublas_v2.h, libnvrtc" in decision.reason


def test_cpu_torch_builds_cpu_only():
    decision = cuda_build_decision(None, "2.13.0+cpu", None, CU13)
    assert not decision.with_cuda and "CPU-only build of torch" in decision.reason


@pytest.mark.parametrize("torch_cuda", [None, "13.0"])
def test_forced_off_is_cpu_only_whatever_torch(torch_cuda):
    assert not cuda_build_decision(False, "2.14.1", torch_cuda, CU13).with_cuda


def test_forced_on_uses_the_same_rule():
    # setup.py turns a negative decision under FAST_RNNT_WITH_CUDA=1 into an early error.
    assert not cuda_build_decision(True, "2.4.1+cu121", "12.1", CU13).with_cuda
    assert cuda_build_decision(True, "2.14.1+cu130", "13.0", CU13).with_cuda


# ---------------------------------------------------------------------- the torch check at import
def test_same_torch_release_loads_whatever_its_build():
    assert torch_mismatch("2.13.0+cpu", None, "2.13.0+cpu", None) is None
    assert torch_mismatch("2.14.1+cu130", None, "2.14.1", "13.0") is None  # CPU-only library
    assert torch_mismatch("2.14.1+cu130", "13.0", "2.14.1", "13.0") is None


def test_other_torch_release_is_refused_naming_both():
    assert torch_mismatch("2.14.1", None, "2.13.0+cpu", None) == (
        "fast_rnnt was built for torch 2.14.1, found torch 2.13.0+cpu")


def test_cuda_kernels_need_torch_of_the_same_cuda():
    assert "found torch 2.14.1+cpu (CPU-only)" in torch_mismatch("2.14.1", "13.0", "2.14.1+cpu", None)
    assert "(CUDA 12.8)" in torch_mismatch("2.14.1", "13.0", "2.14.1+cu128", "12.8")


def test_the_loaded_library_was_built_for_this_torch():
    import torch

    from fast_rnnt import _build_info

    assert torch_mismatch(_build_info.TORCH_VERSION, _build_info.CUDA_VERSION,
                          torch.__version__, torch.version.cuda) is None


# ---------------------------------------------------------------------- older torch degrades cleanly
def test_onnx_module_names_the_torch_feature_it_needs():
    """fast_rnnt.onnx needs torch.onnx.export(custom_translation_table=): on a torch without it
    (2.4) the import fails naming that feature, and test_onnx.py skips with that message."""
    import importlib
    import inspect

    import torch

    if "custom_translation_table" in inspect.signature(torch.onnx.export).parameters:
        pytest.importorskip("onnxscript")
        assert callable(importlib.import_module("fast_rnnt.onnx").custom_translation_table)
    else:
        with pytest.raises(ImportError, match=r"needs torch.onnx.export\(\.\.\., custom_translation_table"):
            importlib.import_module("fast_rnnt.onnx")
