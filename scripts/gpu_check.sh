#!/usr/bin/env bash
# Everything a lent GPU machine is for, in one call (each call starts on a bare machine):
# build with the CUDA kernels, run the whole test suite on CUDA, run the benchmarks, and leave
# the logs in $OUT (or ./gpu-out). Uses the machine's own python3/torch/nvcc/cmake/ninja, no
# network. Usage (device tool): bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 FAST_RNNT_WITH_CUDA=1 FAST_RNNT_BUILD_DIR=build-gpu
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" MAX_JOBS="${MAX_JOBS:-16}"
PY="${PYTHON:-python3}"
{
  date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee "$OUT/machine.txt"

# GoogleTest is rarely there: build the C++ tests only when it is.
if [ -f /usr/include/gtest/gtest.h ]; then export FAST_RNNT_BUILD_TESTS=1; fi
"$PY" -m pip install -q --no-build-isolation --no-deps --no-index -e . 2>&1 | tail -20 | tee "$OUT/build.log"
"$PY" -c "import fast_rnnt, torch; assert fast_rnnt.with_cuda and torch.cuda.is_available(); print('CUDA kernels loaded')" \
  2>&1 | tee -a "$OUT/build.log" || exit 1

"$PY" -m pytest -q -p no:cacheprovider python/tests 2>&1 | tee "$OUT/pytest.log"
if [ -n "${FAST_RNNT_BUILD_TESTS:-}" ]; then ctest --test-dir build-gpu --output-on-failure 2>&1 | tee "$OUT/ctest.log"; fi

for bench in benchmarks/bench_*.py; do
  echo "== $bench" | tee -a "$OUT/bench.txt"
  "$PY" "$bench" --device cuda 2>&1 | tee -a "$OUT/bench.txt"
done
