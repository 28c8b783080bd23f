#pragma once
// Device code of the duration-lattice recursion (include/fast_rnnt/duration_lattice.h): only
// __global__ and __device__ functions, no ATen, so that the same file compiles for the GPU
// (nvcc) and, under an emulated launch, as host C++.
//
// Parallel scheme. One block per sequence (grid = B), deterministic, no atomics. The lattice is
// swept by anti-diagonal waves w = t + s (duration_lattice_geometry.h); within a wave the threads
// take the nodes s = first_s + threadIdx.x, + blockDim.x, ...; __syncthreads() separates waves.
// A node reads up to max_duration + 1 earlier waves from alpha in global memory (one (T+1, S+1)
// slab per sequence), which the barrier has made visible.
//
// Numerics, as the CPU kernel: alpha is stored relative to a per-wave offset off[w] (double):
// after each wave the block's maximum (a tree reduction in shared memory, order-independent)
// moves into the offset. A NaN term makes its node NaN (the maximum keeps it), so a NaN weight
// on a path gives a NaN score, never the score without that arc. The backward walks the waves
// in reverse; each node sums its outgoing arcs' occupancies (written by their end nodes in later
// waves) and writes the shares of its incoming arcs, the largest taking the remainder: every
// gradient entry has one writer.
#include <cstdint>

#include "ops/cuda/device_api.cuh"
#include "ops/cuda/duration_lattice_launch.h"
#include "ops/duration_lattice_geometry.h"

