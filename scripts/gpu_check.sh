#!/usr/bin/env bash
# Everything a lent GPU machine is for, in one call (each call starts on a bare machine):
# build with the CUDA kernels, run the whole test suite on CUDA (the CPU == CUDA tests included),
# run one small CUDA test under compute-sanitizer (memcheck, racecheck), run every benchmark with
# --device cuda, and add the card, the date and the numbers to BENCHMARKS.md. Logs go to $OUT
# (or ./gpu-out). Uses the machine's own python3/torch/nvcc/cmake/ninja, no network.
#   bash scripts/gpu_check.sh            on a GPU machine (device tool)
#   bash scripts/gpu_check.sh --dry-run  anywhere the tree is built (CI): every step in a form that
#                                        needs no GPU (collect the tests, list the ctests, --help of
#                                        the benchmarks, write the BENCHMARKS.md section to $OUT),
#                                        so the script cannot rot.
set -uo pipefail
cd "$(dirname "$0")/.."
DRY_RUN=0
if [ "${1:-}" = "--dry-run" ]; then DRY_RUN=1; fi
OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 FAST_RNNT_WITH_CUDA=1
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" MAX_JOBS="${MAX_JOBS:-16}"
PY="${PYTHON:-python3}"
BUILD_DIR="${FAST_RNNT_BUILD_DIR:-build-gpu}"
fail() { echo "gpu_check: $*" >&2; exit 1; }
# A failed test step stops the dry run; on a GPU the benchmarks still run after it.
step_failed() { if [ "$DRY_RUN" = 1 ]; then fail "$*"; else echo "gpu_check: $*"; fi; }

{
  date -u
  if [ "$DRY_RUN" = 1 ]; then echo "dry run: no GPU"; else
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; fi
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee "$OUT/machine.txt"

# Build (the dry run uses the tree CI built). GoogleTest is rarely there: C++ tests only when it is.
if [ "$DRY_RUN" = 0 ]; then
  export FAST_RNNT_BUILD_DIR="$BUILD_DIR"
  if [ -f /usr/include/gtest/gtest.h ]; then export FAST_RNNT_BUILD_TESTS=1; fi
  "$PY" -m pip install -q --no-build-isolation --no-deps --no-index -e . 2>&1 | tail -20 | tee "$OUT/build.log"
  "$PY" -c "import fast_rnnt, torch; assert fast_rnnt.with_cuda and torch.cuda.is_available(); print('CUDA kernels loaded')" \
    2>&1 | tee -a "$OUT/build.log" || fail "the CUDA build did not load"
else
  "$PY" -c "import fast_rnnt; print('fast_rnnt', fast_rnnt.__version__, 'with_cuda', fast_rnnt.with_cuda)" \
    2>&1 | tee "$OUT/build.log" || fail "fast_rnnt does not import"
fi

# Tests: the whole suite; the CUDA parametrizations run because a GPU is there.
PYTEST=("$PY" -m pytest -q -p no:cacheprovider python/tests)
if [ "$DRY_RUN" = 1 ]; then PYTEST+=(--collect-only); fi
"${PYTEST[@]}" 2>&1 | tail -5 | tee "$OUT/pytest.log"
[ "${PIPESTATUS[0]}" = 0 ] || step_failed "pytest failed, see $OUT/pytest.log"
if [ -f "$BUILD_DIR/CTestTestfile.cmake" ]; then
  CTEST=(ctest --test-dir "$BUILD_DIR" --output-on-failure)
  if [ "$DRY_RUN" = 1 ]; then CTEST+=(-N); fi
  "${CTEST[@]}" 2>&1 | tail -5 | tee "$OUT/ctest.log"
  [ "${PIPESTATUS[0]}" = 0 ] || step_failed "ctest failed, see $OUT/ctest.log"
fi

# One small CUDA test under compute-sanitizer.
SANITIZE=("$PY" -m pytest -q -x -p no:cacheprovider python/tests/test_mutual_information.py -k cuda)
for tool in memcheck racecheck; do
  if [ "$DRY_RUN" = 1 ]; then
    "${SANITIZE[@]}" --collect-only 2>&1 | tail -1 | sed "s/^/[$tool would run] /" | tee -a "$OUT/sanitizer.log"
  else
    compute-sanitizer --tool "$tool" --error-exitcode 1 "${SANITIZE[@]}" 2>&1 | tail -20 | tee -a "$OUT/sanitizer.log"
  fi
  [ "${PIPESTATUS[0]}" = 0 ] || step_failed "compute-sanitizer $tool failed, see $OUT/sanitizer.log"
done

# Benchmarks: every suite on CUDA (the recursion's batch sweep B=1..64, the losses and the pruned
# step on sorted LibriSpeech buckets with peak memory from torch.cuda.max_memory_allocated).
BENCH=("$PY" -m fast_rnnt.benchmark --device cuda)
if [ "$DRY_RUN" = 1 ]; then BENCH+=(--help); fi
"${BENCH[@]}" 2>&1 | tee "$OUT/bench.txt"
[ "${PIPESTATUS[0]}" = 0 ] || fail "the benchmarks failed, see $OUT/bench.txt"

# The numbers, with the card and the date, into BENCHMARKS.md (the dry run writes $OUT's copy).
TARGET=BENCHMARKS.md
if [ "$DRY_RUN" = 1 ]; then TARGET="$OUT/BENCHMARKS.md"; : > "$TARGET"; fi
{
  echo
  echo "## CUDA: $(head -2 "$OUT/machine.txt" | tail -1), $(head -1 "$OUT/machine.txt")"
  echo
  echo "\`bash scripts/gpu_check.sh\`; \`python -m fast_rnnt.benchmark --device cuda\`:"
  echo
  echo '```'
  cat "$OUT/bench.txt"
  echo '```'
} >> "$TARGET"
echo "gpu_check: done, numbers in $TARGET"
