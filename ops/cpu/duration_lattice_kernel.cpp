// CPU kernels of the duration-lattice recursion (include/fast_rnnt/duration_lattice.h).
//
// Parallel scheme. Sequences are independent: at::parallel_for spreads them over threads. Within
// one sequence the nodes are visited wave by wave (anti-diagonals w = t + s,
// duration_lattice_geometry.h); a node reads up to max_duration + 1 earlier waves, all kept. Each
// wave is one SIMD loop over its nodes (duration_waves.h) for all arc kinds at once.
//
// Storage. Each sequence's weights are first copied into wave rows, one plane per arc kind (see
// Workspace): the arc of kind k from node (t, s) is element s of row t + s of plane k, so the
// arcs of kind k into the nodes of a wave, which all leave the same earlier wave, are one
// contiguous run of a row, as are their sources' alpha values. Rows hold -inf wherever no node
// is (sentinels), so a SIMD loop needs no edge cases: an arc that leaves the lattice reads -inf.
// The first node of waves w >= T but the last (t = T: only a blank into the final node may end
// on the last frame) is left out of the loops and stays -inf; in the last wave, the final node
// reads blank arcs only.
//
// Numerics. alpha is stored relative to a per-wave offset off[w] (double): after each wave its
// largest value is moved into the offset, so stored values stay O(1) and their float32 rounding
// does not grow with T; an arc from wave w' into wave w adds the small difference off[w'] - off[w].
// The float exp and log are computed in double and rounded once (duration_waves_impl.h), the
// C library's values, so that the CUDA kernels, which compute each node as this file does, agree
// under emulation.
//
// Backward (pull style, one writer per output). Waves are walked in reverse. A node's occupancy
// is the sum of its outgoing arcs' occupancies, already written by their (later) end nodes; the
// node then splits it among its incoming arcs in proportion to exp(alpha(src) + weight), with the
// largest share taking the remainder, so the shares sum to the node's occupancy exactly and no
// probability mass is created or lost on the way from the final node back to the start. The
// occupancies go to wave rows laid out as the weights and are copied back as the gradients. Every
// element of those rows is written by one SIMD lane only, its arc's end node (0 where that node
// is not in the lattice), so the rows need no synchronization and no atomics.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu/duration_waves.h"
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

  int64_t arcs() const { return Ns + Nb; }
  // Arc kind k (symbols, then blanks) into node s of wave w leaves node s - source_shift(k) of
  // wave w - wave_shift(k).
  int64_t wave_shift(int64_t k) const { return k < Ns ? sd[k] + 1 : bd[k - Ns]; }
  int64_t source_shift(int64_t k) const { return k < Ns ? 1 : 0; }
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

// Scratch space of one thread, reused across the sequences it handles. Row w of a plane is
// wave w, node s at column s + 1 (column 0: the sentinel left of node 0), width columns: room
// for the SIMD loops past the last node.
template <typename T>
struct Workspace {
  int64_t width = 0, plane = 0;
  std::vector<T> alpha;    // one plane: node values relative to off[w]
  std::vector<T> weights;  // one plane per arc kind
  std::vector<T> occ;      // backward: one plane per arc kind, the arc occupancies
  std::vector<double> off;
  // One wave's arcs, for the SIMD loops.
  std::vector<const T*> alpha_in, weight_in, occ_out;
  std::vector<T*> occ_in;
  std::vector<T> offset, scratch;

  T* row(std::vector<T>& planes, int64_t k, int64_t w) {
    return planes.data() + k * plane + w * width;
  }
};

// The nodes of wave w that the SIMD loops visit: [lo, hi] (see the top of this file).
struct WaveNodes {
  int64_t lo, hi;
  bool final;
};

WaveNodes wave_nodes(const DurationGeometry& g, int64_t w) {
  const bool final = w == g.num_waves() - 1;
  return {g.first_s(w) + (w >= g.T && !final ? 1 : 0), g.last_s(w), final};
}

