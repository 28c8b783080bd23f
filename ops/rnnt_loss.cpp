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

namespace fast_rnnt {
namespace {

using c10::SymInt;
using at::Tensor;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

enum class RnntType { kRegular, kModified, kConstrained };
enum class Reduction { kNone, kMean, kSum };

RnntType parse_rnnt_type(const char* op, std::string_view rnnt_type) {
  if (rnnt_type == "regular") return RnntType::kRegular;
  if (rnnt_type == "modified") return RnntType::kModified;
  if (rnnt_type == "constrained") return RnntType::kConstrained;
  TORCH_CHECK(false, op, ": expected rnnt_type to be 'regular', 'modified' or 'constrained', got '",
              std::string(rnnt_type), "'");
}

Reduction parse_reduction(const char* op, std::string_view reduction) {
  if (reduction == "none") return Reduction::kNone;
  if (reduction == "mean") return Reduction::kMean;
  if (reduction == "sum") return Reduction::kSum;
  TORCH_CHECK(false, op, ": expected reduction to be 'none', 'mean' or 'sum', got '",
              std::string(reduction), "'");
}

// Whether the values of t can be read: not while tracing (fake, meta or functional tensors).
bool has_values(const Tensor& t) {
  if (t.is_meta()) return false;
  const auto keys = t.key_set();
  return !keys.has(c10::DispatchKey::Python) && !keys.has(c10::DispatchKey::Functionalize);
}

bool is_float(const Tensor& t) {
  const auto d = t.scalar_type();
  return d == at::kFloat || d == at::kDouble || d == at::kHalf || d == at::kBFloat16;
}

struct LatticeSizes {
  SymInt B, S, T, C;
};

// What every loss checks once the joiner's shapes have given (B, S, T, C).
void check_common(const char* op, const LatticeSizes& n, const Tensor& symbols,
                  const Tensor& reference, int64_t termination_symbol, RnntType type,
                  const std::optional<Tensor>& boundary) {
  TORCH_CHECK(symbols.dim() == 2, op, ": expected symbols of shape (B, S), got a ", symbols.dim(),
              "-D tensor of shape ", symbols.sym_sizes());
  TORCH_CHECK_TYPE(symbols.scalar_type() == at::kLong, op, ": expected symbols to be int64, got ",
                   symbols.scalar_type());
  TORCH_CHECK(symbols.sym_size(0) == n.B && symbols.sym_size(1) == n.S, op,
              ": expected symbols of shape (B, S) = (", n.B, ", ", n.S, "), got ",
              symbols.sym_sizes());
  TORCH_CHECK(symbols.device() == reference.device(), op, ": symbols is on ", symbols.device(),
              " but the scores are on ", reference.device());
  TORCH_CHECK(termination_symbol >= 0 && n.C > termination_symbol, op,
              ": expected termination_symbol in [0, C) = [0, ", n.C, "), got ", termination_symbol);
  TORCH_CHECK(type != RnntType::kModified || n.T >= n.S, op,
              ": rnnt_type='modified' requires T >= S, got T=", n.T, " and S=", n.S);
  if (boundary.has_value()) {
    const Tensor& bd = *boundary;
    TORCH_CHECK_TYPE(bd.scalar_type() == at::kLong, op, ": expected boundary to be int64, got ",
                     bd.scalar_type());
    TORCH_CHECK(bd.dim() == 2 && bd.sym_size(0) == n.B && bd.sym_size(1) == 4, op,
                ": expected boundary of shape (B, 4) = (", n.B, ", 4), got ", bd.sym_sizes());
    TORCH_CHECK(bd.device() == reference.device(), op, ": boundary is on ", bd.device(),
                " but the scores are on ", reference.device());
  }
  if (has_values(symbols)) check_symbol_values(op, symbols, n.C.guard_int(__FILE__, __LINE__));
}

LatticeSizes check_lm_am(const char* op, const Tensor& lm, const Tensor& am,
                         const Tensor& symbols, int64_t termination_symbol, RnntType type,
                         const std::optional<Tensor>& boundary) {
  TORCH_CHECK(lm.dim() == 3, op, ": expected lm of shape (B, S+1, C), got a ", lm.dim(),
              "-D tensor of shape ", lm.sym_sizes());
  TORCH_CHECK(am.dim() == 3, op, ": expected am of shape (B, T, C), got a ", am.dim(),
              "-D tensor of shape ", am.sym_sizes());
  TORCH_CHECK_TYPE(is_float(lm), op, ": expected lm to be float32, float64, float16 or bfloat16, "
                   "got ", lm.scalar_type());
  TORCH_CHECK_TYPE(am.scalar_type() == lm.scalar_type(), op, ": lm is ", lm.scalar_type(),
                   " but am is ", am.scalar_type());
  TORCH_CHECK(am.device() == lm.device(), op, ": lm is on ", lm.device(), " but am is on ",
              am.device());
  TORCH_CHECK(lm.sym_size(0) == am.sym_size(0), op, ": batch size mismatch: lm.size(0)=",
              lm.sym_size(0), " but am.size(0)=", am.sym_size(0));
  TORCH_CHECK(lm.sym_size(2) == am.sym_size(2), op, ": number of classes mismatch: lm.size(2)=",
              lm.sym_size(2), " but am.size(2)=", am.sym_size(2));
  TORCH_CHECK(lm.sym_size(1) >= 1, op, ": expected lm of shape (B, S+1, C) with S+1 >= 1, got ",
              lm.sym_sizes());
  const LatticeSizes n{am.sym_size(0), lm.sym_size(1) - 1, am.sym_size(1), am.sym_size(2)};
  check_common(op, n, symbols, lm, termination_symbol, type, boundary);
  return n;
}

LatticeSizes check_logits(const char* op, const Tensor& logits, const Tensor& symbols,
                          int64_t termination_symbol, RnntType type,
                          const std::optional<Tensor>& boundary) {
  TORCH_CHECK(logits.dim() == 4, op, ": expected logits of shape (B, T, S+1, C), got a ",
              logits.dim(), "-D tensor of shape ", logits.sym_sizes());
  TORCH_CHECK_TYPE(is_float(logits), op,
                   ": expected logits to be float32, float64, float16 or bfloat16, got ",
                   logits.scalar_type());
  TORCH_CHECK(logits.sym_size(2) >= 1, op,
              ": expected logits of shape (B, T, S+1, C) with S+1 >= 1, got ", logits.sym_sizes());
  const LatticeSizes n{logits.sym_size(0), logits.sym_size(2) - 1, logits.sym_size(1),
                       logits.sym_size(3)};
  if (symbols.dim() == 2) {
    TORCH_CHECK(symbols.sym_size(0) == n.B && symbols.sym_size(1) == n.S, op,
                ": expected symbols of shape (B, S) = (", n.B, ", ", n.S,
                ") for logits of shape (B, T, S+1, C) = ", logits.sym_sizes(), ", got ",
                symbols.sym_sizes());
  }
  check_common(op, n, symbols, logits, termination_symbol, type, boundary);
  return n;
}

// px (B, S, T) and py (B, S+1, T) of per-cell log-probabilities -> the recursion's inputs.
std::tuple<Tensor, Tensor> place_on_lattice(Tensor px, Tensor py, RnntType type,
                                            const std::optional<Tensor>& boundary) {
  switch (type) {
    case RnntType::kRegular: {
      // No symbol can be emitted after the last frame: column T (and t_end) of px is -inf.
      const SymInt B = px.sym_size(0), S = px.sym_size(1);
      px = at::cat({px, at::full_symint({B, S, 1}, kNegInf, px.options())}, 2);
      if (boundary.has_value()) {
        const Tensor frames = at::arange(px.sym_size(2), boundary->options());
        const Tensor last = frames.view({1, 1, -1}) == boundary->select(1, 3).view({-1, 1, 1});
        px = px.masked_fill(last, kNegInf);
      }
      break;
    }
    case RnntType::kModified:
      break;
    case RnntType::kConstrained:
      px = px + py.narrow_symint(1, 1, px.sym_size(1));
      break;
  }
  // The recursion reads contiguous rows (it would copy otherwise).
  return {px.contiguous(), py.contiguous()};
}

Tensor apply_delay_penalty(const Tensor& px, RnntType type, double delay_penalty,
                           const std::optional<Tensor>& boundary) {
  if (!(delay_penalty > 0.0)) return px;  // as k2: only a positive penalty applies
  const SymInt B = px.sym_size(0), T1 = px.sym_size(2);
  const SymInt T = type == RnntType::kRegular ? T1 - 1 : T1;
  const Tensor t_end = boundary.has_value() ? boundary->select(1, 3).to(px.scalar_type())
                                            : at::full_symint({B}, c10::Scalar(T), px.options());
  const Tensor frames = at::arange(T1, px.options());
  const Tensor penalty = ((t_end - 1) / 2).view({-1, 1, 1}) - frames.view({1, 1, -1});
  return px + penalty * delay_penalty;
}

Tensor reduce(const Tensor& scores, Reduction reduction) {
  switch (reduction) {
    case Reduction::kNone:
      return -scores;
    case Reduction::kSum:
      return -scores.sum();
    case Reduction::kMean:
      break;
  }
  return -scores.mean();
}

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
  Tensor normalizers;         // (B, S+1, T): logsumexp_c(lm[b, s, c] + am[b, t, c])
  Tensor px_am, px_lm;        // (B, S, T): am[b, t, symbols[b, s]]; (B, S, 1): lm[b, s, symbols[b, s]]
  Tensor py_am, py_lm;        // (B, 1, T): am[b, t, blank]; (B, S+1, 1): lm[b, s, blank]
};

SimpleParts simple_parts(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                         int64_t termination_symbol, const LatticeSizes& n) {
  SimpleParts p;
  // The shifts only keep exp() in range; detached, the gradient flows through exp() alone and
  // is exactly that of the log-sum-exp.
  p.lm_max = std::get<0>(lm.detach().max(2, /*keepdim=*/true));
  p.am_max = std::get<0>(am.detach().max(2, /*keepdim=*/true));
  p.lm_probs = (lm - p.lm_max).exp();
  p.am_probs = (am - p.am_max).exp();
  p.normalizers = (at::matmul(p.lm_probs, p.am_probs.transpose(1, 2)) +
                   smallest_normal(lm.scalar_type()))
                      .log() +
                  p.lm_max + p.am_max.transpose(1, 2);
  // (B, T, S) gather from am, no (B, S, T, C) tensor in forward or backward.
  p.px_am = am.gather(2, symbols.unsqueeze(1).expand_symint({n.B, n.T, n.S})).transpose(1, 2);
  p.px_lm = lm.narrow_symint(1, 0, n.S).gather(2, symbols.unsqueeze(2));
  p.py_am = am.select(2, termination_symbol).unsqueeze(1);
  p.py_lm = lm.select(2, termination_symbol).unsqueeze(2);
  return p;
}

std::tuple<Tensor, Tensor> simple_logprobs(const char* op, const Tensor& lm, const Tensor& am,
                                           const Tensor& symbols, int64_t termination_symbol,
                                           RnntType type, const std::optional<Tensor>& boundary) {
  const LatticeSizes n = check_lm_am(op, lm, am, symbols, termination_symbol, type, boundary);
  const SimpleParts p = simple_parts(lm, am, symbols, termination_symbol, n);
  Tensor px = p.px_am + p.px_lm - p.normalizers.narrow_symint(1, 0, n.S);
  Tensor py = p.py_am + p.py_lm - p.normalizers;
  return place_on_lattice(std::move(px), std::move(py), type, boundary);
}

std::tuple<Tensor, Tensor> smoothed_logprobs(const char* op, const Tensor& lm, const Tensor& am,
                                             const Tensor& symbols, int64_t termination_symbol,
                                             double lm_only_scale, double am_only_scale,
                                             RnntType type,
                                             const std::optional<Tensor>& boundary) {
  const LatticeSizes n = check_lm_am(op, lm, am, symbols, termination_symbol, type, boundary);
  const SimpleParts p = simple_parts(lm, am, symbols, termination_symbol, n);
  const double tiny = smallest_normal(lm.scalar_type());
  // LM-only: log_softmax(lm[b, s]).
  const Tensor lm_sum = p.lm_probs.sum(2, /*keepdim=*/true);                   // (B, S+1, 1)
  const Tensor lm_only_norm = lm_sum.log() + p.lm_max;                          // (B, S+1, 1)
  // AM-only: log_softmax(am[b, t] + log(unigram)), unigram = mean_{b,s} softmax(lm[b, s]).
  const Tensor unigram = (p.lm_probs / lm_sum).mean({0, 1}) + tiny;             // (C,)
  const Tensor am_only_norm =
      (at::matmul(p.am_probs, unigram).log().unsqueeze(2) + p.am_max).transpose(1, 2);  // (B,1,T)
  const Tensor log_unigram = unigram.log();

  const Tensor px_joint = p.px_am + p.px_lm - p.normalizers.narrow_symint(1, 0, n.S);  // (B,S,T)
  const Tensor px_lm_only = p.px_lm - lm_only_norm.narrow_symint(1, 0, n.S);          // (B,S,1)
  const Tensor px_am_only =
      p.px_am + log_unigram.index_select(0, symbols.reshape(-1)).view_symint({n.B, n.S, 1}) -
      am_only_norm;                                                                    // (B,S,T)
  const Tensor py_joint = p.py_am + p.py_lm - p.normalizers;                           // (B,S+1,T)
  const Tensor py_lm_only = p.py_lm - lm_only_norm;                                    // (B,S+1,1)
  const Tensor py_am_only = p.py_am + log_unigram.select(0, termination_symbol) - am_only_norm;

  const double joint_scale = 1.0 - lm_only_scale - am_only_scale;
  // Zero scales would turn -inf weights into NaN (as k2).
  const double lm_scale = lm_only_scale == 0.0 ? 1e-20 : lm_only_scale;
  const double am_scale = am_only_scale == 0.0 ? 1e-20 : am_only_scale;
  Tensor px = px_joint * joint_scale + px_lm_only * lm_scale + px_am_only * am_scale;
  Tensor py = py_joint * joint_scale + py_lm_only * lm_scale + py_am_only * am_scale;
  return place_on_lattice(std::move(px), std::move(py), type, boundary);
}

std::tuple<Tensor, Tensor> joint_logprobs(const char* op, const Tensor& logits,
                                          const Tensor& symbols, int64_t termination_symbol,
                                          RnntType type, const std::optional<Tensor>& boundary) {
  const LatticeSizes n = check_logits(op, logits, symbols, termination_symbol, type, boundary);
  // One more column so that every (t, s) row of logits has a symbol: K = S+1. Its values are
  // read (as the blank) and dropped.
  const Tensor padded =
      at::cat({symbols, at::full_symint({n.B, 1}, termination_symbol, symbols.options())}, 1);
  auto [sym_lp, blank_lp] = arc_logprobs(
      logits, padded.unsqueeze(1).expand_symint({n.B, n.T, n.S + 1}), termination_symbol);
  Tensor px = sym_lp.narrow_symint(2, 0, n.S).transpose(1, 2);  // (B, S, T)
  Tensor py = blank_lp.transpose(1, 2);                          // (B, S+1, T)
  return place_on_lattice(std::move(px), std::move(py), type, boundary);
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
                 c10::string_view rnnt_type, double delay_penalty, c10::string_view reduction) {
  const RnntType type = parse_rnnt_type(op, rnnt_type);
  const Reduction red = parse_reduction(op, reduction);
  auto [px, py] = simple_logprobs(op, lm, am, symbols, termination_symbol, type, boundary);
  px = apply_delay_penalty(px, type, delay_penalty, boundary);
  if constexpr (kWithGrad) {
    auto [scores, px_grad, py_grad] = mutual_information_recursion_with_grad(px, py, boundary);
    return std::make_tuple(reduce(scores, red), px_grad, py_grad);
  } else {
    return reduce(mutual_information_recursion(px, py, boundary), red);
  }
}

Tensor rnnt_loss_simple_composite(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                                  int64_t termination_symbol,
                                  const std::optional<Tensor>& boundary,
                                  c10::string_view rnnt_type, double delay_penalty,
                                  c10::string_view reduction) {
  return simple_loss<false>("rnnt_loss_simple", lm, am, symbols, termination_symbol, boundary,
                            rnnt_type, delay_penalty, reduction);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_simple_with_grad_composite(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    const std::optional<Tensor>& boundary, c10::string_view rnnt_type, double delay_penalty,
    c10::string_view reduction) {
  return simple_loss<true>("rnnt_loss_simple_with_grad", lm, am, symbols, termination_symbol,
                           boundary, rnnt_type, delay_penalty, reduction);
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
                   double delay_penalty, c10::string_view reduction) {
  const RnntType type = parse_rnnt_type(op, rnnt_type);
  const Reduction red = parse_reduction(op, reduction);
  auto [px, py] = smoothed_logprobs(op, lm, am, symbols, termination_symbol, lm_only_scale,
                                    am_only_scale, type, boundary);
  px = apply_delay_penalty(px, type, delay_penalty, boundary);
  if constexpr (kWithGrad) {
    auto [scores, px_grad, py_grad] = mutual_information_recursion_with_grad(px, py, boundary);
    return std::make_tuple(reduce(scores, red), px_grad, py_grad);
  } else {
    return reduce(mutual_information_recursion(px, py, boundary), red);
  }
}

Tensor rnnt_loss_smoothed_composite(const Tensor& lm, const Tensor& am, const Tensor& symbols,
                                    int64_t termination_symbol, double lm_only_scale,
                                    double am_only_scale, const std::optional<Tensor>& boundary,
                                    c10::string_view rnnt_type, double delay_penalty,
                                    c10::string_view reduction) {
  return smoothed_loss<false>("rnnt_loss_smoothed", lm, am, symbols, termination_symbol,
                              lm_only_scale, am_only_scale, boundary, rnnt_type, delay_penalty,
                              reduction);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_smoothed_with_grad_composite(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    double lm_only_scale, double am_only_scale, const std::optional<Tensor>& boundary,
    c10::string_view rnnt_type, double delay_penalty, c10::string_view reduction) {
  return smoothed_loss<true>("rnnt_loss_smoothed_with_grad", lm, am, symbols, termination_symbol,
                             lm_only_scale, am_only_scale, boundary, rnnt_type, delay_penalty,
                             reduction);
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
                           c10::string_view reduction) {
  constexpr char op[] = "rnnt_loss";
  const RnntType type = parse_rnnt_type(op, rnnt_type);
  const Reduction red = parse_reduction(op, reduction);
  auto [px, py] = joint_logprobs(op, logits, symbols, termination_symbol, type, boundary);
  px = apply_delay_penalty(px, type, delay_penalty, boundary);
  return reduce(mutual_information_recursion(px, py, boundary), red);
}

}  // namespace

// ---- C++ entry points (through the dispatcher) ------------------------------------------------

using LogprobsFn = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                              int64_t, c10::string_view,
                                              const std::optional<Tensor>&);
using SimpleLossFn = Tensor(const Tensor&, const Tensor&, const Tensor&, int64_t,
                            const std::optional<Tensor>&, c10::string_view, double,
                            c10::string_view);
using SimpleLossWithGradFn = std::tuple<Tensor, Tensor, Tensor>(
    const Tensor&, const Tensor&, const Tensor&, int64_t, const std::optional<Tensor>&,
    c10::string_view, double, c10::string_view);
using SmoothedLogprobsFn = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                                      int64_t, double, double,
                                                      const std::optional<Tensor>&,
                                                      c10::string_view);
