#pragma once
// The steps every RNN-T loss shares after its per-cell log-probabilities (k2's layout): FastEmit,
// placing them on the recursion's lattice for each rnnt_type, the delay penalty, the recursion and
// the reduction.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <optional>

#include "fast_rnnt/mutual_information.h"
#include "fast_rnnt/scale_grad.h"
#include "ops/rnnt_loss_checks.h"

// Internal to the loss composites; a namespace of their own keeps these names clear of the
// kernels' anonymous namespaces.
namespace fast_rnnt::rnnt {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// FastEmit on the per-cell symbol log-probabilities (before placement, so that in "constrained"
// the blank part of a symbol arc keeps its own gradient): the same values, whose gradient is
// multiplied by 1 + fastemit_lambda; px itself when fastemit_lambda is 0.
inline Tensor fastemit(const char* op, Tensor px, double fastemit_lambda) {
  TORCH_CHECK(std::isfinite(fastemit_lambda) && fastemit_lambda >= 0.0, op,
              ": expected fastemit_lambda to be finite and >= 0, got ", fastemit_lambda);
  if (fastemit_lambda == 0.0) return px;
  return fast_rnnt::detail::_scale_grad(px, 1.0 + fastemit_lambda);
}

// px (B, S, T) and py (B, S+1, T) of per-cell log-probabilities -> the recursion's inputs.
inline std::tuple<Tensor, Tensor> place_on_lattice(Tensor px, Tensor py, RnntType type,
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

inline Tensor apply_delay_penalty(const Tensor& px, RnntType type, double delay_penalty,
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

inline Tensor reduce_loss(const Tensor& scores, Reduction reduction) {
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

// The loss of the recursion's inputs: delay penalty on px, the recursion, the reduction. With
// kWithGrad also the occupancies of the recursion's inputs (independent of the reduction).
template <bool kWithGrad>
auto lattice_loss(const Tensor& px, const Tensor& py, RnntType type, double delay_penalty,
                  const std::optional<Tensor>& boundary, Reduction reduction) {
  const Tensor penalized = apply_delay_penalty(px, type, delay_penalty, boundary);
  if constexpr (kWithGrad) {
    auto [scores, px_grad, py_grad] = mutual_information_recursion_with_grad(penalized, py, boundary);
    return std::make_tuple(reduce_loss(scores, reduction), px_grad, py_grad);
  } else {
    return reduce_loss(mutual_information_recursion(penalized, py, boundary), reduction);
  }
}

}  // namespace fast_rnnt::rnnt
