#pragma once
// Launch configurations of the duration-lattice CUDA kernels, one host function each, shared by
// the launchers (duration_lattice_kernel.cu, duration_arc_logprobs_kernel.cu) and any emulated
// launch of their device code.
#include <cstdint>

namespace fast_rnnt::cuda {

struct LaunchConfig {
  int64_t blocks;
  int threads;
};

// The recursion: one block of kLatticeThreads (duration_lattice_kernels.cuh) per sequence.
inline LaunchConfig duration_lattice_launch(int64_t B, int lattice_threads) {
  return {B, lattice_threads};
}

// The fused logits read: one warp per row, kRowWarps rows per block.
constexpr int kRowWarps = 8;
inline LaunchConfig duration_arc_logprobs_launch(int64_t rows) {
  return {(rows + kRowWarps - 1) / kRowWarps, kRowWarps * 32};
}

}  // namespace fast_rnnt::cuda