// Fills ws.alpha_in/weight_in/offset (and, for the backward, occ_in) with the arc kinds into
// wave w that have a source wave, positioned at node v.lo; offset to the reference off[ref].
// Returns their number.
template <typename T>
int64_t wave_arcs(const Sequence<T>& q, Workspace<T>& ws, int64_t w, const WaveNodes& v,
                  int64_t ref, bool backward) {
  int64_t arcs = 0;
  for (int64_t k = 0; k < q.arcs(); ++k) {
    const int64_t src = w - q.wave_shift(k);
    if (src < 0 || (v.final && k < q.Ns)) continue;  // only a blank enters the final node
    const int64_t col = 1 + v.lo - q.source_shift(k);
    ws.alpha_in[arcs] = ws.row(ws.alpha, 0, src) + col;
    ws.weight_in[arcs] = ws.row(ws.weights, k, src) + col;
    if (backward) ws.occ_in[arcs] = ws.row(ws.occ, k, src) + col;
    ws.offset[arcs] = static_cast<T>(ws.off[src] - ws.off[ref]);
    ++arcs;
  }
  return arcs;
}

// Copies the sequence's weights into ws.weights, -inf where a row has no node with arcs.
template <typename T>
void weights_to_waves(const Sequence<T>& q, Workspace<T>& ws) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const DurationGeometry& g = q.g;
  const auto& kernels = cpu::duration_wave_kernels<T>();
  ws.weights.resize(q.arcs() * ws.plane);
  kernels.copy_to_waves(q.sw, q.K * q.Ns, g.T, g.S + 1, q.Ns, ws.weights.data() + 1, ws.width,
                        ws.plane);
  kernels.copy_to_waves(q.bw, q.K * q.Nb, g.T, g.S + 1, q.Nb,
                        ws.weights.data() + q.Ns * ws.plane + 1, ws.width, ws.plane);
  for (int64_t k = 0; k < q.arcs(); ++k) {
    for (int64_t w = 0; w < g.num_waves(); ++w) {
      // The nodes with arcs: frames t = w - s in [0, T).
      const int64_t lo = std::max<int64_t>(w - g.T + 1, 0), hi = std::min(w, g.S);
      T* row = ws.row(ws.weights, k, w);
      if (lo > hi) {
        std::fill(row, row + ws.width, kNegInf);
        continue;
      }
      std::fill(row, row + lo + 1, kNegInf);
      std::fill(row + hi + 2, row + ws.width, kNegInf);
    }
  }
}

// Fills ws.alpha and ws.off. Returns the score.
template <typename T>
double forward_sequence(const Sequence<T>& q, Workspace<T>& ws) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const DurationGeometry& g = q.g;
  const auto& kernels = cpu::duration_wave_kernels<T>();
  ws.width = cpu::padded(g.S + 1) + cpu::kMaxLanes;
  ws.plane = g.num_waves() * ws.width;
  ws.alpha.resize(ws.plane);
  ws.off.assign(g.num_waves(), 0.0);
  for (auto* v : {&ws.alpha_in, &ws.weight_in, &ws.occ_out}) v->resize(q.arcs());
  ws.occ_in.resize(q.arcs());
  ws.offset.resize(q.arcs());
  ws.scratch.resize(q.arcs() * cpu::kMaxLanes);
  weights_to_waves(q, ws);
  T* first = ws.row(ws.alpha, 0, 0);
  std::fill(first, first + ws.width, kNegInf);
  first[1] = 0;
  for (int64_t w = 1; w < g.num_waves(); ++w) {
    const WaveNodes v = wave_nodes(g, w);
    T* row = ws.row(ws.alpha, 0, w);
    const int64_t n = v.hi - v.lo + 1;
    T wave_max = kNegInf;
    if (n > 0) {
      const int64_t arcs = wave_arcs(q, ws, w, v, /*ref=*/w - 1, /*backward=*/false);
      if (arcs > 0) {
        wave_max = kernels.forward_wave(n, arcs, ws.alpha_in.data(), ws.weight_in.data(),
                                        ws.offset.data(), row + 1 + v.lo);
      } else {
        std::fill(row + 1 + v.lo, row + 2 + v.hi, kNegInf);
      }
    }
    const T shift = wave_max == kNegInf ? T(0) : wave_max;
    ws.off[w] = ws.off[w - 1] + static_cast<double>(shift);
    for (int64_t s = v.lo; s <= v.hi; ++s) row[1 + s] -= shift;
    // Sentinels: -inf left of the nodes and past them (where the loop wrote whole vectors).
    std::fill(row, row + std::max<int64_t>(v.lo + 1, 0), kNegInf);
    std::fill(row + std::max(v.hi + 2, v.lo + 1), row + ws.width, kNegInf);
  }
  const T last = ws.row(ws.alpha, 0, g.num_waves() - 1)[1 + g.S];
  return last == kNegInf ? -std::numeric_limits<double>::infinity()
                         : static_cast<double>(last) + ws.off[g.num_waves() - 1];
}

