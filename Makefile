# Two entry points, both self-contained on a fresh machine:
#   make demo   set up, build, run the demo
#   make test   set up, build (with the C++ tests), run pytest and ctest
#
# TORCH_SPEC picks the torch build. `make test` defaults to the CUDA 13.0 build of torch 2.14.1,
# which also compiles the CUDA kernels when a matching nvcc is present; `make test
# TORCH_SPEC=torch==2.13.0` is the small CPU-only variant. `make demo` keeps whatever torch the
# venv already has; in a new venv it installs torch 2.14.1 where an NVIDIA GPU is present and
# the CPU wheel torch==2.13.0 where none is (TORCH_SPEC=... overrides both).
#
# One venv, one torch: a TORCH_SPEC that the venv's torch does not satisfy reinstalls torch there
# (pip replaces it), and setup.py then reconfigures the build tree from scratch for the new torch.
# For two torches side by side, give each its own VENV and BUILD_DIR.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.14.1
BUILD_DIR ?= build
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fast_rnnt-deps
TORCH_STAMP := $(VENV)/.fast_rnnt-torch
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1)

.PHONY: demo test test-wheel build deps gtest clean

demo: TORCH_SPEC := $(if $(filter file,$(origin TORCH_SPEC)),$(if $(HAS_GPU),torch==2.14.1,torch==2.13.0),$(TORCH_SPEC))
demo: KEEP_TORCH := $(filter file,$(origin TORCH_SPEC))
demo: build
	@$(PY) -c "import matplotlib" 2>/dev/null || $(PY) -m pip install -q matplotlib || echo "(no matplotlib: the demo runs without pictures)"
	$(PY) examples/demo.py

test: build
	$(PY) -m pytest -q python/tests
	$(VENV)/bin/ctest --test-dir $(BUILD_DIR) --output-on-failure --timeout 600

# The wheel, installed into a fresh venv and tested there from outside the source tree.
test-wheel:
	bash scripts/test_wheel.sh

build: deps gtest
	FAST_RNNT_BUILD_TESTS=1 FAST_RNNT_BUILD_DIR=$(BUILD_DIR) \
	  $(PY) -m pip install -q --no-build-isolation --no-deps -e .
	@$(PY) -c "from fast_rnnt import _build_info as b; print('fast_rnnt built for torch', b.TORCH_VERSION + ':', b.CUDA_DECISION)"

# The tools (none depends on torch), then torch: $(TORCH_STAMP) records the TORCH_SPEC last
# installed; another spec runs pip again (a no-op when the venv's torch satisfies it already).
# KEEP_TORCH (the demo's default) keeps any torch the venv has.
deps: $(STAMP)
	@if [ "$$(cat $(TORCH_STAMP) 2>/dev/null)" = "$(TORCH_SPEC)" ]; then :; \
	elif [ -n "$(KEEP_TORCH)" ] && $(PY) -c "import torch" 2>/dev/null; then :; \
	else echo "pip install $(TORCH_SPEC)" && $(PY) -m pip install -q "$(TORCH_SPEC)" && echo "$(TORCH_SPEC)" > $(TORCH_STAMP); fi

$(STAMP): requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# GoogleTest for cpp_tests/: Debian's libgtest-dev (installed here when missing and we are root).
gtest:
	@if [ ! -f /usr/include/gtest/gtest.h ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgtest-dev) >/dev/null; \
	  else \
	    echo "GoogleTest is missing: install libgtest-dev (e.g. sudo apt-get install libgtest-dev)"; exit 1; \
	  fi; \
	fi

clean:
	rm -rf $(BUILD_DIR) python/fast_rnnt/lib python/fast_rnnt/include python/fast_rnnt/share python/fast_rnnt/_build_info.py
