// CPU kernels of the duration-lattice recursion (include/fast_rnnt/duration_lattice.h).
//
// Parallel scheme. Sequences are independent: at::parallel_for spreads them over threads. Within
// one sequence the nodes are visited wave by wave (anti-diagonals w = t + s,
// duration_lattice_geometry.h); a node reads up to max_duration + 1 earlier waves, all kept.
//
// Numerics. alpha is stored relative to a per-wave offset off[w] (double): after each wave its
// largest value is moved into the offset, so stored values stay O(1) and their float32 rounding
// does not grow with T; an arc from wave w' into wave w adds the small difference off[w'] - off[w].
//
// Backward (pull style, one writer per output). Waves are walked in reverse. A node's occupancy
// is the sum of its outgoing arcs' occupancies, already written by their (later) end nodes; the
// node then splits it among its incoming arcs in proportion to exp(alpha(src) + weight), with the
// largest share taking the remainder, so the shares sum to the node's occupancy exactly and no
// probability mass is created or lost on the way from the final node back to the start.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/duration_lattice_checks.h"
#include "ops/duration_lattice_geometry.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "duration_lattice";
constexpr char kBackwardOpName[] = "_duration_lattice_backward";

// One sequence: weights (and gradients) offset to (t_begin, s_begin), contiguous (T, S+1, N).
template <typename T>
struct Sequence {
  DurationGeometry g;
  const T* sw;
  const T* bw;
  int64_t Ns, Nb, K;  // K = S+1 rows per frame
  const int64_t* sd;
  const int64_t* bd;

  int64_t sym_row(int64_t t, int64_t s) const { return (t * K + s) * Ns; }
  int64_t blank_row(int64_t t, int64_t s) const { return (t * K + s) * Nb; }
  int64_t node(int64_t t, int64_t s) const { return t * (g.S + 1) + s; }
};

template <typename T>
Sequence<T> sequence(const DurationLatticeSizes& n, const T* sw, const T* bw, const int64_t* sd,
                     const int64_t* bd, const int64_t* boundary, int64_t b) {
  const int64_t s_begin = boundary ? boundary[4 * b] : 0;
  const int64_t t_begin = boundary ? boundary[4 * b + 1] : 0;
  const int64_t s_end = boundary ? boundary[4 * b + 2] : n.S;
  const int64_t t_end = boundary ? boundary[4 * b + 3] : n.T;
  const int64_t K = n.S + 1;
  const int64_t offset = (b * n.T + t_begin) * K + s_begin;
  return {{t_end - t_begin, s_end - s_begin}, sw + offset * n.Ns, bw + offset * n.Nb, n.Ns, n.Nb,
          K, sd, bd};
}

// alpha (one value per node, relative to off[wave]) and off (one per wave). Returns the score.
template <typename T>
double forward_sequence(const Sequence<T>& q, std::vector<T>& alpha, std::vector<double>& off) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const DurationGeometry& g = q.g;
  alpha.assign((g.T + 1) * (g.S + 1), kNegInf);
  off.assign(g.num_waves(), 0.0);
  alpha[0] = 0;
  for (int64_t w = 1; w < g.num_waves(); ++w) {
    T wave_max = kNegInf;
    for (int64_t s = g.first_s(w); s <= g.last_s(w); ++s) {
      const int64_t t = w - s;
      // log-sum-exp of the incoming terms, relative to off[w - 1], in two sweeps.
      T m = kNegInf;
      auto for_each_term = [&](auto&& f) {
        for (int64_t i = 0; i < q.Ns; ++i) {
          const int64_t d = q.sd[i];
          if (!g.symbol_into(t, s, d)) continue;
          f(alpha[q.node(t - d, s - 1)] + static_cast<T>(off[w - d - 1] - off[w - 1]) +
            q.sw[q.sym_row(t - d, s - 1) + i]);
        }
        for (int64_t j = 0; j < q.Nb; ++j) {
          const int64_t d = q.bd[j];
          if (!g.blank_into(t, s, d)) continue;
          f(alpha[q.node(t - d, s)] + static_cast<T>(off[w - d] - off[w - 1]) +
            q.bw[q.blank_row(t - d, s) + j]);
        }
      };
      for_each_term([&](T x) { m = x > m || x != x ? x : m; });  // a NaN term stays: NaN node
      T v = kNegInf;
      if (m != kNegInf) {
        T sum = 0;
        for_each_term([&](T x) { sum += std::exp(x - m); });
        v = m + std::log(sum);
      }
      alpha[q.node(t, s)] = v;
      wave_max = std::max(wave_max, v);
    }
    const T shift = wave_max == kNegInf ? T(0) : wave_max;
    off[w] = off[w - 1] + static_cast<double>(shift);
    for (int64_t s = g.first_s(w); s <= g.last_s(w); ++s) alpha[q.node(w - s, s)] -= shift;
  }
  const T last = alpha[q.node(g.T, g.S)];
  return last == kNegInf ? -std::numeric_limits<double>::infinity()
                         : static_cast<double>(last) + off[g.num_waves() - 1];
}

