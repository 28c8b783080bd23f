#pragma once
// Launch configurations and workspace sizes of the duration-lattice CUDA kernels
// (duration_lattice_kernels.cuh, duration_arc_logprobs_kernels.cuh), one host function each,
// shared by the real launchers (duration_lattice_host.h, duration_arc_logprobs_host.h through
// the .cu files) and the emulated launches of the CPU tests. Checked against CUDA's limits
// before anything narrows them to dim3.
#include <cstdint>

#include "ops/cuda/launch_config.h"

namespace fast_rnnt {

// The recursion: one block of kLatticeThreads per sequence. Power of two: the kernels' maximum
// reduction assumes blockDim.x == kLatticeThreads.
constexpr int64_t kLatticeThreads = 256;

struct DurationLatticeLaunch {
  int64_t blocks;           // one per sequence
  int64_t threads;          // kLatticeThreads
  int64_t alpha_elements;   // workspace: one (T+1, S+1) slab of alpha per sequence
  int64_t offset_elements;  // workspace: one double offset per wave, T+S+1 per sequence
};

inline DurationLatticeLaunch duration_lattice_launch(int64_t B, int64_t T, int64_t S) {
  return {B, kLatticeThreads, B * (T + 1) * (S + 1), B * (T + S + 1)};
}

inline LaunchConfig duration_lattice_launch_config(const char* op, const DurationLatticeLaunch& c) {
  return checked_launch_config(op, {/*grid=*/{c.blocks}, /*block=*/{c.threads},
                                    /*shared_bytes=*/0});
}

// The fused logits read: one warp per row, kRowWarps rows per block.
constexpr int64_t kRowWarps = 8;

inline LaunchConfig duration_arc_logprobs_launch_config(const char* op, int64_t rows) {
  return checked_launch_config(op, {/*grid=*/{(rows + kRowWarps - 1) / kRowWarps},
                                    /*block=*/{kRowWarps * 32}, /*shared_bytes=*/0});
}

}  // namespace fast_rnnt
