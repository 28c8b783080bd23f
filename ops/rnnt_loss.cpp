// The RNN-T losses: schemas, C++ entry points and the CompositeImplicitAutograd kernels, built
// from ATen ops and the two leaf ops (arc_logprobs, mutual_information), so that autograd, fake
// tensors, torch.compile and TorchScript need no extra code. Sizes are SymInts throughout so the
// composites also trace with dynamic shapes.
#include <torch/library.h>

#include <limits>
#include <string>

#include "fast_rnnt/arc_logprobs.h"
#include "fast_rnnt/mutual_information.h"
#include "fast_rnnt/rnnt_loss.h"
#include "ops/arc_logprobs_checks.h"
#include "ops/rnnt_lattice.h"
#include "ops/rnnt_loss_checks.h"

namespace fast_rnnt {

using at::Tensor;

namespace {

using namespace fast_rnnt::rnnt;  // NOLINT(google-build-using-namespace)

double smallest_normal(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return std::numeric_limits<double>::min();
    case at::kHalf:
      return static_cast<double>(std::numeric_limits<c10::Half>::min());
    case at::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::min());
    default:
      return std::numeric_limits<float>::min();
  }
}

// The pieces of the simple loss shared with the smoothed one.
struct SimpleParts {
  Tensor lm_max, am_max;      // (B, S+1, 1), (B, T, 1), detached shifts
  Tensor lm_probs, am_probs;  // exp(lm - lm_max), exp(am - am_max)
  Tensor px_am, px_lm;        // (B, S, T): am[b, t, symbols[b, s]]; (B, S, 1): lm[b, s, symbols[b, s]]
  Tensor py_am, py_lm;        // (B, 1, T): am[b, t, blank]; (B, S+1, 1): lm[b, s, blank]
};

SimpleParts simple_parts(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                         int64_t termination_symbol, const LatticeSizes& n) {
  SimpleParts p;
  // The shifts only keep exp() in range; detached, the gradient flows through exp() alone and
  // is exactly that of the log-sum-exp.
  // A row masked entirely (all -inf) shifts by 0, as torch.logsumexp: its probabilities are 0
  // (no arcs, zero gradient), not exp(-inf - -inf) = NaN.
  auto finite_max = [](const Tensor& x) {
    const Tensor m = x.detach().amax(2, /*keepdim=*/true);
    return m.masked_fill(m.isinf(), 0.0);
  };
  p.lm_max = finite_max(lm);
  p.am_max = finite_max(am);
  p.lm_probs = (lm - p.lm_max).exp();
  p.am_probs = (am - p.am_max).exp();
  // One (B, T, S+1) gather from am for the symbols and the blank (column S): no (B, S, T, C)
  // tensor in forward or backward, and one scatter into am's gradient.
  const Tensor padded =
      at::cat({symbols, at::full_symint({n.B, 1}, termination_symbol, symbols.options())}, 1);
  const Tensor am_arcs = am.gather(2, padded.unsqueeze(1).expand_symint({n.B, n.T, n.S + 1}));
  p.px_am = am_arcs.narrow_symint(2, 0, n.S).transpose(1, 2);
  p.py_am = am_arcs.narrow_symint(2, n.S, 1).transpose(1, 2);
  p.px_lm = lm.narrow_symint(1, 0, n.S).gather(2, symbols.unsqueeze(2));
  p.py_lm = lm.select(2, termination_symbol).unsqueeze(2);
  return p;
}

// log sum_c rows[b, r, c] * am_probs[b, t, c]: (B, R, T), one batched product.
Tensor log_row_sums(const Tensor& rows, const Tensor& am_probs) {
  return (at::matmul(rows, am_probs.transpose(1, 2)) + smallest_normal(rows.scalar_type())).log();
}

std::tuple<Tensor, Tensor> simple_logprobs(const char* op, const Tensor& lm, const Tensor& am,
                                           const Tensor& symbols, int64_t termination_symbol,
                                           RnntType type, const std::optional<Tensor>& boundary,
                                           double fastemit_lambda = 0.0) {
  const LatticeSizes n = check_lm_am(op, lm, am, symbols, termination_symbol, type, boundary);
  const SimpleParts p = simple_parts(lm, am, symbols, termination_symbol, n);
  // (B, S+1, T): logsumexp_c(lm[b, s, c] + am[b, t, c])
  const Tensor normalizers =
      log_row_sums(p.lm_probs, p.am_probs) + p.lm_max + p.am_max.transpose(1, 2);
  Tensor px = p.px_am + p.px_lm - normalizers.narrow_symint(1, 0, n.S);
  Tensor py = p.py_am + p.py_lm - normalizers;
  return place_on_lattice(fastemit(op, std::move(px), fastemit_lambda), std::move(py), type,
                          boundary);
}

