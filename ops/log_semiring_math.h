#pragma once
// The two transcendental functions of the recursion's log-semiring addition in float32,
//   log(exp(a) + exp(b)) = hi + log1p(exp(lo - hi)),
// written once for every place that runs it: the CPU's SIMD loops (at::vec::Vectorized<float>,
// ops/cpu/log_semiring_impl.h), the CUDA kernels (ops/cuda/mutual_information_kernels.cuh) and
// their emulation on the CPU. Each function is a fixed sequence of IEEE operations (+, -, *, /,
// fused multiply-adds and one exponent-field shift), so the three give the same bits for the same
// input, and the CPU and CUDA recursions agree bit for bit in float32 (the general-purpose exp of
// each platform differs in the last bit, which over a few hundred waves grew to 1e-5 in the
// gradients). double keeps each platform's own exp and log1p.
//
// A number type V is used through an Ops policy with three static members:
//   V fma(V a, V b, V c)             a * b + c, rounded once;
//   V pow2_of_shifted(V t)           2^k, for t = k + kPow2Shifter with k an integer in [-126, 0]
//                                    (its float bits shifted left by 23: the exponent field of 2^k);
//   V zero_below(V y, V x, float c)  y, with 0 where x < c.
// FloatOps (below) is float's, for host and device; the SIMD loops define their own.
//
// The compilers must not fuse a * b + c on their own on one side only: CMakeLists.txt turns
// contraction off for the translation units that instantiate these.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/host_device.h"

namespace fast_rnnt::log_semiring {

// 1.5 * 2^23 + 127: x log2(e) + kPow2Shifter, rounded to float, is round(x log2(e)) + kPow2Shifter
// exactly, and its low mantissa bits hold round(x log2(e)) + 127.
constexpr float kPow2Shifter = 12583039.0f;
// Below this exp_nonpositive returns 0: e^-87 = 1.6e-38, next to float's smallest normal number.
constexpr float kExpCutoff = -87.0f;

// exp(x) for x <= 0 (NaN for NaN, 0 for -inf and below kExpCutoff): x = k ln2 + r with
// |r| <= ln2 / 2 (ln2 in two parts, Cody and Waite), exp(r) by a degree-7 polynomial (Cephes'
// expf coefficients), times 2^k. Within 1 ulp of the exact value (cpp_tests/test_log_semiring_math.cpp).
template <typename Ops, typename V>
FAST_RNNT_HOST_DEVICE V exp_nonpositive(V x) {
  const V t = Ops::fma(x, V(1.44269504089f), V(kPow2Shifter));
  const V k = t - V(kPow2Shifter);
  V r = Ops::fma(k, V(-0.693359375f), x);
  r = Ops::fma(k, V(2.12194440e-4f), r);
  V p = V(1.9875691500e-4f);
  p = Ops::fma(p, r, V(1.3981999507e-3f));
  p = Ops::fma(p, r, V(8.3334519073e-3f));
  p = Ops::fma(p, r, V(4.1665795894e-2f));
  p = Ops::fma(p, r, V(1.6666665459e-1f));
  p = Ops::fma(p, r, V(5.0000001201e-1f));
  const V y = Ops::fma(p, r * r, r) + V(1.0f);
  return Ops::zero_below(y * Ops::pow2_of_shifted(t), x, kExpCutoff);
}

// log1p(e) for e in [0, 1] (NaN for NaN), as 2 atanh(u) with u = e / (2 + e) <= 1/3, by its series
// to u^15 (truncation below 2e-9 relative): within 1.1 ulp of the exact value (mean 0.33 ulp, no
// bias). The quotient is corrected by its residual, exact but for the small error of 1 / (2 + e)
// taken as a quadratic in e - 1/2 (a correction of a correction).
template <typename Ops, typename V>
FAST_RNNT_HOST_DEVICE V log1p_unit(V e) {
  const V two(2.0f);
  const V d = two + e;
  const V d_low = e - (d - two);  // d - two is exact: 2 <= d <= 3
  V u = e / d;
  const V minus_u = V(0.0f) - u;
  const V residual = Ops::fma(minus_u, d_low, Ops::fma(minus_u, d, e));  // e - u (2 + e)
  const V h = e - V(0.5f);
  const V inv_d = Ops::fma(Ops::fma(h, V(0.064f), V(-0.16f)), h, V(0.4f));  // ~ 1 / (2.5 + h)
  u = Ops::fma(residual, inv_d, u);
  const V z = u * u;
  V p(1.0f / 15);
  p = Ops::fma(p, z, V(1.0f / 13));
  p = Ops::fma(p, z, V(1.0f / 11));
  p = Ops::fma(p, z, V(1.0f / 9));
  p = Ops::fma(p, z, V(1.0f / 7));
  p = Ops::fma(p, z, V(1.0f / 5));
  p = Ops::fma(p, z, V(1.0f / 3));
  const V two_u = u + u;
  return Ops::fma(two_u * z, p, two_u);  // the small correction rounded on its own
}

struct FloatOps {
  static FAST_RNNT_HOST_DEVICE float fma(float a, float b, float c) { return fmaf(a, b, c); }
  static FAST_RNNT_HOST_DEVICE float pow2_of_shifted(float t) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(__float_as_uint(t) << 23);
#else
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits <<= 23;
    float y;
    memcpy(&y, &bits, sizeof y);
    return y;
#endif
  }
  static FAST_RNNT_HOST_DEVICE float zero_below(float y, float x, float c) {
    return x < c ? 0.0f : y;
  }
};

FAST_RNNT_HOST_DEVICE float exp_nonpositive(float x) { return exp_nonpositive<FloatOps>(x); }
FAST_RNNT_HOST_DEVICE float log1p_unit(float e) { return log1p_unit<FloatOps>(e); }
FAST_RNNT_HOST_DEVICE double exp_nonpositive(double x) { return exp(x); }
FAST_RNNT_HOST_DEVICE double log1p_unit(double e) { return log1p(e); }

}  // namespace fast_rnnt::log_semiring