namespace fast_rnnt::cuda {
namespace {  // included by one translation unit per build: the launcher, or an emulation test

template <typename real>
struct DurationLatticeArgs {
  GlobalPtr<const real> sw;           // (B, T, S+1, Ns)
  GlobalPtr<const real> bw;           // (B, T, S+1, Nb)
  GlobalPtr<const int64_t> sd;        // (Ns,) symbol durations, device memory
  GlobalPtr<const int64_t> bd;        // (Nb,) blank durations
  GlobalPtr<const int64_t> boundary;  // (B, 4) or null
  int64_t B, T, S, Ns, Nb;
  GlobalPtr<real> alpha;  // workspace (B, T+1, S+1)
  GlobalPtr<double> off;  // workspace (B, T+S+1)
  GlobalPtr<real> scores;  // (B,) forward output, or null
  // Backward only:
  GlobalPtr<const real> ans_grad;  // (B,)
  GlobalPtr<real> sg;              // (B, T, S+1, Ns), zero-initialized
  GlobalPtr<real> bg;              // (B, T, S+1, Nb), zero-initialized
};

template <typename real>
__device__ __forceinline__ real lattice_neg_inf() {
  return -__builtin_huge_valf();
}
template <>
__device__ __forceinline__ double lattice_neg_inf<double>() {
  return -__builtin_huge_val();
}

// Sequence b's geometry and the offset of its first weight row (t_begin, s_begin).
struct SequenceStart {
  DurationGeometry g;
  int64_t row0;  // (b * T + t_begin) * (S+1) + s_begin
};

template <typename real>
__device__ SequenceStart sequence_start(const DurationLatticeArgs<real>& a, int64_t b) {
  const auto bd = a.boundary ? a.boundary + 4 * b : GlobalPtr<const int64_t>(nullptr);
  const int64_t s_begin = bd ? bd[0] : 0, t_begin = bd ? bd[1] : 0;
  const int64_t s_end = bd ? bd[2] : a.S, t_end = bd ? bd[3] : a.T;
  return {{t_end - t_begin, s_end - s_begin}, (b * a.T + t_begin) * (a.S + 1) + s_begin};
}

// The forward sweep of sequence blockIdx.x: fills its alpha slab and offsets; returns the score
// (valid in every thread).
template <typename real>
__device__ double lattice_forward_sweep(const DurationLatticeArgs<real>& a, const SequenceStart& q,
                                        GlobalPtr<real> alpha, GlobalPtr<double> off) {
  __shared__ Shared<real[kLatticeThreads]> reduce;
  __shared__ Shared<real> wave_shift;
  const real neg_inf = lattice_neg_inf<real>();
  const DurationGeometry& g = q.g;
  const int64_t width = g.S + 1, K = a.S + 1;
  const int tid = threadIdx.x;
  for (int64_t i = tid; i < (g.T + 1) * width; i += blockDim.x) alpha[i] = neg_inf;
  __syncthreads();
  if (tid == 0) {
    alpha[0] = real(0);
    off[0] = 0.0;
  }
  __syncthreads();
  for (int64_t w = 1; w < g.num_waves(); ++w) {
    real local_max = neg_inf;
    for (int64_t s = g.first_s(w) + tid; s <= g.last_s(w); s += blockDim.x) {
      const int64_t t = w - s;
      real m = neg_inf;
      for (int pass = 0; pass < 2; ++pass) {  // pass 0: max of the terms; pass 1: sum of exp
        real sum = real(0);
        for (int64_t i = 0; i < a.Ns; ++i) {
          const int64_t d = a.sd[i];
          if (!g.symbol_into(t, s, d)) continue;
          const real x = alpha[(t - d) * width + s - 1] + static_cast<real>(off[w - d - 1] - off[w - 1]) +
                      a.sw[(q.row0 + (t - d) * K + s - 1) * a.Ns + i];
          if (pass == 0) m = x > m || x != x ? x : m; else sum += exp(x - m);
        }
        for (int64_t j = 0; j < a.Nb; ++j) {
          const int64_t d = a.bd[j];
          if (!g.blank_into(t, s, d)) continue;
          const real x = alpha[(t - d) * width + s] + static_cast<real>(off[w - d] - off[w - 1]) +
                      a.bw[(q.row0 + (t - d) * K + s) * a.Nb + j];
          if (pass == 0) m = x > m || x != x ? x : m; else sum += exp(x - m);
        }
        if (pass == 0 && m == neg_inf) break;
        if (pass == 1) m = m + log(sum);
      }
      alpha[t * width + s] = m;
      local_max = m > local_max ? m : local_max;
    }
    reduce[tid] = local_max;
    __syncthreads();
    for (int stride = kLatticeThreads / 2; stride > 0; stride /= 2) {
      if (tid < stride && reduce[tid + stride] > reduce[tid]) reduce[tid] = reduce[tid + stride];
      __syncthreads();
    }
    if (tid == 0) {
      wave_shift = reduce[0] == neg_inf ? real(0) : reduce[0];
      off[w] = off[w - 1] + static_cast<double>(wave_shift);
    }
    __syncthreads();
    for (int64_t s = g.first_s(w) + tid; s <= g.last_s(w); s += blockDim.x) {
      alpha[(w - s) * width + s] -= wave_shift;
    }
    __syncthreads();
  }
  const real last = alpha[g.T * width + g.S];
  return last == neg_inf ? static_cast<double>(lattice_neg_inf<double>())
                         : static_cast<double>(last) + off[g.num_waves() - 1];
}

template <typename real>
__device__ GlobalPtr<real> lattice_alpha(const DurationLatticeArgs<real>& a, int64_t b) {
  return a.alpha + b * (a.T + 1) * (a.S + 1);
}

template <typename real>
__device__ GlobalPtr<double> lattice_offsets(const DurationLatticeArgs<real>& a, int64_t b) {
  return a.off + b * (a.T + a.S + 1);
}

template <typename real>
__global__ void duration_lattice_forward_sequence(DurationLatticeArgs<real> a) {
  const int64_t b = blockIdx.x;
  const SequenceStart q = sequence_start(a, b);
  const double score = lattice_forward_sweep(a, q, lattice_alpha(a, b), lattice_offsets(a, b));
  if (threadIdx.x == 0) a.scores[b] = static_cast<real>(score);
}

template <typename real>
__global__ void duration_lattice_backward_sequence(DurationLatticeArgs<real> a) {
  const int64_t b = blockIdx.x;
  const SequenceStart q = sequence_start(a, b);
  const GlobalPtr<real> alpha = lattice_alpha(a, b);
  const GlobalPtr<double> off = lattice_offsets(a, b);
  const double score = lattice_forward_sweep(a, q, alpha, off);
  if (score == static_cast<double>(lattice_neg_inf<double>())) return;  // zero gradients
  const real neg_inf = lattice_neg_inf<real>();
  const DurationGeometry& g = q.g;
  const int64_t width = g.S + 1, K = a.S + 1;
  const int tid = threadIdx.x;
  for (int64_t w = g.num_waves() - 1; w >= 1; --w) {
    for (int64_t s = g.first_s(w) + tid; s <= g.last_s(w); s += blockDim.x) {
      const int64_t t = w - s;
      const real alpha_n = alpha[t * width + s];
      if (alpha_n == neg_inf) continue;
      const int64_t row = q.row0 + t * K + s;
      real occ = real(0);
      if (g.is_final(t, s)) {
        occ = real(1);
      } else if (t < g.T) {
        for (int64_t i = 0; i < a.Ns; ++i) occ += a.sg[row * a.Ns + i];
        for (int64_t j = 0; j < a.Nb; ++j) occ += a.bg[row * a.Nb + j];
      }
      if (occ == real(0)) continue;
      // Share of incoming arc k (symbol arcs first, then blank arcs); 0 when absent.
      auto share = [&](int64_t k, GlobalPtr<real>* target) -> real {
        if (k < a.Ns) {
          const int64_t d = a.sd[k];
          if (!g.symbol_into(t, s, d)) return real(0);
          const int64_t src = q.row0 + (t - d) * K + s - 1;
          *target = a.sg + src * a.Ns + k;
          return exp(alpha[(t - d) * width + s - 1] + static_cast<real>(off[w - d - 1] - off[w]) +
                     a.sw[src * a.Ns + k] - alpha_n);
        }
        const int64_t j = k - a.Ns, d = a.bd[j];
        if (!g.blank_into(t, s, d)) return real(0);
        const int64_t src = q.row0 + (t - d) * K + s;
        *target = a.bg + src * a.Nb + j;
        return exp(alpha[(t - d) * width + s] + static_cast<real>(off[w - d] - off[w]) +
                   a.bw[src * a.Nb + j] - alpha_n);
      };
      real total = real(0), best = real(-1);
      int64_t largest = 0;
      GlobalPtr<real> target = nullptr;
      for (int64_t k = 0; k < a.Ns + a.Nb; ++k) {
        const real e = share(k, &target);
        total += e;
        if (e > best) {
          best = e;
          largest = k;
        }
      }
      if (!(total > real(0))) continue;
      real given = real(0);
      for (int64_t k = 0; k < a.Ns + a.Nb; ++k) {
        if (k == largest) continue;
        const real e = share(k, &target);
        if (e == real(0)) continue;
        const real part = occ * (e / total);
        *target = part;
        given += part;
      }
      share(largest, &target);
      const real rest = occ - given;
      *target = rest > real(0) ? rest : real(0);
    }
    __syncthreads();
  }
  // Occupancies -> gradients, over the sequence's rows t < T.
  const real scale = a.ans_grad[b];
  for (int64_t i = tid; i < g.T * width; i += blockDim.x) {
    const int64_t row = q.row0 + (i / width) * K + i % width;
    for (int64_t k = 0; k < a.Ns; ++k) a.sg[row * a.Ns + k] *= scale;
    for (int64_t k = 0; k < a.Nb; ++k) a.bg[row * a.Nb + k] *= scale;
  }
}

}  // namespace
}  // namespace fast_rnnt::cuda
