#pragma once
// The emulated counterpart of ops/cuda/cuda_launch.cuh, for the host code of the CUDA ops
// (ops/cuda/<op>_host.h): kernels run on CPU threads through emulate_grid, tensors are CPU tensors,
// global pointers are bounds-checked, and every workspace is poisoned with NaN (so a read of a
// workspace element that no kernel wrote shows in the results) and recorded, so tests can compare
// it with what the launch configuration says.
#include <ATen/ATen.h>

#include <limits>
#include <string>
#include <vector>

#include "ops/cuda/device_api.cuh"
#include "ops/cuda/launch_config.h"

namespace fast_rnnt {

struct EmulatedLaunch {
  // Sizes of every workspace the host code allocated, in order (when set).
  std::vector<std::vector<int64_t>>* workspaces = nullptr;
  // Configurations of every launch, in order (when set).
  std::vector<LaunchConfig>* launches = nullptr;

  template <typename... P, typename... A>
  void operator()(const char* kernel_name, const LaunchConfig& config, void (*kernel)(P...),
                  const A&... args) const {
    if (launches) launches->push_back(config);
    emulation::emulate_grid(kernel_name, config, [&] { kernel(args...); });
  }

  at::Tensor workspace(at::IntArrayRef sizes, const at::TensorOptions& options) const {
    if (workspaces) workspaces->emplace_back(sizes.begin(), sizes.end());
    at::Tensor t = at::empty(sizes, options);
    if (at::isFloatingType(t.scalar_type())) t.fill_(std::numeric_limits<double>::quiet_NaN());
    return t;
  }
};

// A checked pointer to the elements of `t` (any strides >= 0), named `name` in errors.
template <typename T>
GlobalPtr<T> global_ptr(const EmulatedLaunch&, const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.element_size() == static_cast<int64_t>(sizeof(T)), name, ": element size ",
              t.element_size(), " but the kernel reads ", sizeof(T), "-byte elements");
  int64_t extent = t.numel() == 0 ? 0 : 1;
  for (int64_t d = 0; d < t.dim(); ++d) {
    TORCH_CHECK(t.stride(d) >= 0, name, ": negative stride");
    if (t.numel() != 0) extent += (t.size(d) - 1) * t.stride(d);
  }
  T* base = static_cast<T*>(const_cast<void*>(t.const_data_ptr()));
  return GlobalPtr<T>(base, extent, name);
}

}  // namespace fast_rnnt
