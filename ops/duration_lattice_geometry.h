#pragma once
// The geometry of one sequence's duration lattice (see include/fast_rnnt/duration_lattice.h),
// in local coordinates t = frame - t_begin, s = symbol - s_begin: which arcs exist and which
// nodes form a wave. One definition for the CPU kernel, the CUDA kernels and their emulation.
#include <cstdint>

#include "ops/host_device.h"

namespace fast_rnnt {

struct DurationGeometry {
  int64_t T, S;  // t_end - t_begin, s_end - s_begin

  // Waves are the anti-diagonals w = t + s: every arc ends on a strictly later wave (a symbol
  // arc of duration d goes d + 1 waves on, a blank arc d >= 1 waves).
  FAST_RNNT_HOST_DEVICE int64_t num_waves() const { return T + S + 1; }
  FAST_RNNT_HOST_DEVICE int64_t first_s(int64_t w) const { return w > T ? w - T : 0; }
  FAST_RNNT_HOST_DEVICE int64_t last_s(int64_t w) const { return w < S ? w : S; }
  FAST_RNNT_HOST_DEVICE bool is_final(int64_t t, int64_t s) const { return t == T && s == S; }

  // The symbol arc of duration d into (t, s) comes from (t - d, s - 1); it may not end on the
  // last frame (no arc passes it, and only a blank enters the final node).
  FAST_RNNT_HOST_DEVICE bool symbol_into(int64_t t, int64_t s, int64_t d) const {
    return s >= 1 && t - d >= 0 && t < T;
  }
  // The blank arc of duration d into (t, s) comes from (t - d, s).
  FAST_RNNT_HOST_DEVICE bool blank_into(int64_t t, int64_t s, int64_t d) const {
    return t - d >= 0 && (t < T || is_final(t, s));
  }
};

}  // namespace fast_rnnt
