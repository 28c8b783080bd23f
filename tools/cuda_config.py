"""Build decisions for the CUDA kernels, as pure functions of what setup.py found on the machine
(so that python/tests/test_cuda_config.py tests them without a GPU or a toolkit):

- cuda_build_decision: compile the CUDA kernels or not, and why (the auto rule);
- default_cuda_arch_list: the TORCH_CUDA_ARCH_LIST to use when the user set none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Headers that torch's CUDA headers (ATen/cuda/CUDAContext.h) include, beyond the toolkit's core.
REQUIRED_CUDA_HEADERS = ("cuda_runtime.h", "cublas_v2.h", "cusparse.h", "cusolverDn.h")


@dataclass(frozen=True)
class Toolkit:
    """A CUDA toolkit found on the machine: its prefix, nvcc's version ("13.0"), the
    architectures nvcc can compile (["7.5", "8.0", ...]), and which of REQUIRED_CUDA_HEADERS and
    the nvrtc library were found (in the toolkit or in torch's pip-installed nvidia packages)."""

    home: str
    version: str
    architectures: tuple[str, ...] = ()
    missing: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Decision:
    with_cuda: bool
    reason: str  # one line: why, and (for a CPU-only fallback) how to get the CUDA kernels


def _major(version: str) -> str:
    return version.split(".")[0]


def cuda_build_decision(want: bool | None, torch_version: str, torch_cuda: str | None,
                        toolkit: Toolkit | None) -> Decision:
    """Whether to compile the CUDA kernels.

    want: FAST_RNNT_WITH_CUDA (True/False, None when unset). torch_cuda: torch.version.cuda.
    Unset: CUDA exactly when torch is a CUDA build and the toolkit can build against it (same
    CUDA major version, every required header and library found). True: the same conditions,
    but a failed one is an error (raised by the caller with the reason). False: CPU-only.
    """
    if want is False:
        return Decision(False, "FAST_RNNT_WITH_CUDA=0: CPU-only build")
    if torch_cuda is None:
        return Decision(False, f"torch {torch_version} is a CPU-only build of torch: CPU-only "
                        "build (install a CUDA build of torch for the CUDA kernels)")
    if toolkit is None:
        return Decision(False, f"torch {torch_version} was built with CUDA {torch_cuda}, but no "
                        "CUDA toolkit was found (no nvcc in CUDACXX, CUDA_HOME, PATH or "
                        f"/usr/local/cuda): install CUDA {torch_cuda} and set CUDA_HOME or CUDACXX")
    if _major(toolkit.version) != _major(torch_cuda):
        return Decision(False, f"torch {torch_version} was built with CUDA {torch_cuda}, nvcc here "
                        f"is {toolkit.version} ({toolkit.home}): install a CUDA "
                        f"{_major(torch_cuda)}.x toolkit and set CUDA_HOME or CUDACXX to it, or "
                        f"install a torch built for CUDA {_major(toolkit.version)}")
    if toolkit.missing:
        return Decision(False, f"the CUDA {toolkit.version} toolkit in {toolkit.home} lacks "
                        f"{', '.join(toolkit.missing)} (needed by torch's CUDA headers and CMake "
                        "config): install them (the full toolkit, or torch's nvidia-* pip packages)")
    return Decision(True, f"CUDA kernels for torch {torch_version} (CUDA {torch_cuda}) with nvcc "
                    f"{toolkit.version} ({toolkit.home})")


def _arch_of(entry: str) -> tuple[str, bool]:
    """'sm_86' -> ('8.6', False); 'compute_90' -> ('9.0', True); 'sm_100' -> ('10.0', False)."""
    kind, digits = entry.split("_", 1)
    digits = digits.rstrip("af")  # sm_90a / sm_100f: family-specific variants of the same arch
    return f"{digits[:-1]}.{digits[-1]}", kind == "compute"


def _key(arch: str) -> tuple[int, int]:
    major, minor = arch.split(".")
    return int(major), int(minor)


def default_cuda_arch_list(visible: list[tuple[int, int]], torch_arch_list: list[str],
                           nvcc_architectures: tuple[str, ...] = ()) -> str | None:
    """TORCH_CUDA_ARCH_LIST when the user set none.

    visible: the compute capabilities of the GPUs visible at build time ([(8, 6)]).
    torch_arch_list: what the installed torch was built for (["sm_80", "sm_90", ...]).
    nvcc_architectures: what the local nvcc can compile (["7.5", ...]; empty: unknown, no filter).

    The visible GPUs' architectures when there are any ("8.6"); otherwise torch's architectures
    that nvcc can compile, with PTX for the newest so that later GPUs JIT-compile it
    ("8.0;9.0;12.0+PTX"). None when neither says anything (torch's CMake config then decides).
    """
    supported = set(nvcc_architectures)

    def usable(arch: str) -> bool:
        return not supported or arch in supported

    if visible:
        archs = sorted({f"{major}.{minor}" for major, minor in visible}, key=_key)
        archs = [a for a in archs if usable(a)]
        if archs:
            return ";".join(archs)
    archs = sorted({_arch_of(e)[0] for e in torch_arch_list if usable(_arch_of(e)[0])}, key=_key)
    if not archs:
        return None
    return ";".join(archs[:-1] + [archs[-1] + "+PTX"])
