// The RNN-T losses: schemas, C++ entry points and the CompositeImplicitAutograd kernels, built
// from ATen ops and the leaf ops (arc_logprobs, smoothed_arc_logprobs, mutual_information), so
// that autograd, fake tensors, torch.compile and TorchScript need no extra code. Sizes are SymInts throughout so the
// composites also trace with dynamic shapes.
#include <torch/library.h>

#include <cmath>
#include <string>

#include "fast_rnnt/arc_logprobs.h"
#include "fast_rnnt/mutual_information.h"
#include "fast_rnnt/rnnt_loss.h"
#include "fast_rnnt/smoothed_arc_logprobs.h"
#include "ops/arc_logprobs_checks.h"
#include "ops/rnnt_lattice.h"
#include "ops/rnnt_loss_checks.h"

namespace fast_rnnt {

using at::Tensor;

namespace {

using namespace fast_rnnt::rnnt;  // NOLINT(google-build-using-namespace)

std::tuple<Tensor, Tensor> simple_logprobs(const char* op, const Tensor& lm, const Tensor& am,
                                           const Tensor& symbols, int64_t termination_symbol,
                                           RnntType type, const std::optional<Tensor>& boundary,
                                           double fastemit_lambda = 0.0) {
  check_lm_am(op, lm, am, symbols, termination_symbol, type, boundary);
  // px = am[b, t, y] + lm[b, s, y] - logsumexp_c(lm[b, s, c] + am[b, t, c]): the fused op with
  // both scales 0.
  auto [px, py] = smoothed_arc_logprobs(lm, am, symbols, termination_symbol, 0.0, 0.0);
  return place_on_lattice(fastemit(op, std::move(px), fastemit_lambda), std::move(py), type,
                          boundary);
}

// The smoothed log-probabilities interpolate the joint, LM-only and AM-only ones (the fused op,
// see fast_rnnt/smoothed_arc_logprobs.h); as k2, a zero scale is replaced by 1e-20.
std::tuple<Tensor, Tensor> smoothed_logprobs(const char* op, const Tensor& lm, const Tensor& am,
                                             const Tensor& symbols, int64_t termination_symbol,
                                             double lm_only_scale, double am_only_scale,
                                             RnntType type,
                                             const std::optional<Tensor>& boundary,
                                             double fastemit_lambda = 0.0) {
  check_lm_am(op, lm, am, symbols, termination_symbol, type, boundary);
  TORCH_CHECK(std::isfinite(lm_only_scale) && std::isfinite(am_only_scale), op,
              ": expected finite lm_only_scale and am_only_scale, got ", lm_only_scale, " and ",
              am_only_scale);
  const double l = lm_only_scale == 0.0 ? 1e-20 : lm_only_scale;
  const double a = am_only_scale == 0.0 ? 1e-20 : am_only_scale;
  auto [px, py] = smoothed_arc_logprobs(lm, am, symbols, termination_symbol, l, a);
  return place_on_lattice(fastemit(op, std::move(px), fastemit_lambda), std::move(py), type,
                          boundary);
}

std::tuple<Tensor, Tensor> joint_logprobs(const char* op, const Tensor& logits,
                                          const Tensor& symbols, int64_t termination_symbol,
                                          RnntType type, const std::optional<Tensor>& boundary,
                                          double fastemit_lambda = 0.0) {
  const LatticeSizes n = check_logits(op, logits, symbols, termination_symbol, type, boundary);
  // One more column so that every (t, s) row of logits has a symbol: K = S+1. Its values are
  // read (as the blank) and dropped.
  const Tensor padded =
      at::cat({symbols, at::full_symint({n.B, 1}, termination_symbol, symbols.options())}, 1);
  auto [sym_lp, blank_lp] = arc_logprobs(
      logits, padded.unsqueeze(1).expand_symint({n.B, n.T, n.S + 1}), termination_symbol);
  Tensor px = sym_lp.narrow_symint(2, 0, n.S).transpose(1, 2);  // (B, S, T)
  Tensor py = blank_lp.transpose(1, 2);                          // (B, S+1, T)
  return place_on_lattice(fastemit(op, std::move(px), fastemit_lambda), std::move(py), type,
                          boundary);
}

// ---- composite kernels ----------------------------------------------------------------------

std::tuple<Tensor, Tensor> get_rnnt_logprobs_composite(const Tensor& lm, const Tensor& am,
                                                       const Tensor& symbols,
                                                       int64_t termination_symbol,
                                                       c10::string_view rnnt_type,
                                                       const std::optional<Tensor>& boundary) {
  constexpr char op[] = "get_rnnt_logprobs";
  return simple_logprobs(op, lm, am, symbols, termination_symbol, parse_rnnt_type(op, rnnt_type),
                         boundary);
}

template <bool kWithGrad>
auto simple_loss(const char* op, const Tensor& lm, const Tensor& am, const Tensor& symbols,
                 int64_t termination_symbol, const std::optional<Tensor>& boundary,
                 c10::string_view rnnt_type, double delay_penalty, c10::string_view reduction,
                 double fastemit_lambda) {
  const RnntType type = parse_rnnt_type(op, rnnt_type);
  const Reduction red = parse_reduction(op, reduction);
  auto [px, py] =
      simple_logprobs(op, lm, am, symbols, termination_symbol, type, boundary, fastemit_lambda);
  return lattice_loss<kWithGrad>(px, py, type, delay_penalty, boundary, red);
}

Tensor rnnt_loss_simple_composite(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                                  int64_t termination_symbol,
                                  const std::optional<Tensor>& boundary,
                                  c10::string_view rnnt_type, double delay_penalty,
                                  c10::string_view reduction, double fastemit_lambda) {
  return simple_loss<false>("rnnt_loss_simple", lm, am, symbols, termination_symbol, boundary,
                            rnnt_type, delay_penalty, reduction, fastemit_lambda);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_simple_with_grad_composite(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    const std::optional<Tensor>& boundary, c10::string_view rnnt_type, double delay_penalty,
    c10::string_view reduction, double fastemit_lambda) {
  return simple_loss<true>("rnnt_loss_simple_with_grad", lm, am, symbols, termination_symbol,
                           boundary, rnnt_type, delay_penalty, reduction, fastemit_lambda);
}

std::tuple<Tensor, Tensor> get_rnnt_logprobs_smoothed_composite(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    double lm_only_scale, double am_only_scale, const std::optional<Tensor>& boundary,
    c10::string_view rnnt_type) {
  constexpr char op[] = "get_rnnt_logprobs_smoothed";
  return smoothed_logprobs(op, lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale,
                           parse_rnnt_type(op, rnnt_type), boundary);
}

template <bool kWithGrad>
auto smoothed_loss(const char* op, const Tensor& lm, const Tensor& am, const Tensor& symbols,
                   int64_t termination_symbol, double lm_only_scale, double am_only_scale,
                   const std::optional<Tensor>& boundary, c10::string_view rnnt_type,
                   double delay_penalty, c10::string_view reduction, double fastemit_lambda) {
  const RnntType type = parse_rnnt_type(op, rnnt_type);
  const Reduction red = parse_reduction(op, reduction);
  auto [px, py] = smoothed_logprobs(op, lm, am, symbols, termination_symbol, lm_only_scale,
                                    am_only_scale, type, boundary, fastemit_lambda);
  return lattice_loss<kWithGrad>(px, py, type, delay_penalty, boundary, red);
}

Tensor rnnt_loss_smoothed_composite(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                                    int64_t termination_symbol, double lm_only_scale,
                                    double am_only_scale, const std::optional<Tensor>& boundary,
                                    c10::string_view rnnt_type, double delay_penalty,
                                    c10::string_view reduction, double fastemit_lambda) {
  return smoothed_loss<false>("rnnt_loss_smoothed", lm, am, symbols, termination_symbol,
                              lm_only_scale, am_only_scale, boundary, rnnt_type, delay_penalty,
                              reduction, fastemit_lambda);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_smoothed_with_grad_composite(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    double lm_only_scale, double am_only_scale, const std::optional<Tensor>& boundary,
    c10::string_view rnnt_type, double delay_penalty, c10::string_view reduction,
    double fastemit_lambda) {
  return smoothed_loss<true>("rnnt_loss_smoothed_with_grad", lm, am, symbols, termination_symbol,
                             lm_only_scale, am_only_scale, boundary, rnnt_type, delay_penalty,
                             reduction, fastemit_lambda);
}

std::tuple<Tensor, Tensor> get_rnnt_logprobs_joint_composite(
    const Tensor& logits, const Tensor& symbols, int64_t termination_symbol,
    c10::string_view rnnt_type, const std::optional<Tensor>& boundary) {
  constexpr char op[] = "get_rnnt_logprobs_joint";
  return joint_logprobs(op, logits, symbols, termination_symbol, parse_rnnt_type(op, rnnt_type),
                        boundary);
}

Tensor rnnt_loss_composite(const Tensor& logits, const Tensor& symbols,
                           int64_t termination_symbol, const std::optional<Tensor>& boundary,
                           c10::string_view rnnt_type, double delay_penalty,
                           c10::string_view reduction, double fastemit_lambda) {
  constexpr char op[] = "rnnt_loss";
  const RnntType type = parse_rnnt_type(op, rnnt_type);
  const Reduction red = parse_reduction(op, reduction);
  auto [px, py] =
      joint_logprobs(op, logits, symbols, termination_symbol, type, boundary, fastemit_lambda);
  return lattice_loss<false>(px, py, type, delay_penalty, boundary, red);
}

}  // namespace

// ---- C++ entry points (through the dispatcher) ------------------------------------------------

using LogprobsFn = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                              int64_t, c10::string_view,
                                              const std::optional<Tensor>&);
using SimpleLossFn = Tensor(const Tensor&, const Tensor&, const Tensor&, int64_t,
                            const std::optional<Tensor>&, c10::string_view, double,
                            c10::string_view, double);
using SimpleLossWithGradFn = std::tuple<Tensor, Tensor, Tensor>(
    const Tensor&, const Tensor&, const Tensor&, int64_t, const std::optional<Tensor>&,
    c10::string_view, double, c10::string_view, double);
using SmoothedLogprobsFn = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                                      int64_t, double, double,
                                                      const std::optional<Tensor>&,
                                                      c10::string_view);
using SmoothedLossFn = Tensor(const Tensor&, const Tensor&, const Tensor&, int64_t, double, double,
                              const std::optional<Tensor>&, c10::string_view, double,
                              c10::string_view, double);
using SmoothedLossWithGradFn = std::tuple<Tensor, Tensor, Tensor>(
    const Tensor&, const Tensor&, const Tensor&, int64_t, double, double,
    const std::optional<Tensor>&, c10::string_view, double, c10::string_view, double);
using JointLogprobsFn = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, int64_t,
                                                   c10::string_view, const std::optional<Tensor>&);
