// The emulation itself (ops/cuda/emulation/): CUDA's semantics for the grid, barriers and warp
// primitives, and each check catching a kernel seeded with the bug it is for. Without these, a
// check that never fires would look like a kernel that never fails.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <string>

#include "ops/cuda/emulation/emulated_launch.h"

namespace fast_rnnt {
namespace {

using emulation::EmulationError;

LaunchConfig config(int64_t blocks, int64_t threads) { return {{blocks}, {threads}, 0}; }

// Runs the launch, which must fail with a message containing `fragment`.
template <typename Fn>
void expect_emulation_error(const Fn& run, const std::string& fragment) {
  try {
    run();
  } catch (const EmulationError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    return;
  }
  ADD_FAILURE() << "expected an EmulationError containing '" << fragment << "'";
}

// --- kernels that are right -----------------------------------------------------------------

// out[block * blockDim + thread] = its own coordinates, written once each.
__global__ void write_coordinates(GlobalPtr<int64_t> out) {
  const int64_t i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = 1000 * blockIdx.x + threadIdx.x + 100000 * gridDim.x + 10000000 * int64_t(blockDim.x);
}

// Per block: a Hillis-Steele inclusive scan of in[] through global scratch with one barrier per
// step (read phase / write phase), as the recursion's waves do.
__global__ void scan_with_barriers(GlobalPtr<const double> in, GlobalPtr<double> scratch,
                                   GlobalPtr<double> out) {
  const int64_t base = blockIdx.x * 2 * blockDim.x, t = threadIdx.x, n = blockDim.x;
  auto a = scratch + base, b = scratch + base + n;
  a[t] = in[blockIdx.x * n + t];
  __syncthreads();
  for (int64_t step = 1; step < n; step *= 2) {
    b[t] = a[t] + (t >= step ? double(a[t - step]) : 0.0);
    __syncthreads();
    const auto tmp = a;
    a = b;
    b = tmp;
  }
  out[blockIdx.x * n + t] = a[t];
}

// Warp sums four ways, one per output column.
__global__ void warp_sums(GlobalPtr<const float> in, GlobalPtr<float> out) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const float v = in[threadIdx.x];
  float xor_sum = v, down_sum = v;
  for (int offset = 16; offset > 0; offset /= 2) {
    xor_sum += __shfl_xor_sync(0xffffffffu, xor_sum, offset);
    down_sum += __shfl_down_sync(0xffffffffu, down_sum, offset);
  }
  float up_scan = v;  // inclusive prefix sum
  for (int offset = 1; offset < 32; offset *= 2) {
    const float u = __shfl_up_sync(0xffffffffu, up_scan, offset);
    if (lane >= offset) up_scan += u;
  }
  const float from_lane_5 = __shfl_sync(0xffffffffu, v, 5);
  const unsigned ballot = __ballot_sync(0xffffffffu, v > 0);
  out[threadIdx.x * 5 + 0] = xor_sum;
  if (lane == 0) out[threadIdx.x * 5 + 1] = down_sum;  // only lane 0 holds the sum
  if (lane != 0) out[threadIdx.x * 5 + 1] = 0;
  out[threadIdx.x * 5 + 2] = up_scan;
  out[threadIdx.x * 5 + 3] = from_lane_5;
  out[threadIdx.x * 5 + 4] = static_cast<float>(__popc(ballot) + 100 * warp);
}

// Block sum through __shared__ memory (the same static array for every block: records per block).
__global__ void shared_sum(GlobalPtr<const float> in, GlobalPtr<float> out) {
  __shared__ Shared<float[64]> partial;
  partial[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
  __syncthreads();
  if (threadIdx.x == 0) {
    float s = 0;
    for (unsigned i = 0; i < blockDim.x; ++i) s += partial[i];
    out[blockIdx.x] = s;
  }
}

TEST(Emulation, GridCoordinatesAndOneWritePerElement) {
  const EmulatedLaunch launch;
  auto out = at::full({3 * 40}, -1, at::kLong);
  launch("write_coordinates", config(3, 40), write_coordinates, global_ptr<int64_t>(launch, out, "out"));
  auto i = at::arange(120, at::kLong);
  auto expected = 1000 * i.div(40, "floor") + i.remainder(40) + 300000 + 400000000;
  EXPECT_TRUE(at::equal(out, expected));
}

TEST(Emulation, BarriersOrderPhases) {
  const EmulatedLaunch launch;
  const int64_t blocks = 2, n = 64;
  auto in = at::randn({blocks * n}, at::kDouble);
  auto scratch = at::empty({blocks * 2 * n}, at::kDouble);
  auto out = at::empty({blocks * n}, at::kDouble);
  launch("scan_with_barriers", config(blocks, n), scan_with_barriers,
         global_ptr<const double>(launch, in, "in"), global_ptr<double>(launch, scratch, "scratch"),
         global_ptr<double>(launch, out, "out"));
  EXPECT_TRUE(at::allclose(out.view({blocks, n}), in.view({blocks, n}).cumsum(1)));
}

TEST(Emulation, WarpPrimitivesFollowCuda) {
  const EmulatedLaunch launch;
  auto in = at::randn({64});
  auto out = at::empty({64, 5});
  launch("warp_sums", config(1, 64), warp_sums, global_ptr<const float>(launch, in, "in"),
         global_ptr<float>(launch, out, "out"));
  const auto w = in.view({2, 32});
  const auto sums = w.sum(1, true).expand({2, 32}).reshape({64});
  EXPECT_TRUE(at::allclose(out.select(1, 0), sums, 1e-5, 1e-5));
  auto lane0 = at::zeros({2, 32});
  lane0.select(1, 0).copy_(w.sum(1));
  EXPECT_TRUE(at::allclose(out.select(1, 1), lane0.reshape({64}), 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(out.select(1, 2), w.cumsum(1).reshape({64}), 1e-5, 1e-5));
  EXPECT_TRUE(at::equal(out.select(1, 3), w.select(1, 5).unsqueeze(1).expand({2, 32}).reshape({64})));
  const auto positives = (w > 0).sum(1).to(at::kFloat) + at::tensor({0.f, 100.f});
  EXPECT_TRUE(at::equal(out.select(1, 4), positives.unsqueeze(1).expand({2, 32}).reshape({64})));
}

TEST(Emulation, SharedMemoryIsPerBlock) {
  const EmulatedLaunch launch;
  auto in = at::randn({3 * 64});
  auto out = at::empty({3});
  launch("shared_sum", config(3, 64), shared_sum, global_ptr<const float>(launch, in, "in"),
         global_ptr<float>(launch, out, "out"));
  EXPECT_TRUE(at::allclose(out, in.view({3, 64}).sum(1), 1e-5, 1e-5));
}

// --- kernels seeded with one bug each ---------------------------------------------------------

__global__ void reads_past_the_end(GlobalPtr<const float> in, GlobalPtr<float> out) {
  out[threadIdx.x] = in[threadIdx.x + 1];
}

__global__ void all_threads_write_one_element(GlobalPtr<float> out) { out[0] = threadIdx.x; }

__global__ void reads_a_neighbour_without_barrier(GlobalPtr<float> a) {
  a[threadIdx.x] = 1;
  const float right = threadIdx.x + 1 < blockDim.x ? float(a[threadIdx.x + 1]) : 0.f;
  (void)right;
}

__global__ void blocks_write_the_same_elements(GlobalPtr<float> out) { out[threadIdx.x] = blockIdx.x; }

__global__ void shuffles_after_half_the_warp_left(GlobalPtr<float> out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
}

__global__ void full_mask_on_a_partial_warp(GlobalPtr<float> out) {
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
}

__global__ void barrier_in_divergent_code(GlobalPtr<float> out) {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

// The races above, in __shared__ memory.
__global__ void shared_neighbour_without_barrier(GlobalPtr<float> out) {
  __shared__ Shared<float[64]> buf;
  buf[threadIdx.x] = threadIdx.x;
  out[threadIdx.x] = buf[(threadIdx.x + 1) % blockDim.x];  // needs a __syncthreads() before
}

__global__ void shared_scalar_written_by_all(GlobalPtr<float> out) {
  __shared__ Shared<float> flag;
  flag = threadIdx.x;  // should be `if (threadIdx.x == 0)`
  __syncthreads();
  out[threadIdx.x] = flag;
}

__global__ void shared_index_past_the_end(GlobalPtr<float> out) {
  __shared__ Shared<float[2][32]> buf;
  buf[threadIdx.x / 32][threadIdx.x % 32 + 1] = 1;  // the last lane leaves its row
  out[threadIdx.x] = 0;
}

TEST(EmulationChecks, SharedMemoryReadOfAnElementAnotherThreadWritesInThePhase) {
  const EmulatedLaunch launch;
  auto out = at::zeros({64});
  expect_emulation_error([&] {
    launch("shared_neighbour_without_barrier", config(1, 64), shared_neighbour_without_barrier,
           global_ptr<float>(launch, out, "out"));
  }, "in the same barrier phase");
}

TEST(EmulationChecks, SharedMemoryTwoThreadsWriteOneElementBetweenBarriers) {
  const EmulatedLaunch launch;
  auto out = at::zeros({8});
  expect_emulation_error([&] {
    launch("shared_scalar_written_by_all", config(1, 8), shared_scalar_written_by_all,
           global_ptr<float>(launch, out, "out"));
  }, "write to __shared__[0] in barrier phase 0: thread");
}

TEST(EmulationChecks, SharedMemoryOutOfBounds) {
  const EmulatedLaunch launch;
  auto out = at::zeros({64});
  expect_emulation_error([&] {
    launch("shared_index_past_the_end", config(1, 64), shared_index_past_the_end,
           global_ptr<float>(launch, out, "out"));
  }, "__shared__ index 32 outside its extent 32");
}

TEST(EmulationChecks, OutOfBoundsRead) {
  const EmulatedLaunch launch;
  auto in = at::zeros({32}), out = at::zeros({32});
  expect_emulation_error([&] {
    launch("reads_past_the_end", config(1, 32), reads_past_the_end,
           global_ptr<const float>(launch, in, "in"), global_ptr<float>(launch, out, "out"));
  }, "read of in[32], outside its 32 elements");
}

TEST(EmulationChecks, StridedTensorExtent) {
  const EmulatedLaunch launch;
  auto base = at::zeros({4, 10});
  auto column = base.select(1, 0);  // 4 elements, stride 10: extent 31 from its first element
  const auto p = global_ptr<const float>(launch, column, "column");
  EXPECT_EQ(p[30], 0.f);
  EXPECT_THROW(p[31], EmulationError);
}

TEST(EmulationChecks, TwoThreadsWriteOneElementBetweenBarriers) {
  const EmulatedLaunch launch;
  auto out = at::zeros({1});
  expect_emulation_error([&] {
    launch("all_threads_write_one_element", config(1, 8), all_threads_write_one_element,
           global_ptr<float>(launch, out, "out"));
  }, "writes it in the same barrier phase");
}

TEST(EmulationChecks, ReadOfAnElementAnotherThreadWritesInThePhase) {
  const EmulatedLaunch launch;
  auto a = at::zeros({64});
  expect_emulation_error([&] {
    launch("reads_a_neighbour_without_barrier", config(1, 64), reads_a_neighbour_without_barrier,
           global_ptr<float>(launch, a, "a"));
  }, "in the same barrier phase");
}

TEST(EmulationChecks, TwoBlocksWriteOneElement) {
  const EmulatedLaunch launch;
  auto out = at::zeros({32});
  expect_emulation_error([&] {
    launch("blocks_write_the_same_elements", config(2, 32), blocks_write_the_same_elements,
           global_ptr<float>(launch, out, "out"));
  }, "block 0 writes it in the same launch");
}

TEST(EmulationChecks, ShuffleMaskNamesExitedLanes) {
  const EmulatedLaunch launch;
  auto out = at::zeros({32});
  expect_emulation_error([&] {
    launch("shuffles_after_half_the_warp_left", config(1, 32), shuffles_after_half_the_warp_left,
           global_ptr<float>(launch, out, "out"));
  }, "exited");
}

TEST(EmulationChecks, ShuffleMaskNamesMissingLanes) {
  const EmulatedLaunch launch;
  auto out = at::zeros({40});
  expect_emulation_error([&] {
    launch("full_mask_on_a_partial_warp", config(1, 40), full_mask_on_a_partial_warp,
           global_ptr<float>(launch, out, "out"));
  }, "lanes that do not exist");
}

TEST(EmulationChecks, DivergentBarrier) {
  const EmulatedLaunch launch;
  auto out = at::zeros({8});
  expect_emulation_error([&] {
    launch("barrier_in_divergent_code", config(1, 8), barrier_in_divergent_code,
           global_ptr<float>(launch, out, "out"));
  }, "divergent barrier");
}

TEST(EmulationChecks, LaunchBeyondCudaLimits) {
  const EmulatedLaunch launch;
  auto out = at::zeros({2048});
  expect_emulation_error([&] {
    launch("write_coordinates", config(1, 2048), write_coordinates, global_ptr<int64_t>(launch, out.to(at::kLong), "out"));
  }, "block dimension x is 2048");
  expect_emulation_error([&] {
    launch("write_coordinates", config(0, 32), write_coordinates, global_ptr<int64_t>(launch, out.to(at::kLong), "out"));
  }, "blocks along x");
}

TEST(EmulationChecks, WorkspaceIsPoisoned) {
  std::vector<std::vector<int64_t>> sizes;
  const EmulatedLaunch launch{&sizes};
  auto w = launch.workspace({2, 3}, at::kFloat);
  EXPECT_TRUE(w.isnan().all().item<bool>());
  ASSERT_EQ(sizes.size(), 1u);
  EXPECT_EQ(sizes[0], (std::vector<int64_t>{2, 3}));
}

}  // namespace
}  // namespace fast_rnnt
