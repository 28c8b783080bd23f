// Schemas of the recursion ops and the C++ entry points, which call through the dispatcher so
// that C++ callers get the same device, autograd and autocast handling as Python.
#include <torch/library.h>

#include <limits>

#include "fast_rnnt/mutual_information.h"
#include "ops/mutual_information_checks.h"
#include "ops/rnnt_loss_checks.h"

namespace fast_rnnt {

at::Tensor mutual_information_recursion(const at::Tensor& px, const at::Tensor& py,
                                        const std::optional<at::Tensor>& boundary) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::mutual_information", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&,
                                         const std::optional<at::Tensor>&)>();
  return op.call(px, py, boundary);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mutual_information_recursion_with_grad(
    const at::Tensor& px, const at::Tensor& py, const std::optional<at::Tensor>& boundary) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::mutual_information_with_grad", "")
                       .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
                           const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&)>();
  return op.call(px, py, boundary);
}

at::Tensor joint_mutual_information_recursion(at::TensorList px, at::TensorList py,
                                              const std::optional<at::Tensor>& boundary) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::joint_mutual_information", "")
                       .typed<at::Tensor(at::TensorList, at::TensorList,
                                         const std::optional<at::Tensor>&)>();
  return op.call(px, py, boundary);
}

namespace {

// Built from the recursion and ATen ops, so autograd and fake tensors come for free.
at::Tensor joint_mutual_information_composite(at::TensorList px, at::TensorList py,
                                              const std::optional<at::Tensor>& boundary) {
  constexpr char op[] = "joint_mutual_information";
  TORCH_CHECK(!px.empty() && px.size() == py.size(), op,
              ": expected px and py to be non-empty lists of equal length, got ", px.size(),
              " and ", py.size(), " tensors");
  for (size_t n = 1; n < px.size(); ++n) {
    TORCH_CHECK(px[n].sizes() == px[0].sizes() && py[n].sizes() == py[0].sizes(), op,
                ": expected every px[n] of shape ", px[0].sizes(), " and py[n] of shape ",
                py[0].sizes(), ", got px[", n, "] ", px[n].sizes(), " and py[", n, "] ",
                py[n].sizes());
    TORCH_CHECK(px[n].scalar_type() == px[0].scalar_type() &&
                    py[n].scalar_type() == px[0].scalar_type(),
                op, ": expected every px[n] and py[n] to be ", px[0].scalar_type(), ", got px[", n,
                "] ", px[n].scalar_type(), " and py[", n, "] ", py[n].scalar_type());
    TORCH_CHECK(px[n].device() == px[0].device() && py[n].device() == px[0].device(), op,
                ": expected every px[n] and py[n] on ", px[0].device(), ", got px[", n, "] on ",
                px[n].device(), " and py[", n, "] on ", py[n].device());
  }
  // Shapes, dtypes and devices; boundary values too unless tracing (the kernel checks them then).
  check_mutual_information_inputs(op, px[0], py[0], boundary,
                                  /*check_values=*/!boundary || rnnt::has_values(*boundary));
  const int64_t N = static_cast<int64_t>(px.size()), B = px[0].size(0);
  const at::Tensor px_parts = at::stack(px), py_parts = at::stack(py);  // (N, B, ...)
  // Occupancies of the summed lattice, held fixed: each part is credited linearly with them.
  auto [total, px_occ, py_occ] = mutual_information_recursion_with_grad(
      px_parts.sum(0).detach(), py_parts.sum(0).detach(), boundary);
  // -inf * 0 would be NaN; an arc of weight -inf has zero occupancy anyway.
  const double lowest = px_parts.scalar_type() == at::kDouble
                            ? std::numeric_limits<double>::lowest()
                            : std::numeric_limits<float>::lowest();
  auto credit = [&](const at::Tensor& parts, const at::Tensor& occ) {  // (N, B)
    return at::matmul(parts.clamp_min(lowest).reshape({N, B, 1, -1}),
                      occ.to(parts.scalar_type()).reshape({1, B, -1, 1}))
        .reshape({N, B});
  };
  const at::Tensor prods = credit(px_parts, px_occ) + credit(py_parts, py_occ);
  // The gap between log-of-sum and sum-of-log goes to the first part.
  const at::Tensor offset = (total.to(prods.scalar_type()) - prods.sum(0)).detach();
  return prods + at::cat({offset.unsqueeze(0), at::zeros({N - 1, B}, offset.options())});
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("mutual_information(Tensor px, Tensor py, Tensor? boundary=None) -> Tensor");
  m.def("mutual_information_with_grad(Tensor px, Tensor py, Tensor? boundary=None) "
        "-> (Tensor scores, Tensor px_grad, Tensor py_grad)");
  m.def("joint_mutual_information(Tensor[] px, Tensor[] py, Tensor? boundary=None) -> Tensor");
}

TORCH_LIBRARY_IMPL(fast_rnnt, CompositeImplicitAutograd, m) {
  m.impl("joint_mutual_information", TORCH_FN(joint_mutual_information_composite));
}

}  // namespace fast_rnnt
