# Two entry points, both self-contained on a fresh machine:
#   make demo   set up, build, run the demo
#   make test   set up, build (with the C++ tests), run pytest and ctest
#
# TORCH_SPEC picks the torch build: the default CUDA 13.0 build also compiles the CUDA kernels
# when nvcc is present; `make test TORCH_SPEC=torch==2.13.0` is the small CPU-only variant.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.14.1
BUILD_DIR ?= build
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fast_rnnt-deps

.PHONY: demo test build deps gtest clean

demo: build
	@$(PY) -c "import matplotlib" 2>/dev/null || $(PY) -m pip install -q matplotlib || echo "(no matplotlib: the demo runs without pictures)"
	$(PY) examples/demo.py

test: build
	$(PY) -m pytest -q python/tests
	$(VENV)/bin/ctest --test-dir $(BUILD_DIR) --output-on-failure --timeout 600

build: deps gtest
	FAST_RNNT_BUILD_TESTS=1 FAST_RNNT_BUILD_DIR=$(BUILD_DIR) \
	  $(PY) -m pip install -q --no-build-isolation --no-deps -e .

deps: $(STAMP)

$(STAMP): requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)" -r requirements-dev.txt
	echo "$(TORCH_SPEC)" > $@

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
	rm -rf $(BUILD_DIR) python/fast_rnnt/lib python/fast_rnnt/include python/fast_rnnt/share
