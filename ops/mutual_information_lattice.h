#pragma once
// The geometry of the mutual-information recursion, shared by the CPU kernels, the CUDA kernels
// and their emulation on the CPU, so that the index math exists once. No ATen here: nvcc
// compiles it into device code.
//
// Waves. The cells of one sequence are swept in waves whose cells depend only on the previous
// wave: anti-diagonals w = s + t (regular), columns t = w (modified: both arcs leave frame t-1).
// In every wave the px arc into cell s comes from cell s-1 of wave w-1 and the py arc from cell
// s of wave w-1, so a wave is kept as a row indexed s+1, with sentinels at both ends.
//
// Accuracy. Log-probabilities summed along a path grow with T (thousands of nats at T=2000),
// and a float32 of that size has an absolute rounding error of about 1e-4: a backward pass that
// takes exp(left + x - p) with such values leaks occupancy mass at every wave. The kernels
// therefore keep each wave relative to the previous wave's largest finite value (the offsets
// are summed in double), and the backward splits each cell's occupancy between its two arcs by
// one ratio saved per cell in the forward pass,
//   q = exp((left + x) - (down + y))   (the px term over the py term; 1 where both are -inf),
//   px share = occ * q / (1 + q),  py share = occ / (1 + q),
// where only the smaller share is computed so and the larger is occ minus it: the two sum to the
// cell's occupancy by construction, so no mass is lost or gained, and the smaller share keeps
// its relative accuracy. The forward pass has exp(smaller - larger) at hand, so q costs it one
// division and the backward needs no exp.
#include <cstdint>
#include <type_traits>

#include "ops/host_device.h"

namespace fast_rnnt {

// One sequence's sub-lattice: px/py already offset to (s_begin, t_begin). Ptr: const T*, or
// the CUDA kernels' GlobalPtr<const T> (a bounds-checked pointer under emulation).
template <typename T, typename Ptr = const T*>
struct SequenceLattice {
  Ptr px;
  int64_t px_row;  // stride between rows s of px: T+1 (regular) or T (modified)
  Ptr py;
  int64_t py_row;  // T
  int64_t S, T_;   // s_end - s_begin, t_end - t_begin
  bool modified;

  FAST_RNNT_HOST_DEVICE int64_t num_waves() const { return modified ? T_ + 1 : S + T_ + 1; }
  FAST_RNNT_HOST_DEVICE int64_t first_row(int64_t w) const {
    return modified ? 0 : (w - T_ > 0 ? w - T_ : 0);
  }
  FAST_RNNT_HOST_DEVICE int64_t last_row(int64_t w) const { return w < S ? w : S; }
  // Frame of the px arc into cell (s, wave w), and of the py arc (negative: no py arc).
  FAST_RNNT_HOST_DEVICE int64_t px_frame(int64_t w, int64_t s) const {
    return modified ? w - 1 : w - s;
  }
  FAST_RNNT_HOST_DEVICE int64_t py_frame(int64_t w, int64_t s) const {
    return modified ? w - 1 : w - s - 1;
  }
  FAST_RNNT_HOST_DEVICE bool has_px_arc(int64_t s) const { return s >= 1; }
  FAST_RNNT_HOST_DEVICE bool has_py_arc(int64_t w, int64_t s) const { return py_frame(w, s) >= 0; }
  FAST_RNNT_HOST_DEVICE int64_t px_index(int64_t w, int64_t s) const {
    return (s - 1) * px_row + px_frame(w, s);
  }
  FAST_RNNT_HOST_DEVICE int64_t py_index(int64_t w, int64_t s) const {
    return s * py_row + py_frame(w, s);
  }
  // The modified lattice emits at most one symbol per frame.
  FAST_RNNT_HOST_DEVICE bool has_path() const { return !modified || S <= T_; }
};

// Where sequence b's sub-lattice starts in px/py (B, S, T+1 or T) and (B, S+1, T), and its sizes.
// boundary: (B, 4) rows (s_begin, t_begin, s_end, t_end), or null for (0, 0, S, T).
struct SequenceOffsets {
  int64_t px, py, S, T;
};

template <typename BoundaryPtr>
FAST_RNNT_HOST_DEVICE SequenceOffsets sequence_offsets(BoundaryPtr boundary, int64_t b, int64_t S,
                                                       int64_t T, bool modified) {
  const int64_t px_row = modified ? T : T + 1;
  const int64_t s_begin = boundary ? boundary[4 * b] : 0;
  const int64_t t_begin = boundary ? boundary[4 * b + 1] : 0;
  const int64_t s_end = boundary ? boundary[4 * b + 2] : S;
  const int64_t t_end = boundary ? boundary[4 * b + 3] : T;
  return {(b * S + s_begin) * px_row + t_begin, (b * (S + 1) + s_begin) * T + t_begin,
          s_end - s_begin, t_end - t_begin};
}

template <typename Ptr, typename T = std::remove_cv_t<std::remove_reference_t<decltype(Ptr()[0])>>>
FAST_RNNT_HOST_DEVICE SequenceLattice<T, Ptr> sequence_lattice(Ptr px, Ptr py,
                                                               const SequenceOffsets& o,
                                                               int64_t T_full, bool modified) {
  return {px + o.px, modified ? T_full : T_full + 1, py + o.py, T_full, o.S, o.T, modified};
}

// A wave row: S+1 cells and a sentinel on each side (CPU rows add room for whole SIMD vectors).
FAST_RNNT_HOST_DEVICE int64_t wave_width(int64_t S) { return S + 3; }

}  // namespace fast_rnnt
