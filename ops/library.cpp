// The one TORCH_LIBRARY block of the fast_rnnt namespace; each op's schema is defined next to
// its C++ entry point in ops/<op>.cpp (TORCH_LIBRARY_FRAGMENT).
#include <torch/library.h>

TORCH_LIBRARY(fast_rnnt, m) {
  // Fake (meta) kernels live in Python; name the module so a missing import says what to do.
  m.set_python_module("fast_rnnt._fake");
}