// Writes the arc occupancies of one sequence, times scale, into its rows of sg/bg (zero elsewhere).
template <typename T>
void backward_sequence(const Sequence<T>& q, T* sg, T* bg, T scale, Workspace<T>& ws) {
  const DurationGeometry& g = q.g;
  const auto& kernels = cpu::duration_wave_kernels<T>();
  if (forward_sequence(q, ws) == -std::numeric_limits<double>::infinity()) return;
  ws.occ.assign(q.arcs() * ws.plane, T(0));
  for (int64_t w = g.num_waves() - 1; w >= 1; --w) {
    const WaveNodes v = wave_nodes(g, w);
    const int64_t n = v.hi - v.lo + 1;
    if (n <= 0) continue;
    const int64_t arcs = wave_arcs(q, ws, w, v, /*ref=*/w, /*backward=*/true);
    if (arcs == 0) continue;
    // A node's outgoing arcs, of every kind, are stored at the node.
    for (int64_t k = 0; k < q.arcs(); ++k) ws.occ_out[k] = ws.row(ws.occ, k, w) + 1 + v.lo;
    kernels.backward_wave(n, arcs, ws.alpha_in.data(), ws.weight_in.data(), ws.offset.data(),
                          /*a=*/ws.row(ws.alpha, 0, w) + 1 + v.lo, /*outs=*/q.arcs(),
                          ws.occ_out.data(), v.final, ws.occ_in.data(), ws.scratch.data());
  }
  // Occupancies -> gradients: rows t < T of the sequence.
  kernels.copy_from_waves(sg, q.K * q.Ns, g.T, g.S + 1, q.Ns, ws.occ.data() + 1, ws.width,
                          ws.plane, scale);
  kernels.copy_from_waves(bg, q.K * q.Nb, g.T, g.S + 1, q.Nb, ws.occ.data() + q.Ns * ws.plane + 1,
                          ws.width, ws.plane, scale);
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
      Workspace<scalar_t> ws;
      for (int64_t b = begin; b < end; ++b) {
        const auto q = sequence<scalar_t>(n, sw, bw, symbol_durations.data(),
                                          blank_durations.data(), bd, b);
        out[b] = static_cast<scalar_t>(forward_sequence(q, ws));
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
      Workspace<scalar_t> ws;
      for (int64_t b = begin; b < end; ++b) {
        const auto q = sequence<scalar_t>(n, sw, bw, symbol_durations.data(),
                                          blank_durations.data(), bd, b);
        // The gradient rows of sequence b start where its weight rows do.
        const int64_t sym_offset = q.sw - sw, blank_offset = q.bw - bw;
        backward_sequence(q, sg + sym_offset, bg + blank_offset, g[b], ws);
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
