#pragma once
// Included once per instruction set by simd_<isa>.cpp, inside namespace
// fast_rnnt::cpu::FAST_RNNT_ISA (see log_semiring_impl.h): the SIMD loops of duration_waves.h
// and nothing else.
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <limits>
#include <type_traits>

#include "ops/cpu/duration_waves.h"

namespace fast_rnnt::cpu::FAST_RNNT_ISA {
namespace {

// exp and log of float lanes through double: the float results are the correctly rounded
// values but for the rarest ties, as the C library's expf/logf give them (and the CUDA kernels
// under emulation, which the tests compare with), where float Sleef is off by up to 1 ulp.
// Doubles keep ATen's.
template <typename T, typename F>
at::vec::Vectorized<T> through_double(const at::vec::Vectorized<T>& x, F&& f) {
  using Vec = at::vec::Vectorized<T>;
  if constexpr (std::is_same_v<T, float>) {
    using VecD = at::vec::Vectorized<double>;
    float lanes[Vec::size()];
    double wide[Vec::size()];
    x.store(lanes);
    for (int i = 0; i < Vec::size(); ++i) wide[i] = lanes[i];
    for (int i = 0; i < Vec::size(); i += VecD::size()) f(VecD::loadu(wide + i)).store(wide + i);
    for (int i = 0; i < Vec::size(); ++i) lanes[i] = static_cast<float>(wide[i]);
    return Vec::loadu(lanes);
  } else {
    return f(x);
  }
}

template <typename T>
at::vec::Vectorized<T> exp_rounded(const at::vec::Vectorized<T>& x) {
  return through_double(x, [](const auto& v) { return v.exp(); });
}

template <typename T>
at::vec::Vectorized<T> log_rounded(const at::vec::Vectorized<T>& x) {
  return through_double(x, [](const auto& v) { return v.log(); });
}

template <typename T>
T duration_forward_wave(int64_t n, int64_t arcs, const T* const* alpha, const T* const* weight,
                        const T* offset, T* out) {
  using Vec = at::vec::Vectorized<T>;
  static_assert(kMaxLanes % Vec::size() == 0);
  const Vec neg_inf(-std::numeric_limits<T>::infinity());
  const Vec vn(static_cast<T>(n));
  Vec vmax = neg_inf;
  for (int64_t i = 0; i < n; i += Vec::size()) {  // whole vectors: see kMaxLanes
    auto term = [&](int64_t k) {
      return (Vec::loadu(alpha[k] + i) + Vec(offset[k])) + Vec::loadu(weight[k] + i);
    };
    Vec m = neg_inf;
    for (int64_t k = 0; k < arcs; ++k) m = at::vec::maximum(m, term(k));  // NaN stays NaN
    Vec sum(0);
    for (int64_t k = 0; k < arcs; ++k) sum = sum + exp_rounded(term(k) - m);
    // m == -inf: no term, and (term - m) was NaN.
    const Vec v = Vec::blendv(m + log_rounded(sum), neg_inf, m == neg_inf);
    v.store(out + i);
    Vec larger = vmax < v;  // false for NaN
    if (i + Vec::size() > n) larger = larger & (Vec::arange(static_cast<T>(i), 1) < vn);
    vmax = Vec::blendv(vmax, v, larger);
  }
  T lanes[Vec::size()];
  vmax.store(lanes);
  T m = lanes[0];
  for (int k = 1; k < Vec::size(); ++k) m = m < lanes[k] ? lanes[k] : m;
  return m;
}

template <typename T>
void duration_backward_wave(int64_t n, int64_t arcs, const T* const* alpha,
                            const T* const* weight, const T* offset, const T* a, int64_t outs,
                            const T* const* out_occ, bool final, T* const* in_occ, T* scratch) {
  using Vec = at::vec::Vectorized<T>;
  const Vec neg_inf(-std::numeric_limits<T>::infinity());
  const Vec zero(0), one(1);
  constexpr int64_t L = Vec::size();
  for (int64_t i = 0; i < n; i += L) {  // whole vectors: see kMaxLanes
    const Vec ai = Vec::loadu(a + i);
    Vec occ = one;
    if (!final) {
      occ = zero;
      for (int64_t j = 0; j < outs; ++j) occ = occ + Vec::loadu(out_occ[j] + i);
    }
    // The shares, their total and the first arc of the largest share.
    Vec total = zero, best = zero, largest = zero;
    for (int64_t k = 0; k < arcs; ++k) {
      const Vec e = exp_rounded(
          ((Vec::loadu(alpha[k] + i) + Vec(offset[k])) + Vec::loadu(weight[k] + i)) - ai);
      e.store(scratch + k * L);
      total = total + e;
      if (k == 0) {
        best = e;
      } else {
        const Vec larger = e > best;
        best = Vec::blendv(best, e, larger);
        largest = Vec::blendv(largest, Vec(static_cast<T>(k)), larger);
      }
    }
    const Vec live = (ai != neg_inf) & (occ != zero) & (total > zero);  // total > 0: not NaN
    Vec given = zero;
    for (int64_t k = 0; k < arcs; ++k) {
      const Vec e = Vec::loadu(scratch + k * L);
      const Vec none = (largest == Vec(static_cast<T>(k))) | (e == zero);
      const Vec part = Vec::blendv(occ * (e / total), zero, none);
      part.store(scratch + k * L);
      given = given + part;
    }
    const Vec rest = occ - given;
    const Vec remainder = Vec::blendv(rest, zero, rest < zero);  // std::max(rest, 0)
    for (int64_t k = 0; k < arcs; ++k) {
      const Vec part = Vec::blendv(Vec::loadu(scratch + k * L), remainder,
                                   largest == Vec(static_cast<T>(k)));
      Vec::blendv(zero, part, live).store(in_occ[k] + i);
    }
  }
}

// Element by element, in bands of kBand frames: within a band, arc kind by arc kind, frame by
// frame, node by node. Node s of a frame goes to wave row t + s, so a frame writes `nodes` cache
// lines of a plane, one element each, and the next frame the next element of the same lines:
// a band reuses each line kBand times while the lines of one plane (and the band of m) stay in
// L1; a whole frame of all arc kinds at once would not fit.
template <bool kToWaves, typename T>
void duration_copy_waves(std::conditional_t<kToWaves, const T*, T*> m, int64_t ld,
                         int64_t frames, int64_t nodes, int64_t arcs,
                         std::conditional_t<kToWaves, T*, const T*> waves, int64_t width,
                         int64_t plane, T scale) {
  constexpr int64_t kBand = 8;
  for (int64_t t0 = 0; t0 < frames; t0 += kBand) {
    const int64_t t1 = std::min(t0 + kBand, frames);
    for (int64_t k = 0; k < arcs; ++k) {
      for (int64_t t = t0; t < t1; ++t) {
        auto* row = m + t * ld + k;
        auto* wave = waves + k * plane + t * width;
        for (int64_t s = 0; s < nodes; ++s) {
          if constexpr (kToWaves) {
            wave[s * (width + 1)] = row[s * arcs];
          } else {
            row[s * arcs] = wave[s * (width + 1)] * scale;
          }
        }
      }
    }
  }
}

template <typename T>
void duration_copy_to_waves(const T* m, int64_t ld, int64_t frames, int64_t nodes, int64_t arcs,
                            T* waves, int64_t width, int64_t plane) {
  duration_copy_waves<true, T>(m, ld, frames, nodes, arcs, waves, width, plane, T(1));
}

template <typename T>
void duration_copy_from_waves(T* m, int64_t ld, int64_t frames, int64_t nodes, int64_t arcs,
                              const T* waves, int64_t width, int64_t plane, T scale) {
  duration_copy_waves<false, T>(m, ld, frames, nodes, arcs, waves, width, plane, scale);
}

}  // namespace

template <typename T>
DurationWaveKernels<T> duration_wave_kernels() {
  return {&duration_forward_wave<T>, &duration_backward_wave<T>, &duration_copy_to_waves<T>,
          &duration_copy_from_waves<T>};
}

template DurationWaveKernels<float> duration_wave_kernels<float>();
template DurationWaveKernels<double> duration_wave_kernels<double>();

}  // namespace fast_rnnt::cpu::FAST_RNNT_ISA
