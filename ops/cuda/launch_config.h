#pragma once
// The launch configuration of a CUDA kernel: computed on the host in int64, checked against CUDA's
// limits before anything narrows it to dim3, and taken as is by both the real launch
// (ops/cuda/cuda_launch.cuh) and the emulated one (ops/cuda/emulation/emulated_launch.h).
#include <c10/util/Exception.h>

#include <cstdint>

namespace fast_rnnt {

// CUDA's limits for every compute capability the build targets (sm_70 and later).
inline constexpr int64_t kMaxThreadsPerBlock = 1024;
inline constexpr int64_t kMaxBlockDim[3] = {1024, 1024, 64};
inline constexpr int64_t kMaxGridDim[3] = {2147483647, 65535, 65535};
// Dynamic shared memory above this needs cudaFuncSetAttribute(MaxDynamicSharedMemorySize).
inline constexpr int64_t kMaxDefaultSharedBytes = 48 * 1024;

struct Dim3 {
  int64_t x = 1, y = 1, z = 1;
  int64_t count() const { return x * y * z; }
  int64_t operator[](int i) const { return i == 0 ? x : i == 1 ? y : z; }
};

struct LaunchConfig {
  Dim3 grid, block;
  int64_t shared_bytes = 0;  // dynamic shared memory per block
};

// `config` when it is within CUDA's limits; otherwise an error naming the op and the limit.
inline LaunchConfig checked_launch_config(const char* op, const LaunchConfig& config) {
  constexpr char kAxis[] = "xyz";
  for (int i = 0; i < 3; ++i) {
    TORCH_CHECK(config.grid[i] >= 1 && config.grid[i] <= kMaxGridDim[i], op,
                ": the CUDA launch needs ", config.grid[i], " blocks along ", kAxis[i],
                ", expected 1 to ", kMaxGridDim[i], " (CUDA's grid limit); split the batch");
    TORCH_CHECK(config.block[i] >= 1 && config.block[i] <= kMaxBlockDim[i], op,
                ": block dimension ", kAxis[i], " is ", config.block[i], ", expected 1 to ",
                kMaxBlockDim[i]);
  }
  TORCH_CHECK(config.block.count() <= kMaxThreadsPerBlock, op, ": ", config.block.count(),
              " threads per block, expected at most ", kMaxThreadsPerBlock);
  TORCH_CHECK(config.shared_bytes >= 0 && config.shared_bytes <= kMaxDefaultSharedBytes, op,
              ": ", config.shared_bytes, " bytes of dynamic shared memory per block, expected at ",
              "most ", kMaxDefaultSharedBytes, " without the opt-in attribute");
  return config;
}

}  // namespace fast_rnnt
