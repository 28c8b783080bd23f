#pragma once
// Validation of the inputs of the fused lm/am op (smoothed_arc_logprobs and its private forward
// and backward), shared by the CPU and CUDA kernels so that every caller sees the same errors.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <optional>

#include "ops/rnnt_loss_checks.h"

namespace fast_rnnt {

struct SmoothedSizes {
  int64_t B, S, T, C;
  bool with_unigram;                                   // am_only_scale != 0: one more row
  int64_t rows() const { return S + 1 + (with_unigram ? 1 : 0); }  // R of lm_rows and sums
};

inline void check_smoothed_scales(const char* op, double lm_only_scale, double am_only_scale) {
  TORCH_CHECK(std::isfinite(lm_only_scale) && std::isfinite(am_only_scale), op,
              ": expected finite lm_only_scale and am_only_scale, got ", lm_only_scale, " and ",
              am_only_scale);
}

// (lm, am, symbols, termination_symbol, scales) of the forward: the checks of the losses.
inline SmoothedSizes check_smoothed_inputs(const char* op, const at::Tensor& lm,
                                           const at::Tensor& am, const at::Tensor& symbols,
                                           int64_t termination_symbol, double lm_only_scale,
                                           double am_only_scale) {
  check_smoothed_scales(op, lm_only_scale, am_only_scale);
  const auto n = rnnt::check_lm_am(op, lm, am, symbols, termination_symbol,
                                   rnnt::RnntType::kRegular, std::nullopt);
  return {n.B.expect_int(), n.S.expect_int(), n.T.expect_int(), n.C.expect_int(),
          am_only_scale != 0.0};
}

// The inputs of _smoothed_arc_logprobs_backward. The CUDA backward skips the symbol values
// (check_values=false): the forward checked them.
inline SmoothedSizes check_smoothed_backward_inputs(
    const char* op, const at::Tensor& px_grad, const at::Tensor& py_grad,
    const at::Tensor& symbols, int64_t termination_symbol, double lm_only_scale,
    double am_only_scale, const at::Tensor& lm_rows, const at::Tensor& am_probs,
    const at::Tensor& sums, bool check_values = true) {
  check_smoothed_scales(op, lm_only_scale, am_only_scale);
  TORCH_CHECK(am_probs.dim() == 3, op, ": expected am_probs of shape (B, T, C), got a ",
              am_probs.dim(), "-D tensor of shape ", am_probs.sizes());
  TORCH_CHECK(symbols.dim() == 2 && symbols.scalar_type() == at::kLong, op,
              ": expected symbols of shape (B, S) and dtype int64, got ", symbols.scalar_type(),
              " of shape ", symbols.sizes());
  const SmoothedSizes n{am_probs.size(0), symbols.size(1), am_probs.size(1), am_probs.size(2),
                        am_only_scale != 0.0};
  const at::ScalarType dtype = am_probs.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, op,
              ": expected am_probs to be float32 or float64, got ", dtype);
  auto check = [&](const char* name, const at::Tensor& t, c10::IntArrayRef shape) {
    TORCH_CHECK(t.sizes() == shape, op, ": expected ", name, " of shape ", shape, ", got ",
                t.sizes());
    TORCH_CHECK(t.scalar_type() == dtype, op, ": expected ", name, " to be ", dtype, " (as am_probs), got ",
                t.scalar_type());
    TORCH_CHECK(t.device() == am_probs.device(), op, ": ", name, " is on ", t.device(),
                " but am_probs is on ", am_probs.device());
  };
  check("px_grad", px_grad, {n.B, n.S, n.T});
  check("py_grad", py_grad, {n.B, n.S + 1, n.T});
  check("lm_rows", lm_rows, {n.B, n.rows(), n.C});
  check("sums", sums, {n.B, n.rows(), n.T});
  TORCH_CHECK(symbols.size(0) == n.B && symbols.device() == am_probs.device(), op,
              ": expected symbols of shape (B, S) with B=", n.B, " on ", am_probs.device(),
              ", got shape ", symbols.sizes(), " on ", symbols.device());
  check_termination_symbol(op, termination_symbol, n.C);
  if (check_values) check_symbol_values(op, symbols, n.C);
  return n;
}

}  // namespace fast_rnnt
