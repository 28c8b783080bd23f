#pragma once
// CUDA kernels of the mutual-information recursion: device code only (no ATen), so that the CPU
// tests can also compile it as host C++ under an emulated launch. Host launcher:
// mutual_information_kernel.cu; launch configuration: mutual_information_launch.h; lattice
// geometry and the accuracy scheme: ../mutual_information_lattice.h.
//
// Parallel scheme: one thread block per sequence, so sequences of very different lengths in one
// batch each take exactly their own number of steps and nothing is spent on padding. A block
// sweeps its lattice in waves whose cells depend only on the previous wave: the threads split a
// wave's cells and meet at one __syncthreads() per wave. Forward: two wave rows per sequence in
// global memory, each wave relative to the previous wave's largest finite value (a warp-shuffle
// maximum per warp, combined by every thread after the barrier); with_grad also saves one
// ratio per cell. Backward: thread s of wave w reads what cell s's two outgoing arcs carry
// back from wave w+1, splits that occupancy between its own two incoming arcs and writes both
// shares, so every value has exactly one writer (deterministic, no atomics).
#include <cstdint>
#include <limits>

#include "ops/cuda/device_api.cuh"
#include "ops/cuda/mutual_information_launch.h"
#include "ops/log_semiring_math.h"
#include "ops/mutual_information_lattice.h"

namespace fast_rnnt::recursion_cuda {

template <typename T>
__device__ __forceinline__ T neg_inf() {
  return -std::numeric_limits<T>::infinity();
}

// log(exp(a) + exp(b)) - shift; -inf when both are -inf, NaN when either is NaN. *ratio =
// exp(a - b) (1 when both are -inf). In float, the same operations as the CPU's SIMD loops
// (ops/log_semiring_math.h): the two agree bit for bit.
template <typename T>
__device__ __forceinline__ T log_add(T a, T b, T shift, T* ratio) {
  if (a != a || b != b) {
    *ratio = a + b;
    return a + b;
  }
  const T hi = a > b ? a : b, lo = a > b ? b : a;
  if (hi == neg_inf<T>()) {
    *ratio = T(1);
    return hi;
  }
  const T e = log_semiring::exp_nonpositive(lo - hi);
  *ratio = a <= b ? e : T(1) / e;
  return (hi - shift) + log_semiring::log1p_unit(e);
}

// The largest of v over the warp; every lane of the warp must call it.
template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int lane_mask = kWarpSize / 2; lane_mask > 0; lane_mask /= 2) {
    const T other = __shfl_xor_sync(0xffffffffu, v, lane_mask);
    v = other > v ? other : v;
  }
  return v;
}

// A cell's occupancy split between its px and py arcs by the saved ratio q
// (mutual_information_lattice.h); the two shares sum to occ.
template <typename T>
__device__ __forceinline__ void split_occupancy(T occ, T q, T* x_share, T* y_share) {
  const T y_part = occ / (T(1) + q);  // accurate where it is the smaller share
  const T x_part = y_part * q;        // likewise
  const bool x_small = q <= T(1);     // false for NaN: both shares NaN then
  *x_share = x_small ? x_part : occ - y_part;
  *y_share = x_small ? occ - x_part : y_part;
}

