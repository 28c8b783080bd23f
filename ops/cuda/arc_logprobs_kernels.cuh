#pragma once
// CUDA kernels of the fused joiner-logits ops (device code only: no ATen). Compiled by nvcc for
// ops/cuda/arc_logprobs_kernel.cu, and as host C++ under emulation in cpp_tests/.
//
// Parallel scheme: one warp per row of C logits, kWarps rows per block. Forward: each lane keeps
// an online (max, sum of exp) pair over the classes c = lane, lane+32, ..., so the row is read
// from global memory exactly once with coalesced loads; the 32 pairs are merged by a butterfly
// of warp shuffles (commutative merges, so every lane holds the same bits and the result does
// not depend on scheduling), and lane 0 writes the row's two log-probabilities and normalizer.
// Backward: the same warp-per-row layout; each lane writes its classes of grad_logits once,
// from the saved normalizer, in the dtype of logits. No atomics, no shared memory.
#include <cstdint>
#include <limits>

#include "ops/cuda/device_api.cuh"

namespace fast_rnnt {
namespace {  // included by one translation unit per build: the launcher, or an emulation test

constexpr int kArcWarpSize = 32;
constexpr int kArcWarps = 8;  // rows per block
constexpr int kArcThreads = kArcWarps * kArcWarpSize;

// Row r = (b, t, k) of a (B, T, K, ...) tensor with the given strides.
struct RowAddress {
  int64_t T, K, s0, s1, s2;
  __host__ __device__ int64_t operator()(int64_t r) const {
    const int64_t k = r % K, bt = r / K;
    return (bt / T) * s0 + (bt % T) * s1 + k * s2;
  }
};

template <typename T>
__device__ __forceinline__ T arc_neg_inf() {
  return -std::numeric_limits<T>::infinity();
}

template <typename T>
__device__ __forceinline__ T log_sigmoid(T z) {
  return min(z, T(0)) - log1p(exp(-abs(z)));
}

template <typename T>
__device__ __forceinline__ T sigmoid(T z) {
  return z >= T(0) ? T(1) / (T(1) + exp(-z)) : exp(z) / (T(1) + exp(z));
}

// Merges the (max, sum of exp(x - max)) pair (m2, s2) into (m, s).
template <typename T>
__device__ __forceinline__ void merge(T& m, T& s, T m2, T s2) {
  const T hi = max(m, m2);
  if (hi == arc_neg_inf<T>()) return;  // both empty
  s = (m == arc_neg_inf<T>() ? T(0) : s * exp(m - hi)) +
      (m2 == arc_neg_inf<T>() ? T(0) : s2 * exp(m2 - hi));
  m = hi;
}

template <typename scalar_t, typename acc_t>
__global__ void arc_logprobs_forward_rows(RestrictPtr<const scalar_t> logits, RowAddress logit_row,
                                          RestrictPtr<const int64_t> symbols,
                                          RowAddress symbol_at, int64_t rows, int64_t C,
                                          int64_t blank, bool hat, RestrictPtr<acc_t> sym_out,
                                          RestrictPtr<acc_t> blank_out,
                                          RestrictPtr<acc_t> norm_out) {
  const int lane = threadIdx.x % kArcWarpSize;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kArcWarps + threadIdx.x / kArcWarpSize;
  if (r >= rows) return;  // whole warps leave together
  const auto x = logits + logit_row(r);
  const int64_t first = hat ? 1 : 0;
  acc_t m = arc_neg_inf<acc_t>(), s = 0;
  bool nan = false;  // max() drops NaNs: they are tracked apart and poison the row at the end
  for (int64_t c = first + lane; c < C; c += kArcWarpSize) {
    const acc_t v = static_cast<acc_t>(x[c]);
    if (v > m) {
      s = (m == arc_neg_inf<acc_t>() ? acc_t(0) : s * exp(m - v)) + acc_t(1);
      m = v;
    } else if (v != arc_neg_inf<acc_t>()) {
      nan = nan || isnan(v);
      s += exp(v - m);
    }
  }
  for (int offset = kArcWarpSize / 2; offset > 0; offset /= 2) {
    const acc_t m2 = __shfl_xor_sync(0xffffffffu, m, offset);
    const acc_t s2 = __shfl_xor_sync(0xffffffffu, s, offset);
    merge(m, s, m2, s2);
  }
  nan = __any_sync(0xffffffffu, nan);
  if (lane != 0) return;
  const acc_t lse = nan ? acc_t(NAN) : (isinf(m) ? m : m + log(s));
  const int64_t v = symbols[symbol_at(r)];
  const acc_t x_sym = (v >= 0 && v < C) ? static_cast<acc_t>(x[v]) : acc_t(NAN);
  // A row masked entirely (every logit -inf) has no arcs: -inf, not -inf - -inf = NaN.
  const bool masked = lse == arc_neg_inf<acc_t>();
  if (!hat) {
    sym_out[r] = masked ? arc_neg_inf<acc_t>() : x_sym - lse;
    blank_out[r] = masked ? arc_neg_inf<acc_t>() : static_cast<acc_t>(x[blank]) - lse;
  } else {
    const acc_t x0 = static_cast<acc_t>(x[0]);
    sym_out[r] = masked ? arc_neg_inf<acc_t>() : x_sym - lse + log_sigmoid(-x0);
    blank_out[r] = log_sigmoid(x0);
  }
  norm_out[r] = lse;
}

template <typename scalar_t, typename acc_t>
__global__ void arc_logprobs_backward_rows(RestrictPtr<const scalar_t> logits,
                                           RowAddress logit_row,
                                           RestrictPtr<const int64_t> symbols,
                                           RowAddress symbol_at, int64_t rows, int64_t C,
                                           int64_t blank, bool hat,
                                           RestrictPtr<const acc_t> norm,
                                           RestrictPtr<const acc_t> sym_grad,
                                           RestrictPtr<const acc_t> blank_grad,
                                           RestrictPtr<scalar_t> grad) {
  const int lane = threadIdx.x % kArcWarpSize;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kArcWarps + threadIdx.x / kArcWarpSize;
  if (r >= rows) return;
  const auto x = logits + logit_row(r);
  const auto out = grad + r * C;
  const int64_t v = symbols[symbol_at(r)];
  const acc_t lse = norm[r], g_blank = blank_grad[r];
  // A row masked entirely (normalizer -inf) gave constant -inf outputs: zero gradient.
  const bool masked = lse == arc_neg_inf<acc_t>();
  const acc_t g_sym = masked ? acc_t(0) : sym_grad[r];
  for (int64_t c = lane; c < C; c += kArcWarpSize) {
    const acc_t xc = static_cast<acc_t>(x[c]);
    acc_t g;
    if (!hat) {
      g = masked ? acc_t(0)
                 : -(g_sym + g_blank) * exp(xc - lse) + (c == blank ? g_blank : acc_t(0));
    } else if (c == 0) {
      g = g_blank * sigmoid(-xc) - g_sym * sigmoid(xc);
    } else {
      g = masked ? acc_t(0) : -g_sym * exp(xc - lse);
    }
    if (c == v) g += g_sym;
    out[c] = static_cast<scalar_t>(g);
  }
}

}  // namespace
}  // namespace fast_rnnt
