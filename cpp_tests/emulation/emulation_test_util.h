#pragma once
// Shared by the emulation tests: comparisons with the CPU kernels' results.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <string>

namespace fast_rnnt::testing {

// Tolerance for comparing an emulated CUDA result with the CPU kernel's: 1e-6 relative in
// float32 (as the issue asks; the summation orders differ), 1e-12 in float64, and one rounding
// of the output dtype for float16/bfloat16 results.
inline double rtol_for(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return 1e-12;
    case at::kFloat: return 1e-6;
    case at::kHalf: return 1e-3;
    default: return 8e-3;  // bfloat16
  }
}

// Same shape and dtype, NaN where the other has NaN, equal infinities, finite values within
// rtol relative (and rtol absolute near zero).
inline ::testing::AssertionResult same_values(const at::Tensor& actual,
                                              const at::Tensor& expected, double rtol = -1) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " vs " << expected.sizes();
  }
  if (actual.scalar_type() != expected.scalar_type()) {
    return ::testing::AssertionFailure() << "dtype " << actual.scalar_type() << " vs "
                                         << expected.scalar_type();
  }
  if (rtol < 0) rtol = rtol_for(expected.scalar_type());
  const auto a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  if (!at::equal(a.isnan(), e.isnan())) {
    return ::testing::AssertionFailure() << "NaN at different places: " << a.isnan().sum().item<int64_t>()
                                         << " vs " << e.isnan().sum().item<int64_t>() << " NaNs";
  }
  const auto finite = e.isfinite();
  if (!at::equal(a.masked_fill(finite, 0).nan_to_num(0), e.masked_fill(finite, 0).nan_to_num(0))) {
    return ::testing::AssertionFailure() << "infinities differ";
  }
  const auto err = ((a - e).abs() / e.abs().clamp_min(1)).masked_fill(~finite, 0);
  const double worst = err.numel() ? err.max().item<double>() : 0;
  if (worst > rtol) {
    return ::testing::AssertionFailure() << "relative error " << worst << " > " << rtol << " at flat index "
                                         << err.argmax().item<int64_t>();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace fast_rnnt::testing
