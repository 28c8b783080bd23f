"""Builds libfast_rnnt with CMake and installs it, its headers and its CMake package config
inside the Python package (fast_rnnt/lib, fast_rnnt/include, fast_rnnt/share/cmake).

    pip install --no-build-isolation .        # or -e . for a source checkout
    pip wheel --no-build-isolation --no-deps .

The library is built against the installed torch (torch>=2.4; tested 2.4.1, 2.13.0 and 2.14.1), so torch
must be installed first and the build must see it (--no-build-isolation). The version and the
requirement pin that torch: 0.1.0+torch2.14.1.cu130 requires torch==2.14.1, and importing the
package under another torch raises ImportError.

Environment:
    FAST_RNNT_WITH_CUDA=0/1   force the CUDA kernels off/on. Unset: on when torch has CUDA and the
                              local toolkit can build against it (same CUDA major version, the
                              headers and nvrtc found), else off with one line saying why; =1
                              fails early with that reason. See tools/cuda_config.py.
    TORCH_CUDA_ARCH_LIST      CUDA architectures. Unset: the visible GPUs' architectures, else
                              the ones torch was built for with PTX for the newest.
    CUDA_HOME, CUDACXX        the CUDA toolkit (prefix, or its nvcc); else nvcc on PATH, /usr/local/cuda
    FAST_RNNT_BUILD_TESTS=1   also build cpp_tests/ (into FAST_RNNT_BUILD_DIR, default ./build)
    FAST_RNNT_BUILD_DIR       the CMake build tree (kept between builds; reconfigured from scratch
                              when torch or the CUDA decision changed)
    FAST_RNNT_CMAKE_ARGS      extra arguments for the CMake configure step
    MAX_JOBS                  parallel compile jobs
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))
from cuda_config import REQUIRED_CUDA_HEADERS, Toolkit, cuda_build_decision, default_cuda_arch_list  # noqa: E402

VERSION = "0.1.0"

try:
    import torch
except ImportError:
    sys.exit("fast_rnnt is built against the installed torch: install torch first (pip install "
             "torch), then build with `pip install --no-build-isolation .` (build isolation hides torch)")
# The oldest torch with what the package uses: torch.library.register_fake and opcheck (the fake
# kernels and their tests), torch::Library::set_python_module, and c10::optional being
# std::optional in the dispatcher's typed signatures, all from torch 2.4. (The schemas' str
# arguments are c10::string_view, its own class before torch 2.6: rnnt::schema_str converts.)
if tuple(int(v) for v in re.findall(r"\d+", torch.__version__)[:2]) < (2, 4):
    sys.exit(f"fast_rnnt needs torch>=2.4 (torch.library.register_fake, Library::set_python_module, "
             f"std::optional in op signatures); found torch {torch.__version__}")


def _flag(name: str):
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.lower() in ("1", "on", "true", "yes")


def _is_toolkit(prefix: Path) -> bool:
    return (prefix / "bin" / "nvcc").is_file() and (prefix / "include" / "cuda_runtime.h").is_file()


def _cuda_home():
    """The CUDA toolkit's real prefix (the nvcc on PATH may be a wrapper script)."""
    candidates = []
    if os.environ.get("CUDACXX"):
        candidates.append(Path(os.environ["CUDACXX"]).resolve().parent.parent)
    candidates += [Path(p) for p in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")) if p]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(Path(nvcc).resolve().parent.parent)
    candidates.append(Path("/usr/local/cuda"))
    return next((c for c in candidates if _is_toolkit(c)), None)


def _torch_nvidia_dirs():
    """The nvidia-* pip packages beside torch (nvidia/cu13/ for CUDA 13 wheels, nvidia/cublas/,
    nvidia/cuda_nvrtc/, ... for CUDA 12 ones): headers and libraries that torch's CMake config asks
    for and a bare toolkit may lack."""
    site = Path(torch.__file__).resolve().parent.parent
    dirs = [d for d in sorted((site / "nvidia").glob("*")) if (d / "include").is_dir()]
    toolkit_like = [d for d in dirs if re.fullmatch(r"cu\d+", d.name)]
    return toolkit_like or dirs


def _nvrtc_libraries(cuda_home: Path):
    dirs = [cuda_home / "lib64", cuda_home / "lib"] + [d / "lib" for d in _torch_nvidia_dirs()]
    return [p for d in dirs for p in sorted(d.glob("libnvrtc.so*")) if "builtins" not in p.name]


def _find_toolkit():
    cuda_home = _cuda_home()
    if cuda_home is None:
        return None
    nvcc = str(cuda_home / "bin" / "nvcc")
    release = re.search(r"release (\d+\.\d+)", subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout)
    listed = subprocess.run([nvcc, "--list-gpu-arch"], capture_output=True, text=True).stdout.split()
    architectures = tuple(f"{a[8:-1]}.{a[-1]}" for a in listed if a.startswith("compute_"))
    include_dirs = [cuda_home / "include"] + [d / "include" for d in _torch_nvidia_dirs()]
    missing = [h for h in REQUIRED_CUDA_HEADERS if not any((d / h).is_file() for d in include_dirs)]
    if not _nvrtc_libraries(cuda_home):
        missing.append("libnvrtc")
    return Toolkit(home=str(cuda_home), version=release.group(1) if release else "unknown",
                   architectures=architectures, missing=tuple(missing))


def _visible_gpus():
    try:
        return [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    except (RuntimeError, AssertionError):
        return []


def _torch_arch_list():
    # torch.cuda.get_arch_list() is empty without a GPU in older torch; the flags it reads are not.
    flags = getattr(torch._C, "_cuda_getArchFlags", lambda: None)()
    return flags.split() if flags else []


def _configure():
    """(decision, toolkit, arch list): printed once, used for the version and the CMake arguments."""
    toolkit = _find_toolkit() if torch.version.cuda is not None else None
    want = _flag("FAST_RNNT_WITH_CUDA")
    decision = cuda_build_decision(want, torch.__version__, torch.version.cuda, toolkit)
    if want and not decision.with_cuda:
        sys.exit(f"fast_rnnt: FAST_RNNT_WITH_CUDA=1 but {decision.reason}")
    arch_list = None
    if decision.with_cuda:
        arch_list = os.environ.get("TORCH_CUDA_ARCH_LIST") or default_cuda_arch_list(
            _visible_gpus(), _torch_arch_list(), toolkit.architectures)
    print(f"fast_rnnt: {decision.reason}" + (f"; TORCH_CUDA_ARCH_LIST={arch_list}" if arch_list else ""),
          file=sys.stderr)
    return decision, toolkit, arch_list


DECISION, TOOLKIT, ARCH_LIST = _configure()
TORCH_PUBLIC_VERSION = torch.__version__.split("+")[0]
CUDA_TAG = "cu" + torch.version.cuda.replace(".", "") if DECISION.with_cuda else "cpu"


def _cuda_cmake_args():
    """CMake arguments: whether to build the CUDA kernels, and the hints that let torch's CMake
    config find the CUDA toolkit and the libraries it asks for."""
    if not DECISION.with_cuda:
        return ["-DFAST_RNNT_WITH_CUDA=OFF"]
    cuda_home = Path(TOOLKIT.home)
    args = [
        "-DFAST_RNNT_WITH_CUDA=ON",
        f"-DCMAKE_CUDA_COMPILER={cuda_home / 'bin' / 'nvcc'}",
        f"-DCUDAToolkit_ROOT={cuda_home}",
        f"-DCUDA_TOOLKIT_ROOT_DIR={cuda_home}",
    ]
    extra = _torch_nvidia_dirs()
    if extra:
        inc = ";".join(str(d / "include") for d in extra)
        lib = ";".join(str(d / "lib") for d in extra)
        args += [f"-DCMAKE_CUDA_FLAGS=-I{' -I'.join(str(d / 'include') for d in extra)}",
                 f"-DCMAKE_INCLUDE_PATH={inc}", f"-DCMAKE_LIBRARY_PATH={lib}"]
        # The pip packages ship only versioned names (libnvrtc.so.13), which find_library does not try.
        if not (cuda_home / "lib64" / "libnvrtc.so").exists():
            args.append(f"-DCUDA_nvrtc_LIBRARY={_nvrtc_libraries(cuda_home)[0]}")
    return args


def _fresh_build_tree(build_dir: Path):
    """A build tree configured for another torch (or another CUDA decision) is configured again
    from scratch: CMake's cache would keep the old torch's paths and flags."""
    stamp = build_dir / "fast_rnnt-configured-for.txt"
    now = f"torch {torch.__version__} at {torch.__file__}; cuda {DECISION.with_cuda}\n"
    if stamp.is_file() and stamp.read_text() != now:
        print(f"fast_rnnt: {build_dir} was configured for {stamp.read_text().strip()}: reconfiguring",
              file=sys.stderr)
        (build_dir / "CMakeCache.txt").unlink(missing_ok=True)
        shutil.rmtree(build_dir / "CMakeFiles", ignore_errors=True)
    stamp.write_text(now)


def _write_build_info(package_dir: Path):
    """fast_rnnt/_build_info.py: the torch this library was built for, checked at import."""
    cuda = repr(torch.version.cuda) if DECISION.with_cuda else "None"
    (package_dir / "_build_info.py").write_text(
        '"""Written by setup.py: the torch that fast_rnnt/lib was built against."""\n\n'
        f"TORCH_VERSION = {torch.__version__!r}\n"
        f"CUDA_VERSION = {cuda}  # torch's CUDA version, when the CUDA kernels were compiled\n"
        f"CUDA_DECISION = {DECISION.reason!r}\n")


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = Path(os.environ.get("FAST_RNNT_BUILD_DIR", ROOT / "build")).resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        _fresh_build_tree(build_dir)
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
        args += _cuda_cmake_args()
        args += shlex.split(os.environ.get("FAST_RNNT_CMAKE_ARGS", ""))
        env = dict(os.environ, **({"TORCH_CUDA_ARCH_LIST": ARCH_LIST} if ARCH_LIST else {}))
        subprocess.check_call(cmake + args, env=env)
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(cmake + ["--build", str(build_dir), "--parallel", jobs])
        for package_dir in package_dirs:
            subprocess.check_call(cmake + ["--install", str(build_dir), "--prefix", str(package_dir)])
            _write_build_info(package_dir)

    def get_ext_filename(self, fullname):
        # The one "extension", fast_rnnt/lib/libfast_rnnt.so, is the CMake-built library, not a
        # Python module: no ABI suffix.
        return os.path.join("fast_rnnt", "lib", "libfast_rnnt.so")


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


setup(
    name="fast_rnnt",
    version=f"{VERSION}+torch{TORCH_PUBLIC_VERSION}.{CUDA_TAG}",
    description="Fast, lean transducer (RNN-T) losses as PyTorch custom ops for Python, TorchScript and C++",
    package_dir={"": "python"},
    packages=find_packages("python", exclude=["tests", "tests.*"]),
    package_data={"fast_rnnt.benchmark": ["*.cpp"]},
    ext_modules=[Extension("fast_rnnt.lib.libfast_rnnt", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=[f"torch=={TORCH_PUBLIC_VERSION}"],  # the torch it was built against
    zip_safe=False,
)
