#pragma once
// The inner loops of the duration-lattice recursion on the CPU (duration_lattice_kernel.cpp): one
// wave of nodes at a time over all of its incoming arc kinds, and the copies of the arc weights
// into wave rows and of the occupancies back. They are compiled once per instruction set
// (simd_<isa>.cpp, with ATen's Vectorized<T>; see isa.h) and chosen at run time.
//
// Wave rows. Node s of a wave is element s of a row; arc kind k of a node has its own rows (the
// weights, the occupancies), with the arc stored at its source node. So along a wave every input
// of the recursion is a contiguous run, whatever the arc's duration. The loops work on whole
// SIMD vectors (log_semiring.h: kMaxLanes, padded): rows need room for n rounded up to a
// multiple of kMaxLanes past their first element, and outputs past n are unspecified unless
// stated.
#include <cstdint>

#include "ops/cpu/isa.h"
#include "ops/cpu/log_semiring.h"

namespace fast_rnnt::cpu {

template <typename T>
struct DurationWaveKernels {
  // One forward wave of n nodes over `arcs` incoming arc kinds. Arc kind k of node i leaves a
  // node of value alpha[k][i] (relative to its wave's offset; -inf where there is no such node)
  // with weight weight[k][i]; offset[k] brings its wave's offset to this wave's reference:
  //   x_k = (alpha[k][i] + offset[k]) + weight[k][i],   m = max_k x_k,
  //   out[i] = m + log(sum_k exp(x_k - m))   (k in order; -inf where m is -inf, NaN where any
  //                                           x_k is NaN).
  // Returns the largest out[i], i < n, NaN skipped, or -inf if there is none.
  T (*forward_wave)(int64_t n, int64_t arcs, const T* const* alpha, const T* const* weight,
                    const T* offset, T* out);
  // One backward wave (pull style, duration_lattice_kernel.cpp). Node i has value a[i] (its
  // wave's reference) and occupancy occ = 1 if `final`, else sum_j out_occ[j][i] over its
  // `outs` outgoing arcs (j in order). Its incoming arcs, as in forward_wave with offset[k] to
  // this wave's reference, get the shares e_k = exp(x_k - a[i]), total = sum_k e_k (in order);
  // where a[i] > -inf, occ != 0 and total > 0:
  //   in_occ[k][i] = occ * (e_k / total)  for k != L with e_k != 0 (0 for e_k == 0),
  //   in_occ[L][i] = max(occ - sum of those, 0),   L = the first k of largest e_k;
  // elsewhere in_occ[k][i] = 0. Besides lanes i < n it writes only zeros, to the lanes up to the
  // next whole vector. scratch: room for arcs * kMaxLanes values.
  void (*backward_wave)(int64_t n, int64_t arcs, const T* const* alpha, const T* const* weight,
                        const T* offset, const T* a, int64_t outs, const T* const* out_occ,
                        bool final, T* const* in_occ, T* scratch);
  // The copies between a sequence's arcs m, element (t, s, k) at m[t * ld + s * arcs + k] for
  // t < frames, s < nodes, k < arcs, and their wave rows: element (t, s, k) is
  // waves[k * plane + (t + s) * width + s]. copy_from_waves multiplies by scale on the way.
  void (*copy_to_waves)(const T* m, int64_t ld, int64_t frames, int64_t nodes, int64_t arcs,
                        T* waves, int64_t width, int64_t plane);
  void (*copy_from_waves)(T* m, int64_t ld, int64_t frames, int64_t nodes, int64_t arcs,
                          const T* waves, int64_t width, int64_t plane, T scale);
};

namespace isa_default {
template <typename T>
DurationWaveKernels<T> duration_wave_kernels();
}  // namespace isa_default

namespace isa_avx2 {
template <typename T>
DurationWaveKernels<T> duration_wave_kernels();
}  // namespace isa_avx2

// The fastest variant this CPU runs.
template <typename T>
const DurationWaveKernels<T>& duration_wave_kernels() {
  static const DurationWaveKernels<T> kernels =
      fastest(&isa_avx2::duration_wave_kernels<T>, &isa_default::duration_wave_kernels<T>);
  return kernels;
}

}  // namespace fast_rnnt::cpu