using JointLossFn = Tensor(const Tensor&, const Tensor&, int64_t, const std::optional<Tensor>&,
                           c10::string_view, double, c10::string_view, double);

std::tuple<Tensor, Tensor> get_rnnt_logprobs(const Tensor& lm, const Tensor& am,
                                             const Tensor& symbols, int64_t termination_symbol,
                                             std::string_view rnnt_type,
                                             const std::optional<Tensor>& boundary) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::get_rnnt_logprobs", "")
                       .typed<LogprobsFn>();
  return op.call(lm, am, symbols, termination_symbol, rnnt_type, boundary);
}

Tensor rnnt_loss_simple(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                        int64_t termination_symbol, const std::optional<Tensor>& boundary,
                        std::string_view rnnt_type, double delay_penalty,
                        std::string_view reduction, double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_simple", "")
                       .typed<SimpleLossFn>();
  return op.call(lm, am, symbols, termination_symbol, boundary, rnnt_type, delay_penalty,
                 reduction, fastemit_lambda);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_simple_with_grad(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    const std::optional<Tensor>& boundary, std::string_view rnnt_type, double delay_penalty,
    std::string_view reduction, double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_simple_with_grad", "")
                       .typed<SimpleLossWithGradFn>();
  return op.call(lm, am, symbols, termination_symbol, boundary, rnnt_type, delay_penalty,
                 reduction, fastemit_lambda);
}

std::tuple<Tensor, Tensor> get_rnnt_logprobs_smoothed(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    double lm_only_scale, double am_only_scale, const std::optional<Tensor>& boundary,
    std::string_view rnnt_type) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::get_rnnt_logprobs_smoothed", "")
                       .typed<SmoothedLogprobsFn>();
  return op.call(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary,
                 rnnt_type);
}

