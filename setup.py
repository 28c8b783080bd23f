"""Builds libfast_rnnt with CMake and installs it, its headers and its CMake package config
inside the Python package (fast_rnnt/lib, fast_rnnt/include, fast_rnnt/share/cmake).

    pip install --no-build-isolation .        # or -e . for a source checkout

Environment:
    FAST_RNNT_WITH_CUDA=0/1   force the CUDA kernels off/on (default: on when torch has CUDA
                              and a CUDA toolkit is found)
    FAST_RNNT_BUILD_TESTS=1   also build cpp_tests/ (into FAST_RNNT_BUILD_DIR, default ./build)
    FAST_RNNT_BUILD_DIR       the CMake build tree (kept between builds)
    FAST_RNNT_CMAKE_ARGS      extra arguments for the CMake configure step
    TORCH_CUDA_ARCH_LIST      CUDA architectures (default when unset: 9.0)
    MAX_JOBS                  parallel compile jobs
"""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
VERSION = "0.1.0"


def _flag(name: str):
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.lower() in ("1", "on", "true", "yes")


def _cuda_home():
    """The CUDA toolkit's real prefix (the nvcc on PATH may be a wrapper script)."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parent.parent))
    for c in candidates:
        if c and (Path(c) / "bin" / "nvcc").is_file() and (Path(c) / "include" / "cuda_runtime.h").is_file():
            return Path(c)
    return None


def _cuda_cmake_args(torch):
    """CMake arguments: whether to build the CUDA kernels, and the hints that let torch's CMake
    config find the CUDA toolkit (a CUDA build of torch needs them even for CPU-only kernels)."""
    want = _flag("FAST_RNNT_WITH_CUDA")
    cuda_home = _cuda_home() if torch.version.cuda is not None else None
    if cuda_home is None:
        if want:
            raise RuntimeError("FAST_RNNT_WITH_CUDA=1 but torch has no CUDA or no CUDA toolkit was found")
        return ["-DFAST_RNNT_WITH_CUDA=OFF"]
    args = [
        f"-DFAST_RNNT_WITH_CUDA={'OFF' if want is False else 'ON'}",
        f"-DCMAKE_CUDA_COMPILER={cuda_home / 'bin' / 'nvcc'}",
        f"-DCUDAToolkit_ROOT={cuda_home}",
        f"-DCUDA_TOOLKIT_ROOT_DIR={cuda_home}",
    ]
    # The pip packages that a CUDA torch wheel depends on carry the headers and libraries
    # (cusparse, nvrtc, ...) that torch's CMake config asks for and a bare toolkit may lack.
    site = Path(torch.__file__).resolve().parent.parent
    extra = [d for d in sorted((site / "nvidia").glob("cu[0-9]*")) if (d / "include").is_dir()]
    if extra:
        inc = ";".join(str(d / "include") for d in extra)
        lib = ";".join(str(d / "lib") for d in extra)
        args += [f"-DCMAKE_CUDA_FLAGS=-I{' -I'.join(str(d / 'include') for d in extra)}",
                 f"-DCMAKE_INCLUDE_PATH={inc}", f"-DCMAKE_LIBRARY_PATH={lib}"]
        # Those ship only versioned names (libnvrtc.so.13), which find_library does not try.
        nvrtc = sorted(p for d in extra for p in (d / "lib").glob("libnvrtc.so*") if "builtins" not in p.name)
        if nvrtc and not (cuda_home / "lib64" / "libnvrtc.so").exists():
            args.append(f"-DCUDA_nvrtc_LIBRARY={nvrtc[0]}")
    return args


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        import torch

        build_dir = Path(os.environ.get("FAST_RNNT_BUILD_DIR", ROOT / "build")).resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        # The package directories that receive lib/, include/ and share/: the wheel's, and for
        # editable installs the source tree's too.
        package_dirs = [Path(self.build_lib).resolve() / "fast_rnnt"]
        if self.inplace or getattr(self, "editable_mode", False):
            package_dirs.append(ROOT / "python" / "fast_rnnt")
        cmake = [sys.executable, "-m", "cmake"] if _has_module("cmake") else ["cmake"]
        args = [
            f"-S{ROOT}",
            f"-B{build_dir}",
            "-GNinja",
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            f"-DPython_EXECUTABLE={sys.executable}",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DFAST_RNNT_BUILD_TESTS={'ON' if _flag('FAST_RNNT_BUILD_TESTS') else 'OFF'}",
        ]
        if shutil.which("ninja") is None and _has_module("ninja"):
            import ninja

            args.append(f"-DCMAKE_MAKE_PROGRAM={Path(ninja.BIN_DIR) / 'ninja'}")
        args += _cuda_cmake_args(torch)
        args += shlex.split(os.environ.get("FAST_RNNT_CMAKE_ARGS", ""))
        subprocess.check_call(cmake + args)
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(cmake + ["--build", str(build_dir), "--parallel", jobs])
        for package_dir in package_dirs:
            subprocess.check_call(cmake + ["--install", str(build_dir), "--prefix", str(package_dir)])

    def get_ext_filename(self, fullname):
        # The one "extension", fast_rnnt/lib/libfast_rnnt.so, is the CMake-built library, not a
        # Python module: no ABI suffix.
        return os.path.join("fast_rnnt", "lib", "libfast_rnnt.so")


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


setup(
    name="fast_rnnt",
    version=VERSION,
    description="Fast, lean transducer (RNN-T) losses as PyTorch custom ops for Python, TorchScript and C++",
    package_dir={"": "python"},
    packages=find_packages("python", exclude=["tests", "tests.*"]),
    package_data={"fast_rnnt.benchmark": ["*.cpp"]},
    ext_modules=[Extension("fast_rnnt.lib.libfast_rnnt", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["torch>=2.4"],
    zip_safe=False,
)
