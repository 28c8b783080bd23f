#!/usr/bin/env bash
# The wheel, tested as installed (`make test-wheel`; CI runs it):
#  1. a fresh venv with the small CPU torch (WHEEL_TORCH_SPEC, default torch==2.13.0) and the
#     build tools; the wheel is built there, from a copy of the working tree's files, against
#     that torch (pip wheel --no-build-isolation);
#  2. its name and metadata pin that torch; it is installed into the same venv;
#  3. from outside the source tree: the import resolves to the venv; pytest runs the suite's smoke
#     subset on a copy of python/tests (every op through opcheck forward and backward, gradcheck,
#     TorchScript save/load), against the installed package; cpp_tests/consumer is configured
#     with find_package(fast_rnnt) from the installed package, built and run;
#  4. the refusal: the same wheel in a venv that sees another torch (OTHER_TORCH_SITE, default the
#     site-packages of this checkout's .venv, torch 2.14.1 after `make test`) must fail to import
#     with the ImportError naming both torches.
# WHEEL_TEST_DIR (default: a new /tmp directory) holds everything; MAX_JOBS as for the build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WHEEL_TEST_DIR:-$(mktemp -d /tmp/fast_rnnt-wheel.XXXXXX)}
TORCH_SPEC=${WHEEL_TORCH_SPEC:-torch==2.13.0}
OTHER_TORCH_SITE=${OTHER_TORCH_SITE:-$ROOT/.venv/lib/python3.11/site-packages}
step() { echo "== test_wheel: $* ($(date -u +%T))"; }
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

step "fresh venv with $TORCH_SPEC in $WORK/venv"
python3 -m venv "$WORK/venv"
PY=$WORK/venv/bin/python
# The build tools and what the smoke subset imports (requirements-dev.txt less the ONNX packages).
$PY -m pip install -q "$TORCH_SPEC" $(grep -v -e '^#' -e '^onnx' "$ROOT/requirements-dev.txt")

step "build the wheel from a copy of the tree's files"
rm -rf "$WORK/src" "$WORK/dist"
mkdir -p "$WORK/src"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --no-recursion) | tar -xf - -C "$WORK/src"
(cd "$WORK/src" && FAST_RNNT_BUILD_DIR="$WORK/build" PATH="$WORK/venv/bin:$PATH" \
   $PY -m pip wheel -q --no-build-isolation --no-deps -w "$WORK/dist" .)
WHEEL=$(ls "$WORK"/dist/fast_rnnt-*.whl)
TORCH_VERSION=$($PY -c "import torch; print(torch.__version__.split('+')[0])")
echo "built $(basename "$WHEEL")"
case "$(basename "$WHEEL")" in
  *"+torch$TORCH_VERSION."*) ;;
  *) echo "FAIL: the wheel's name does not carry +torch$TORCH_VERSION"; exit 1 ;;
esac
$PY - "$WHEEL" "$TORCH_VERSION" <<'EOF'
import sys, zipfile
wheel, torch_version = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
requires = [l for l in metadata.splitlines() if l.startswith("Requires-Dist: torch")]
assert requires == [f"Requires-Dist: torch=={torch_version}"], requires
for needed in ("fast_rnnt/lib/libfast_rnnt.so", "fast_rnnt/include/fast_rnnt/fast_rnnt.h",
               "fast_rnnt/share/cmake/fast_rnnt/fast_rnnt-config.cmake", "fast_rnnt/_build_info.py"):
    assert needed in names, f"the wheel lacks {needed}"
print("the wheel requires torch==" + torch_version + " and carries the library, headers, CMake files")
EOF

step "install it and test it from outside the source tree"
$PY -m pip install -q "$WHEEL"
rm -rf "$WORK/outside" && mkdir -p "$WORK/outside" && cd "$WORK/outside"
$PY -c "
import fast_rnnt, sys
assert fast_rnnt.__file__.startswith('$WORK/venv/'), fast_rnnt.__file__
print('imported', fast_rnnt.__version__, 'from', fast_rnnt.__file__, '; library', fast_rnnt.library_path)
"
cp -r "$ROOT/python/tests" "$WORK/outside/tests"
rm "$WORK/outside/tests/test_build_config.py"  # tests setup.py's helpers: needs the source tree
$PY -m pytest -q -p no:cacheprovider --rootdir "$WORK/outside" \
  -k "opcheck or gradcheck or torchscript or scriptable" tests

step "find_package(fast_rnnt) from the installed package: cpp_tests/consumer"
PREFIX="$($PY -c 'import fast_rnnt; print(fast_rnnt.cmake_prefix_path)');$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')"
cp -r "$ROOT/cpp_tests/consumer" "$WORK/outside/consumer"
"$WORK/venv/bin/cmake" -S "$WORK/outside/consumer" -B "$WORK/outside/consumer-build" -G Ninja \
  -DCMAKE_MAKE_PROGRAM="$WORK/venv/bin/ninja" -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
"$WORK/venv/bin/cmake" --build "$WORK/outside/consumer-build"
"$WORK/outside/consumer-build/consumer"

step "the same wheel under another torch ($OTHER_TORCH_SITE) must refuse to import"
if [ ! -d "$OTHER_TORCH_SITE/torch" ]; then
  echo "FAIL: no torch in OTHER_TORCH_SITE=$OTHER_TORCH_SITE (run make test first, or set it)"; exit 1
fi
python3 -m venv "$WORK/other"
echo "$OTHER_TORCH_SITE" > "$WORK/other/lib/python3.11/site-packages/other_torch.pth"
"$WORK/other/bin/python" -m pip install -q --no-deps "$WHEEL"
"$WORK/other/bin/python" - <<EOF
import torch
assert torch.__version__.split("+")[0] != "$TORCH_VERSION", "OTHER_TORCH_SITE has the same torch"
try:
    import fast_rnnt
except ImportError as e:
    message = str(e)
    print("refused as expected:", message)
    assert f"fast_rnnt was built for torch ${TORCH_VERSION}" in message, message
    assert f"found torch {torch.__version__}" in message and "reinstall" in message, message
else:
    raise SystemExit(f"FAIL: fast_rnnt imported under torch {torch.__version__}")
EOF
step "passed"