// rows: (B, 2, width); ratios (kWithGrad): (B, waves, width), cell s of wave w at [w, s].
template <typename T, bool kWithGrad>
__global__ void __launch_bounds__(kMaxThreads)
    mutual_information_forward_sweep(GlobalPtr<const T> px, GlobalPtr<const T> py,
                                     GlobalPtr<const int64_t> boundary, int64_t S, int64_t T_,
                                     bool modified, int64_t waves, GlobalPtr<T> rows,
                                     GlobalPtr<T> ratios, GlobalPtr<T> scores) {
  __shared__ Shared<T[2][kMaxWarps]> warp_maxima;
  const int64_t b = blockIdx.x, width = wave_width(S);
  const SequenceOffsets o = sequence_offsets(boundary, b, S, T_, modified);
  const auto q = sequence_lattice(px, py, o, T_, modified);
  if (!q.has_path()) {  // uniform across the block
    if (threadIdx.x == 0) scores[b] = neg_inf<T>();
    return;
  }
  const GlobalPtr<T> seq_rows = rows + b * 2 * width;
  const GlobalPtr<T> seq_ratios = kWithGrad ? ratios + b * waves * width : GlobalPtr<T>(nullptr);
  if (threadIdx.x == 0) {
    seq_rows[0] = neg_inf<T>();
    seq_rows[1] = 0;
    seq_rows[2] = neg_inf<T>();
  }
  __syncthreads();
  double offset = 0;  // p of the latest wave = its row + offset
  T shift = 0;        // the largest finite value of the latest row
  const int64_t num_waves = q.num_waves();
  for (int64_t w = 1; w < num_waves; ++w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w);
    const GlobalPtr<const T> prev = seq_rows + ((w - 1) & 1) * width;
    const GlobalPtr<T> cur = seq_rows + (w & 1) * width;
    offset += shift;
    T largest = neg_inf<T>();
    for (int64_t s = lo + threadIdx.x; s <= hi; s += blockDim.x) {
      const T a = prev[s] + (q.has_px_arc(s) ? q.px[q.px_index(w, s)] : neg_inf<T>());
      const T c = prev[s + 1] + (q.has_py_arc(w, s) ? q.py[q.py_index(w, s)] : neg_inf<T>());
      T ratio;
      const T v = log_add(a, c, shift, &ratio);
      cur[s + 1] = v;
      if (kWithGrad) seq_ratios[w * width + s] = ratio;
      if (v - v == T(0) && v > largest) largest = v;  // finite only
    }
    largest = warp_max(largest);
    if (threadIdx.x % kWarpSize == 0) warp_maxima[w & 1][threadIdx.x / kWarpSize] = largest;
    if (threadIdx.x == 0) {
      cur[lo] = neg_inf<T>();
      cur[hi + 2] = neg_inf<T>();
    }
    __syncthreads();
    T m = neg_inf<T>();
    for (int64_t k = 0; k < blockDim.x / kWarpSize; ++k) {
      m = warp_maxima[w & 1][k] > m ? warp_maxima[w & 1][k] : m;
    }
    shift = m == neg_inf<T>() ? T(0) : m;
  }
  if (threadIdx.x == 0) {
    scores[b] = static_cast<T>(offset + seq_rows[((num_waves - 1) & 1) * width + q.S + 1]);
  }
}

// shares: (B, 4, width) scratch, rows [0, 2) px shares and [2, 4) py shares of waves (w & 1);
// px_grad/py_grad zero-initialized, shaped like px/py.
template <typename T>
__global__ void __launch_bounds__(kMaxThreads)
    mutual_information_backward_sweep(GlobalPtr<const int64_t> boundary, int64_t S, int64_t T_,
                                      bool modified, int64_t waves, GlobalPtr<const T> ratios,
                                      GlobalPtr<const T> scores, GlobalPtr<T> shares,
                                      GlobalPtr<T> px_grad, GlobalPtr<T> py_grad) {
  const int64_t b = blockIdx.x, width = wave_width(S);
  const SequenceOffsets o = sequence_offsets(boundary, b, S, T_, modified);
  // Only the geometry is used, with the gradients as its px/py.
  const auto q = sequence_lattice(GlobalPtr<const T>(px_grad), GlobalPtr<const T>(py_grad), o, T_,
                                  modified);
  if (!q.has_path() || scores[b] == neg_inf<T>()) return;  // uniform across the block
  const GlobalPtr<const T> seq_ratios = ratios + b * waves * width;
  const GlobalPtr<T> x_shares = shares + b * 4 * width;
  const GlobalPtr<T> y_shares = x_shares + 2 * width;
  const GlobalPtr<T> pxg = px_grad + o.px;
  const GlobalPtr<T> pyg = py_grad + o.py;
  const int64_t num_waves = q.num_waves();
  // Past the last wave: all of the final cell's occupancy, arriving by its py arc.
  for (int64_t j = threadIdx.x; j < width; j += blockDim.x) {
    x_shares[(num_waves & 1) * width + j] = 0;
    y_shares[(num_waves & 1) * width + j] = j == q.S + 1 ? T(1) : T(0);
  }
  __syncthreads();
  for (int64_t w = num_waves - 1; w >= 1; --w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w);
    const GlobalPtr<const T> x_next = x_shares + ((w + 1) & 1) * width;
    const GlobalPtr<const T> y_next = y_shares + ((w + 1) & 1) * width;
    const GlobalPtr<T> xs = x_shares + (w & 1) * width;
    const GlobalPtr<T> ys = y_shares + (w & 1) * width;
    for (int64_t s = lo + threadIdx.x; s <= hi; s += blockDim.x) {
      // Cell s leaves by its px arc into cell s+1 and by its py arc into cell s of wave w+1.
      T x_share, y_share;
      split_occupancy(x_next[s + 2] + y_next[s + 1], seq_ratios[w * width + s], &x_share,
                      &y_share);
      xs[s + 1] = x_share;
      ys[s + 1] = y_share;
      if (q.has_px_arc(s)) pxg[q.px_index(w, s)] = x_share;
      if (q.has_py_arc(w, s)) pyg[q.py_index(w, s)] = y_share;
    }
    if (threadIdx.x == 0) xs[lo] = ys[lo] = xs[hi + 2] = ys[hi + 2] = 0;
    __syncthreads();
  }
}

}  // namespace fast_rnnt::recursion_cuda