// Writes the arc occupancies of one sequence, times scale, into its rows of sg/bg (zero elsewhere).
template <typename T>
void backward_sequence(const Sequence<T>& q, T* sg, T* bg, T scale,
                       std::vector<T>& alpha, std::vector<double>& off, std::vector<T>& share) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const DurationGeometry& g = q.g;
  if (forward_sequence(q, alpha, off) == -std::numeric_limits<double>::infinity()) return;
  share.resize(q.Ns + q.Nb);
  for (int64_t w = g.num_waves() - 1; w >= 1; --w) {
    for (int64_t s = g.first_s(w); s <= g.last_s(w); ++s) {
      const int64_t t = w - s;
      const T a = alpha[q.node(t, s)];
      if (a == kNegInf) continue;
      T occ = 0;
      if (g.is_final(t, s)) {
        occ = 1;
      } else if (t < g.T) {
        for (int64_t i = 0; i < q.Ns; ++i) occ += sg[q.sym_row(t, s) + i];
        for (int64_t j = 0; j < q.Nb; ++j) occ += bg[q.blank_row(t, s) + j];
      }
      if (occ == 0) continue;
      // Unnormalized shares of the incoming arcs (symbol arcs, then blank arcs; 0 if absent).
      T total = 0;
      int64_t largest = 0;
      for (int64_t i = 0; i < q.Ns; ++i) {
        const int64_t d = q.sd[i];
        share[i] = g.symbol_into(t, s, d)
                       ? std::exp(alpha[q.node(t - d, s - 1)] +
                                  static_cast<T>(off[w - d - 1] - off[w]) +
                                  q.sw[q.sym_row(t - d, s - 1) + i] - a)
                       : T(0);
      }
      for (int64_t j = 0; j < q.Nb; ++j) {
        const int64_t d = q.bd[j];
        share[q.Ns + j] = g.blank_into(t, s, d)
                              ? std::exp(alpha[q.node(t - d, s)] +
                                         static_cast<T>(off[w - d] - off[w]) +
                                         q.bw[q.blank_row(t - d, s) + j] - a)
                              : T(0);
      }
      for (int64_t k = 0; k < q.Ns + q.Nb; ++k) {
        total += share[k];
        if (share[k] > share[largest]) largest = k;
      }
      if (!(total > 0)) continue;
      T given = 0;
      auto target = [&](int64_t k) -> T& {
        if (k < q.Ns) return sg[q.sym_row(t - q.sd[k], s - 1) + k];
        const int64_t j = k - q.Ns;
        return bg[q.blank_row(t - q.bd[j], s) + j];
      };
      for (int64_t k = 0; k < q.Ns + q.Nb; ++k) {
        if (k == largest || share[k] == 0) continue;
        const T part = occ * (share[k] / total);
        target(k) = part;
        given += part;
      }
      target(largest) = std::max(occ - given, T(0));
    }
  }
  // Occupancies -> gradients: rows t < T of the sequence.
  for (int64_t t = 0; t < g.T; ++t) {
    for (int64_t s = 0; s <= g.S; ++s) {
      for (int64_t i = 0; i < q.Ns; ++i) sg[q.sym_row(t, s) + i] *= scale;
      for (int64_t j = 0; j < q.Nb; ++j) bg[q.blank_row(t, s) + j] *= scale;
    }
  }
}

const int64_t* boundary_data(const std::optional<at::Tensor>& boundary, at::Tensor& holder) {
  if (!boundary.has_value()) return nullptr;
  holder = boundary->contiguous();
  return holder.const_data_ptr<int64_t>();
}