// The smoothed log-probabilities interpolate three normalized ones with weights j, l, a:
//   joint   px_am + px_lm - (L + lm_max + am_max'),  L = log sum_c lm_probs am_probs
//   LM-only px_lm - lm_only_norm,                    log_softmax(lm[b, s])
//   AM-only px_am + log_unigram[symbol] - (La + am_max'), La = log sum_c unigram am_probs
// (py alike with the blank). Collected by shape, each is
//   (j + a) * px_am - j * L  +  row (B, S, 1)  +  column (B, 1, T),
// so the lattice-sized work is three passes for each of px and py, and La is one more row of
// the joint product.
std::tuple<Tensor, Tensor> smoothed_logprobs(const char* op, const Tensor& lm, const Tensor& am,
                                             const Tensor& symbols, int64_t termination_symbol,
                                             double lm_only_scale, double am_only_scale,
                                             RnntType type,
                                             const std::optional<Tensor>& boundary,
                                             double fastemit_lambda = 0.0) {
  const LatticeSizes n = check_lm_am(op, lm, am, symbols, termination_symbol, type, boundary);
  const SimpleParts p = simple_parts(lm, am, symbols, termination_symbol, n);
  const double tiny = smallest_normal(lm.scalar_type());
  // LM-only: log_softmax(lm[b, s]).
  // Clamped so that a masked row (sum 0) gives -inf arcs, not NaN; a row with a finite max
  // sums to >= 1 and is unchanged.
  const Tensor lm_sum = p.lm_probs.sum(2, /*keepdim=*/true).clamp_min(tiny);   // (B, S+1, 1)
  const Tensor lm_only_norm = lm_sum.log() + p.lm_max;                          // (B, S+1, 1)
  // AM-only: log_softmax(am[b, t] + log(unigram)), unigram = mean_{b,s} softmax(lm[b, s]).
  const Tensor unigram = (p.lm_probs / lm_sum).mean(at::IntArrayRef{0, 1}) + tiny; // (C,)
  const Tensor log_unigram = unigram.log();
  const Tensor sums = log_row_sums(
      at::cat({p.lm_probs, unigram.expand_symint({n.B, 1, lm.sym_size(2)})}, 1), p.am_probs);
  const Tensor joint = sums.narrow_symint(1, 0, n.S + 1);   // L: (B, S+1, T)
  const Tensor am_only = sums.narrow_symint(1, n.S + 1, 1);  // La: (B, 1, T)

  const double j = 1.0 - lm_only_scale - am_only_scale;
  // Zero scales would turn -inf weights into NaN (as k2).
  const double l = lm_only_scale == 0.0 ? 1e-20 : lm_only_scale;
  const double a = am_only_scale == 0.0 ? 1e-20 : am_only_scale;
  const Tensor column = p.am_max.transpose(1, 2) * -(j + a) - am_only * a;  // (B, 1, T)
  const Tensor row_y = p.py_lm * (j + l) - p.lm_max * j - lm_only_norm * l +
                       log_unigram.select(0, termination_symbol) * a;  // (B, S+1, 1)
  const Tensor row_x =
      (p.px_lm * (j + l) - (p.lm_max * j + lm_only_norm * l).narrow_symint(1, 0, n.S) +
       log_unigram.index_select(0, symbols.reshape(-1)).view_symint({n.B, n.S, 1}) * a);
  Tensor px = at::add(at::add(row_x + column, p.px_am, j + a), joint.narrow_symint(1, 0, n.S), -j);
  Tensor py = at::add(at::add(row_y + column, p.py_am, j + a), joint, -j);
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
  return op.call(lm, am, symbols, termination_symbol, rnnt::schema_str(rnnt_type), boundary);
}

Tensor rnnt_loss_simple(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                        int64_t termination_symbol, const std::optional<Tensor>& boundary,
                        std::string_view rnnt_type, double delay_penalty,
                        std::string_view reduction, double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_simple", "")
                       .typed<SimpleLossFn>();
  return op.call(lm, am, symbols, termination_symbol, boundary, rnnt::schema_str(rnnt_type),
                 delay_penalty, rnnt::schema_str(reduction), fastemit_lambda);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_simple_with_grad(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    const std::optional<Tensor>& boundary, std::string_view rnnt_type, double delay_penalty,
    std::string_view reduction, double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_simple_with_grad", "")
                       .typed<SimpleLossWithGradFn>();
  return op.call(lm, am, symbols, termination_symbol, boundary, rnnt::schema_str(rnnt_type),
                 delay_penalty, rnnt::schema_str(reduction), fastemit_lambda);
}

std::tuple<Tensor, Tensor> get_rnnt_logprobs_smoothed(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    double lm_only_scale, double am_only_scale, const std::optional<Tensor>& boundary,
    std::string_view rnnt_type) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::get_rnnt_logprobs_smoothed", "")
                       .typed<SmoothedLogprobsFn>();
  return op.call(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary,
                 rnnt::schema_str(rnnt_type));
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
                 rnnt::schema_str(rnnt_type), delay_penalty, rnnt::schema_str(reduction),
                 fastemit_lambda);
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
                 rnnt::schema_str(rnnt_type), delay_penalty, rnnt::schema_str(reduction),
                 fastemit_lambda);
}

std::tuple<Tensor, Tensor> get_rnnt_logprobs_joint(const Tensor& logits, const Tensor& symbols,
                                                   int64_t termination_symbol,
                                                   std::string_view rnnt_type,
                                                   const std::optional<Tensor>& boundary) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::get_rnnt_logprobs_joint", "")
                       .typed<JointLogprobsFn>();
  return op.call(logits, symbols, termination_symbol, rnnt::schema_str(rnnt_type), boundary);
}

Tensor rnnt_loss(const Tensor& logits, const Tensor& symbols, int64_t termination_symbol,
                 const std::optional<Tensor>& boundary, std::string_view rnnt_type,
                 double delay_penalty, std::string_view reduction, double fastemit_lambda) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss", "")
                       .typed<JointLossFn>();
  return op.call(logits, symbols, termination_symbol, boundary, rnnt::schema_str(rnnt_type),
                 delay_penalty, rnnt::schema_str(reduction), fastemit_lambda);
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
