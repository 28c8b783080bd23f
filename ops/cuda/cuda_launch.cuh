#pragma once
// How the host code of the CUDA ops (ops/cuda/<op>_host.h) launches a kernel on a GPU: on the
// current stream, with the configuration computed by the op's launch-configuration function,
// checked right after. ops/cuda/emulation/emulated_launch.h is the same interface on CPU threads.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "ops/cuda/launch_config.h"

namespace fast_rnnt {

struct CudaLaunch {
  cudaStream_t stream;

  template <typename... P, typename... A>
  void operator()(const char* /*kernel_name*/, const LaunchConfig& c, void (*kernel)(P...),
                  const A&... args) const {
    const dim3 grid(static_cast<unsigned>(c.grid.x), static_cast<unsigned>(c.grid.y),
                    static_cast<unsigned>(c.grid.z));
    const dim3 block(static_cast<unsigned>(c.block.x), static_cast<unsigned>(c.block.y),
                     static_cast<unsigned>(c.block.z));
    kernel<<<grid, block, static_cast<size_t>(c.shared_bytes), stream>>>(args...);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }

  at::Tensor workspace(at::IntArrayRef sizes, const at::TensorOptions& options) const {
    return at::empty(sizes, options);
  }
};

template <typename T>
T* global_ptr(const CudaLaunch&, const at::Tensor& t, const char* /*name*/) {
  if constexpr (std::is_const_v<T>) {
    return static_cast<T*>(t.const_data_ptr());
  } else {
    return static_cast<T*>(t.data_ptr());
  }
}

}  // namespace fast_rnnt