Tensor rnnt_loss_smoothed(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                          int64_t termination_symbol, double lm_only_scale, double am_only_scale,
                          const std::optional<Tensor>& boundary, std::string_view rnnt_type,
                          double delay_penalty, std::string_view reduction,
                          double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_smoothed", "")
                       .typed<SmoothedLossFn>();
  return op.call(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary,
                 rnnt_type, delay_penalty, reduction, fastemit_lambda);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_smoothed_with_grad(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    double lm_only_scale, double am_only_scale, const std::optional<Tensor>& boundary,
    std::string_view rnnt_type, double delay_penalty, std::string_view reduction,
    double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_smoothed_with_grad", "")
                       .typed<SmoothedLossWithGradFn>();
  return op.call(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary,
                 rnnt_type, delay_penalty, reduction, fastemit_lambda);
}

std::tuple<Tensor, Tensor> get_rnnt_logprobs_joint(const Tensor& logits, const Tensor& symbols,
                                                   int64_t termination_symbol,
                                                   std::string_view rnnt_type,
                                                   const std::optional<Tensor>& boundary) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::get_rnnt_logprobs_joint", "")
                       .typed<JointLogprobsFn>();
  return op.call(logits, symbols, termination_symbol, rnnt_type, boundary);
}

Tensor rnnt_loss(const Tensor& logits, const Tensor& symbols, int64_t termination_symbol,
                 const std::optional<Tensor>& boundary, std::string_view rnnt_type,
                 double delay_penalty, std::string_view reduction, double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss", "")
                       .typed<JointLossFn>();
  return op.call(logits, symbols, termination_symbol, boundary, rnnt_type, delay_penalty,
                 reduction, fastemit_lambda);
}

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("get_rnnt_logprobs(Tensor lm, Tensor am, Tensor symbols, int termination_symbol, "
        "str rnnt_type=\"regular\", Tensor? boundary=None) -> (Tensor px, Tensor py)");
  m.def("rnnt_loss_simple(Tensor lm, Tensor am, Tensor symbols, int termination_symbol, "
        "Tensor? boundary=None, str rnnt_type=\"regular\", float delay_penalty=0.0, "
        "str reduction=\"mean\", float fastemit_lambda=0.0) -> Tensor");
  m.def("rnnt_loss_simple_with_grad(Tensor lm, Tensor am, Tensor symbols, "
        "int termination_symbol, Tensor? boundary=None, str rnnt_type=\"regular\", "
        "float delay_penalty=0.0, str reduction=\"mean\", float fastemit_lambda=0.0) "
        "-> (Tensor loss, Tensor px_grad, Tensor py_grad)");
  m.def("get_rnnt_logprobs_smoothed(Tensor lm, Tensor am, Tensor symbols, "
        "int termination_symbol, float lm_only_scale=0.1, float am_only_scale=0.1, "
        "Tensor? boundary=None, str rnnt_type=\"regular\") -> (Tensor px, Tensor py)");
  m.def("rnnt_loss_smoothed(Tensor lm, Tensor am, Tensor symbols, int termination_symbol, "
        "float lm_only_scale=0.1, float am_only_scale=0.1, Tensor? boundary=None, "
        "str rnnt_type=\"regular\", float delay_penalty=0.0, str reduction=\"mean\", "
        "float fastemit_lambda=0.0) -> Tensor");
  m.def("rnnt_loss_smoothed_with_grad(Tensor lm, Tensor am, Tensor symbols, "
        "int termination_symbol, float lm_only_scale=0.1, float am_only_scale=0.1, "
        "Tensor? boundary=None, str rnnt_type=\"regular\", float delay_penalty=0.0, "
        "str reduction=\"mean\", float fastemit_lambda=0.0) "
        "-> (Tensor loss, Tensor px_grad, Tensor py_grad)");
  m.def("get_rnnt_logprobs_joint(Tensor logits, Tensor symbols, int termination_symbol, "
        "str rnnt_type=\"regular\", Tensor? boundary=None) -> (Tensor px, Tensor py)");
  m.def("rnnt_loss(Tensor logits, Tensor symbols, int termination_symbol, "
        "Tensor? boundary=None, str rnnt_type=\"regular\", float delay_penalty=0.0, "
        "str reduction=\"mean\", float fastemit_lambda=0.0) -> Tensor");
}

TORCH_LIBRARY_IMPL(fast_rnnt, CompositeImplicitAutograd, m) {
  m.impl("get_rnnt_logprobs", TORCH_FN(get_rnnt_logprobs_composite));
  m.impl("rnnt_loss_simple", TORCH_FN(rnnt_loss_simple_composite));
  m.impl("rnnt_loss_simple_with_grad", TORCH_FN(rnnt_loss_simple_with_grad_composite));
  m.impl("get_rnnt_logprobs_smoothed", TORCH_FN(get_rnnt_logprobs_smoothed_composite));
  m.impl("rnnt_loss_smoothed", TORCH_FN(rnnt_loss_smoothed_composite));
  m.impl("rnnt_loss_smoothed_with_grad", TORCH_FN(rnnt_loss_smoothed_with_grad_composite));
  m.impl("get_rnnt_logprobs_joint", TORCH_FN(get_rnnt_logprobs_joint_composite));
  m.impl("rnnt_loss", TORCH_FN(rnnt_loss_composite));
}

}  // namespace fast_rnnt
