#pragma once
// Device code of the fused joiner-logits read of the duration-lattice losses
// (duration_arc_logprobs in include/fast_rnnt/duration_lattice.h): only __global__ and
// __device__ functions, no ATen.
//
// Parallel scheme, as arc_logprobs_kernel.cu: one warp per row of C + D logits. Forward: each
// lane keeps an online (max, sum of exp) pair over its token columns and another over its
// duration columns; a butterfly of warp shuffles merges them (commutative, so every lane holds
// the same bits), and lane 0 writes the row's arc weights and two normalizers. Backward: each
// lane writes its columns of grad_logits once, from the saved normalizers and the row's arc
// gradients. No atomics, no shared memory.
#include <cmath>
#include <cstdint>

#include "ops/cuda/device_api.cuh"

namespace fast_rnnt::cuda {
namespace {  // included by one translation unit per build: the launcher, or an emulation test

constexpr int kRowWarpSize = 32;

// Row r = (b, t, k) of a (B, T, K, ...) tensor with the given strides.
struct RowStrides {
  int64_t T, K, s0, s1, s2;
  __device__ int64_t operator()(int64_t r) const {
    const int64_t k = r % K, bt = r / K;
    return (bt / T) * s0 + (bt % T) * s1 + k * s2;
  }
};

struct DurationArcArgs {
  RowStrides logit_row, symbol_at;
  GlobalPtr<const int64_t> symbols;
  GlobalPtr<const int64_t> blanks;  // (Nb,) for D == 0, (1,) for D > 0; device memory
  int64_t rows, C, D, Nb;  // Nb: blank columns of the output
};

template <typename T>
__device__ __forceinline__ T row_neg_inf() {
  return -__builtin_huge_valf();
}
template <>
__device__ __forceinline__ double row_neg_inf<double>() {
  return -__builtin_huge_val();
}

template <typename T>
__device__ __forceinline__ void merge_pair(T& m, T& s, T m2, T s2) {
  const T hi = m > m2 ? m : m2;
  if (hi == row_neg_inf<T>()) return;
  s = (m == row_neg_inf<T>() ? T(0) : s * exp(m - hi)) +
      (m2 == row_neg_inf<T>() ? T(0) : s2 * exp(m2 - hi));
  m = hi;
}

// log-sum-exp of x[begin:end) over the warp; every lane gets the same value; NaN in, NaN out.
template <typename scalar_t, typename acc_t>
__device__ acc_t warp_log_sum_exp(GlobalPtr<const scalar_t> x, int64_t begin, int64_t end, int lane) {
  acc_t m = row_neg_inf<acc_t>(), s = 0;
  bool nan = false;
  for (int64_t c = begin + lane; c < end; c += kRowWarpSize) {
    const acc_t v = static_cast<acc_t>(x[c]);
    nan = nan || isnan(v);
    merge_pair(m, s, v, acc_t(1));
  }
  for (int offset = kRowWarpSize / 2; offset > 0; offset /= 2) {
    const acc_t m2 = __shfl_xor_sync(0xffffffffu, m, offset);
    const acc_t s2 = __shfl_xor_sync(0xffffffffu, s, offset);
    merge_pair(m, s, m2, s2);
  }
  nan = __any_sync(0xffffffffu, nan);
  if (nan) return acc_t(NAN);
  return isinf(m) ? m : m + log(s);
}

template <typename scalar_t, typename acc_t>
__global__ void duration_arc_logprobs_forward_rows(RestrictPtr<const scalar_t> logits,
                                                   DurationArcArgs a, acc_t sigma,
                                                   RestrictPtr<acc_t> sym_out,
                                                   RestrictPtr<acc_t> blank_out,
                                                   RestrictPtr<acc_t> norm_out) {
  const int lane = threadIdx.x % kRowWarpSize;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kRowWarpSize) +
                    threadIdx.x / kRowWarpSize;
  if (r >= a.rows) return;  // whole warps leave together
  const auto x = logits + a.logit_row(r);
  const acc_t lse = warp_log_sum_exp<scalar_t, acc_t>(x, 0, a.C, lane);
  const acc_t dur_lse = a.D > 0 ? warp_log_sum_exp<scalar_t, acc_t>(x, a.C, a.C + a.D, lane)
                                : acc_t(0);
  if (lane != 0) return;
  const int64_t Ns = a.D > 0 ? a.D : 1;
  const auto sym = sym_out + r * Ns;
  const auto blank = blank_out + r * a.Nb;
  norm_out[2 * r] = lse;
  norm_out[2 * r + 1] = dur_lse;
  // A row masked entirely (every token logit -inf) has no arcs: -inf, not -inf - -inf = NaN.
  if (lse == row_neg_inf<acc_t>()) {
    for (int64_t i = 0; i < Ns; ++i) sym[i] = lse;
    for (int64_t j = 0; j < a.Nb; ++j) blank[j] = lse;
    return;
  }
  const acc_t sym_tok = static_cast<acc_t>(x[a.symbols[a.symbol_at(r)]]) - lse - sigma;
  if (a.D == 0) {
    sym[0] = sym_tok;
    for (int64_t j = 0; j < a.Nb; ++j) blank[j] = static_cast<acc_t>(x[a.blanks[j]]) - lse - sigma;
  } else {
    const acc_t blank_tok = static_cast<acc_t>(x[a.blanks[0]]) - lse - sigma;
    for (int64_t i = 0; i < a.D; ++i) sym[i] = sym_tok + (static_cast<acc_t>(x[a.C + i]) - dur_lse);
    for (int64_t j = 0; j + 1 < a.D; ++j) {
      blank[j] = blank_tok + (static_cast<acc_t>(x[a.C + j + 1]) - dur_lse);
    }
  }
}

template <typename scalar_t, typename acc_t>
__global__ void duration_arc_logprobs_backward_rows(RestrictPtr<const scalar_t> logits,
                                                    DurationArcArgs a,
                                                    RestrictPtr<const acc_t> norm,
                                                    RestrictPtr<const acc_t> sym_grad,
                                                    RestrictPtr<const acc_t> blank_grad,
                                                    acc_t fastemit,  // 1 + fastemit_lambda
                                                    RestrictPtr<scalar_t> grad) {
  const int lane = threadIdx.x % kRowWarpSize;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kRowWarpSize) +
                    threadIdx.x / kRowWarpSize;
  if (r >= a.rows) return;
  const int64_t L = a.C + a.D, Ns = a.D > 0 ? a.D : 1;
  const auto x = logits + a.logit_row(r);
  const auto out = grad + r * L;
  const auto g_sym = sym_grad + r * Ns;
  const auto g_blank = blank_grad + r * a.Nb;
  const acc_t lse = norm[2 * r], dur_lse = norm[2 * r + 1];
  if (lse == row_neg_inf<acc_t>()) {  // masked row: constant -inf outputs, zero gradient
    for (int64_t c = lane; c < L; c += kRowWarpSize) out[c] = static_cast<scalar_t>(0);
    return;
  }
  acc_t sym_total = 0, blank_total = 0;
  for (int64_t i = 0; i < Ns; ++i) sym_total += g_sym[i];
  for (int64_t j = 0; j < a.Nb; ++j) blank_total += g_blank[j];
  // FastEmit scales what reaches the symbol arcs' token log-probability, not their durations'.
  const acc_t sym_token = sym_total * fastemit;
  const acc_t token_total = sym_token + blank_total, total = sym_total + blank_total;
  const int64_t v = a.symbols[a.symbol_at(r)];
  for (int64_t c = lane; c < L; c += kRowWarpSize) {
    const acc_t xc = static_cast<acc_t>(x[c]);
    acc_t g;
    if (c < a.C) {
      g = -token_total * exp(xc - lse) + (c == v ? sym_token : acc_t(0));
      if (a.D == 0) {
        for (int64_t j = 0; j < a.Nb; ++j) g += a.blanks[j] == c ? g_blank[j] : acc_t(0);
      } else if (a.blanks[0] == c) {
        g += blank_total;
      }
    } else {
      const int64_t i = c - a.C;
      g = -total * exp(xc - dur_lse) + g_sym[i] + (i >= 1 ? g_blank[i - 1] : acc_t(0));
    }
    out[c] = static_cast<scalar_t>(g);
  }
}

}  // namespace
}  // namespace fast_rnnt::cuda
