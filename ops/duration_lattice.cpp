// Schemas of the duration-lattice leaf ops (the recursion and the fused logits read) and their
// C++ entry points, which call through the dispatcher so that C++ callers get the same device,
// autograd and autocast handling as Python.
#include <torch/library.h>

#include "fast_rnnt/duration_lattice.h"

namespace fast_rnnt {

using at::IntArrayRef;
using at::Tensor;

Tensor duration_lattice(const Tensor& symbol_w, const Tensor& blank_w,
                        IntArrayRef symbol_durations, IntArrayRef blank_durations,
                        const std::optional<Tensor>& boundary) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::duration_lattice", "")
                       .typed<decltype(duration_lattice)>();
  return op.call(symbol_w, blank_w, symbol_durations, blank_durations, boundary);
}

std::tuple<Tensor, Tensor> duration_arc_logprobs(const Tensor& logits, const Tensor& symbols,
                                                 IntArrayRef blanks, int64_t num_durations,
                                                 double sigma, double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::duration_arc_logprobs", "")
                       .typed<decltype(duration_arc_logprobs)>();
  return op.call(logits, symbols, blanks, num_durations, sigma, fastemit_lambda);
}

namespace detail {

std::tuple<Tensor, Tensor> _duration_lattice_backward(
    const Tensor& symbol_w, const Tensor& blank_w, IntArrayRef symbol_durations,
    IntArrayRef blank_durations, const std::optional<Tensor>& boundary, const Tensor& ans_grad) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_duration_lattice_backward", "")
                       .typed<decltype(_duration_lattice_backward)>();
  return op.call(symbol_w, blank_w, symbol_durations, blank_durations, boundary, ans_grad);
}

std::tuple<Tensor, Tensor, Tensor> _duration_arc_logprobs_forward(const Tensor& logits,
                                                                  const Tensor& symbols,
                                                                  IntArrayRef blanks,
                                                                  int64_t num_durations,
                                                                  double sigma) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_duration_arc_logprobs_forward", "")
                       .typed<decltype(_duration_arc_logprobs_forward)>();
  return op.call(logits, symbols, blanks, num_durations, sigma);
}

Tensor _duration_arc_logprobs_backward(const Tensor& logits, const Tensor& symbols,
                                       IntArrayRef blanks, int64_t num_durations,
                                       const Tensor& normalizer, const Tensor& symbol_grad,
                                       const Tensor& blank_grad, double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_duration_arc_logprobs_backward", "")
                       .typed<decltype(_duration_arc_logprobs_backward)>();
  return op.call(logits, symbols, blanks, num_durations, normalizer, symbol_grad, blank_grad,
                 fastemit_lambda);
}

}  // namespace detail

namespace {

// duration_arc_logprobs without the normalizers that only its backward needs: one definition for
// every device. With a gradient to compute, its Autograd kernel (ops/autograd/) runs instead.
std::tuple<Tensor, Tensor> duration_arc_logprobs_without_grad(const Tensor& logits,
                                                              const Tensor& symbols,
                                                              IntArrayRef blanks,
                                                              int64_t num_durations, double sigma,
                                                              double fastemit_lambda) {
  TORCH_CHECK(fastemit_lambda >= 0.0, "duration_arc_logprobs: expected fastemit_lambda >= 0, got ",
              fastemit_lambda);
  auto [symbol_logprobs, blank_logprobs, normalizer] =
      detail::_duration_arc_logprobs_forward(logits, symbols, blanks, num_durations, sigma);
  return {symbol_logprobs, blank_logprobs};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("duration_lattice(Tensor symbol_w, Tensor blank_w, int[] symbol_durations, "
        "int[] blank_durations, Tensor? boundary=None) -> Tensor");
  m.def("_duration_lattice_backward(Tensor symbol_w, Tensor blank_w, int[] symbol_durations, "
        "int[] blank_durations, Tensor? boundary, Tensor ans_grad) "
        "-> (Tensor symbol_grad, Tensor blank_grad)");
  m.def("duration_arc_logprobs(Tensor logits, Tensor symbols, int[] blanks, int num_durations, "
        "float sigma=0.0, float fastemit_lambda=0.0) "
        "-> (Tensor symbol_logprobs, Tensor blank_logprobs)");
  m.def("_duration_arc_logprobs_forward(Tensor logits, Tensor symbols, int[] blanks, "
        "int num_durations, float sigma) "
        "-> (Tensor symbol_logprobs, Tensor blank_logprobs, Tensor normalizer)");
  m.def("_duration_arc_logprobs_backward(Tensor logits, Tensor symbols, int[] blanks, "
        "int num_durations, Tensor normalizer, Tensor symbol_grad, Tensor blank_grad, "
        "float fastemit_lambda) "
        "-> Tensor grad_logits");
}

TORCH_LIBRARY_IMPL(fast_rnnt, CompositeExplicitAutograd, m) {
  m.impl("duration_arc_logprobs", TORCH_FN(duration_arc_logprobs_without_grad));
}

}  // namespace fast_rnnt