using SmoothedLossFn = Tensor(const Tensor&, const Tensor&, const Tensor&, int64_t, double, double,
                              const std::optional<Tensor>&, c10::string_view, double,
                              c10::string_view);
using SmoothedLossWithGradFn = std::tuple<Tensor, Tensor, Tensor>(
    const Tensor&, const Tensor&, const Tensor&, int64_t, double, double,
    const std::optional<Tensor>&, c10::string_view, double, c10::string_view);
using JointLogprobsFn = std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, int64_t,
                                                   c10::string_view, const std::optional<Tensor>&);
using JointLossFn = Tensor(const Tensor&, const Tensor&, int64_t, const std::optional<Tensor>&,
                           c10::string_view, double, c10::string_view);

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
                        std::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_simple", "")
                       .typed<SimpleLossFn>();
  return op.call(lm, am, symbols, termination_symbol, boundary, rnnt_type, delay_penalty,
                 reduction);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_simple_with_grad(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    const std::optional<Tensor>& boundary, std::string_view rnnt_type, double delay_penalty,
    std::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_simple_with_grad", "")
                       .typed<SimpleLossWithGradFn>();
  return op.call(lm, am, symbols, termination_symbol, boundary, rnnt_type, delay_penalty,
                 reduction);
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
                          double delay_penalty, std::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_smoothed", "")
                       .typed<SmoothedLossFn>();
  return op.call(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary,
                 rnnt_type, delay_penalty, reduction);
}