at::Tensor duration_lattice_forward_kernel(const at::Tensor& symbol_w_in,
                                           const at::Tensor& blank_w_in,
                                           at::IntArrayRef symbol_durations,
                                           at::IntArrayRef blank_durations,
                                           const std::optional<at::Tensor>& boundary) {
  const DurationLatticeSizes n =
      check_duration_lattice_inputs(kOpName, symbol_w_in, blank_w_in, symbol_durations,
                                    blank_durations, boundary);
  TORCH_INTERNAL_ASSERT(symbol_w_in.device().is_cpu());
  const at::Tensor symbol_w = symbol_w_in.contiguous(), blank_w = blank_w_in.contiguous();
  at::Tensor bd_holder;
  const int64_t* bd = boundary_data(boundary, bd_holder);
  at::Tensor scores = at::empty({n.B}, symbol_w.options());
  AT_DISPATCH_FLOATING_TYPES(symbol_w.scalar_type(), "duration_lattice_cpu", [&] {
    const scalar_t* sw = symbol_w.const_data_ptr<scalar_t>();
    const scalar_t* bw = blank_w.const_data_ptr<scalar_t>();
    scalar_t* out = scores.data_ptr<scalar_t>();
    at::parallel_for(0, n.B, 1, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> alpha;
      std::vector<double> off;
      for (int64_t b = begin; b < end; ++b) {
        const auto q = sequence<scalar_t>(n, sw, bw, symbol_durations.data(),
                                          blank_durations.data(), bd, b);
        out[b] = static_cast<scalar_t>(forward_sequence(q, alpha, off));
      }
    });
  });
  return scores;
}

std::tuple<at::Tensor, at::Tensor> duration_lattice_backward_kernel(
    const at::Tensor& symbol_w_in, const at::Tensor& blank_w_in, at::IntArrayRef symbol_durations,
    at::IntArrayRef blank_durations, const std::optional<at::Tensor>& boundary,
    const at::Tensor& ans_grad_in) {
  const DurationLatticeSizes n =
      check_duration_lattice_inputs(kBackwardOpName, symbol_w_in, blank_w_in, symbol_durations,
                                    blank_durations, boundary);
  check_duration_lattice_grad(kBackwardOpName, symbol_w_in, ans_grad_in);
  TORCH_INTERNAL_ASSERT(symbol_w_in.device().is_cpu());
  const at::Tensor symbol_w = symbol_w_in.contiguous(), blank_w = blank_w_in.contiguous();
  const at::Tensor ans_grad = ans_grad_in.contiguous();
  at::Tensor bd_holder;
  const int64_t* bd = boundary_data(boundary, bd_holder);
  at::Tensor symbol_grad = at::zeros_like(symbol_w);
  at::Tensor blank_grad = at::zeros_like(blank_w);
  AT_DISPATCH_FLOATING_TYPES(symbol_w.scalar_type(), "duration_lattice_backward_cpu", [&] {
    const scalar_t* sw = symbol_w.const_data_ptr<scalar_t>();
    const scalar_t* bw = blank_w.const_data_ptr<scalar_t>();
    const scalar_t* g = ans_grad.const_data_ptr<scalar_t>();
    scalar_t* sg = symbol_grad.data_ptr<scalar_t>();
    scalar_t* bg = blank_grad.data_ptr<scalar_t>();
    at::parallel_for(0, n.B, 1, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> alpha, share;
      std::vector<double> off;
      for (int64_t b = begin; b < end; ++b) {
        const auto q = sequence<scalar_t>(n, sw, bw, symbol_durations.data(),
                                          blank_durations.data(), bd, b);
        // The gradient rows of sequence b start where its weight rows do.
        const int64_t sym_offset = q.sw - sw, blank_offset = q.bw - bw;
        backward_sequence(q, sg + sym_offset, bg + blank_offset, g[b], alpha, off, share);
      }
    });
  });
  return {symbol_grad, blank_grad};
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CPU, m) {
  m.impl("duration_lattice", TORCH_FN(duration_lattice_forward_kernel));
  m.impl("_duration_lattice_backward", TORCH_FN(duration_lattice_backward_kernel));
}

}  // namespace fast_rnnt
