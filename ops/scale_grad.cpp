// Schema, C++ entry point and forward kernel of _scale_grad (see include/fast_rnnt/scale_grad.h).
// The forward is a copy on every device, so one kernel serves CPU and CUDA; the gradient
// scaling is the autograd kernel (ops/autograd/scale_grad_kernel.cpp).
#include <torch/library.h>

#include <cmath>

#include "fast_rnnt/scale_grad.h"

namespace fast_rnnt {

at::Tensor detail::_scale_grad(const at::Tensor& x, double scale) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_scale_grad", "")
                       .typed<at::Tensor(const at::Tensor&, double)>();
  return op.call(x, scale);
}

namespace {

at::Tensor scale_grad_forward_kernel(const at::Tensor& x, double scale) {
  TORCH_CHECK(std::isfinite(scale) && scale >= 0.0,
              "_scale_grad: expected a finite scale >= 0, got ", scale);
  return x.clone(at::MemoryFormat::Contiguous);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("_scale_grad(Tensor x, float scale) -> Tensor");
}

TORCH_LIBRARY_IMPL(fast_rnnt, CPU, m) {
  m.impl("_scale_grad", TORCH_FN(scale_grad_forward_kernel));
}

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("_scale_grad", TORCH_FN(scale_grad_forward_kernel));
}

}  // namespace fast_rnnt