std::tuple<Tensor, Tensor, Tensor> rnnt_loss_smoothed_with_grad(
    const Tensor& lm, const Tensor& am, const Tensor& symbols, int64_t termination_symbol,
    double lm_only_scale, double am_only_scale, const std::optional<Tensor>& boundary,
    std::string_view rnnt_type, double delay_penalty, std::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss_smoothed_with_grad", "")
                       .typed<SmoothedLossWithGradFn>();
  return op.call(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary,
                 rnnt_type, delay_penalty, reduction);
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
                 double delay_penalty, std::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::rnnt_loss", "")
                       .typed<JointLossFn>();
  return op.call(logits, symbols, termination_symbol, boundary, rnnt_type, delay_penalty,
                 reduction);
}

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("get_rnnt_logprobs(Tensor lm, Tensor am, Tensor symbols, int termination_symbol, "
        "str rnnt_type=\"regular\", Tensor? boundary=None) -> (Tensor px, Tensor py)");
  m.def("rnnt_loss_simple(Tensor lm, Tensor am, Tensor symbols, int termination_symbol, "
        "Tensor? boundary=None, str rnnt_type=\"regular\", float delay_penalty=0.0, "
        "str reduction=\"mean\") -> Tensor");
  m.def("rnnt_loss_simple_with_grad(Tensor lm, Tensor am, Tensor symbols, "
        "int termination_symbol, Tensor? boundary=None, str rnnt_type=\"regular\", "
        "float delay_penalty=0.0, str reduction=\"mean\") "
        "-> (Tensor loss, Tensor px_grad, Tensor py_grad)");
  m.def("get_rnnt_logprobs_smoothed(Tensor lm, Tensor am, Tensor symbols, "
        "int termination_symbol, float lm_only_scale=0.1, float am_only_scale=0.1, "
        "Tensor? boundary=None, str rnnt_type=\"regular\") -> (Tensor px, Tensor py)");
  m.def("rnnt_loss_smoothed(Tensor lm, Tensor am, Tensor symbols, int termination_symbol, "
        "float lm_only_scale=0.1, float am_only_scale=0.1, Tensor? boundary=None, "
        "str rnnt_type=\"regular\", float delay_penalty=0.0, str reduction=\"mean\") -> Tensor");
  m.def("rnnt_loss_smoothed_with_grad(Tensor lm, Tensor am, Tensor symbols, "
        "int termination_symbol, float lm_only_scale=0.1, float am_only_scale=0.1, "
        "Tensor? boundary=None, str rnnt_type=\"regular\", float delay_penalty=0.0, "
        "str reduction=\"mean\") -> (Tensor loss, Tensor px_grad, Tensor py_grad)");
  m.def("get_rnnt_logprobs_joint(Tensor logits, Tensor symbols, int termination_symbol, "
        "str rnnt_type=\"regular\", Tensor? boundary=None) -> (Tensor px, Tensor py)");
  m.def("rnnt_loss(Tensor logits, Tensor symbols, int termination_symbol, "
        "Tensor? boundary=None, str rnnt_type=\"regular\", float delay_penalty=0.0, "
        "str reduction=\"mean\") -> Tensor");
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
