#pragma once
// The launch configuration and workspace sizes of the CUDA recursion kernels
// (mutual_information_kernels.cuh), computed in one place for the real launcher and for the
// emulated launch of the CPU tests. Plain C++: no CUDA or ATen types.
#include <cstdint>

#include "ops/mutual_information_lattice.h"

namespace fast_rnnt {

struct RecursionLaunch {
  int64_t blocks;           // one per sequence
  int64_t threads;          // per block: a multiple of the warp size, at most kMaxThreads
  int64_t width;            // elements of one wave row
  int64_t waves;            // waves of the longest sequence: (S+T+1) regular, (T+1) modified
  int64_t row_elements;     // forward: two wave rows per sequence
  int64_t ratio_elements;   // with_grad: one saved ratio per cell of every wave
  int64_t share_elements;   // backward: two rows each of px and py shares per sequence
  int64_t shared_bytes;     // dynamic shared memory: none (the warp maxima are static)
};

constexpr int64_t kWarpSize = 32;
constexpr int64_t kMaxThreads = 256;
constexpr int64_t kMaxWarps = kMaxThreads / kWarpSize;

inline RecursionLaunch recursion_launch(int64_t B, int64_t S, int64_t T, bool modified,
                                        bool with_grad) {
  RecursionLaunch c{};
  c.blocks = B;
  // Enough threads for the widest wave (S+1 cells), in whole warps.
  const int64_t warps = (S + 1 + kWarpSize - 1) / kWarpSize;
  c.threads = (warps < kMaxWarps ? warps : kMaxWarps) * kWarpSize;
  c.width = wave_width(S);
  c.waves = modified ? T + 1 : S + T + 1;
  c.row_elements = B * 2 * c.width;
  c.ratio_elements = with_grad ? B * c.waves * c.width : 0;
  c.share_elements = with_grad ? B * 4 * c.width : 0;
  c.shared_bytes = 0;
  return c;
}

}  // namespace fast_rnnt
