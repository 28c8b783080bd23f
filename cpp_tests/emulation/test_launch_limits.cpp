// Launch configurations of every CUDA kernel, for the largest shapes of the benchmarks
// (LibriSpeech buckets up to B=16, T=416, U=100, C=500; recursion B=16, S=100, T=500) and for
// B=64, T=2000, S=500, C=5000: threads per block <= 1024, dynamic shared memory <= 48 KiB (no
// kernel opts in), grid within CUDA's limits, and sizes beyond them rejected with a message.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ops/cuda/emulation/emulated_launch.h"
#include "ops/cuda/arc_logprobs_host.h"

namespace fast_rnnt {
namespace {

struct Shape {
  int64_t B, T, S, C;
};
const std::vector<Shape> kShapes = {{16, 416, 100, 500}, {16, 500, 100, 500}, {64, 2000, 500, 5000}};
constexpr int64_t kSRange = 5;

void expect_within_limits(const LaunchConfig& c) {
  EXPECT_LE(c.block.count(), 1024);
  EXPECT_LE(c.shared_bytes, 48 * 1024);
  EXPECT_LE(c.grid.x, 2147483647);
  EXPECT_LE(c.grid.y, 65535);
  EXPECT_LE(c.grid.z, 65535);
  EXPECT_GE(c.grid.count(), 1);
}

TEST(LaunchLimits, ArcLogprobs) {
  for (const Shape& s : kShapes) {
    for (const int64_t K : {s.S + 1, kSRange}) {  // full and pruned logits
      const int64_t rows = s.B * s.T * K;
      const LaunchConfig c = arc_logprobs_launch_config("arc_logprobs", rows);
      expect_within_limits(c);
      EXPECT_GE(c.grid.x * (c.block.x / 32), rows) << "every row gets a warp";
    }
  }
}

// Defect 5 of issue 14: the block count was narrowed to dim3's unsigned int without a check.
TEST(LaunchLimits, ArcLogprobsRowsBeyondTheGridAreRejected) {
  const int64_t rows = int64_t(8) * 2147483647 + 1;
  try {
    arc_logprobs_launch_config("arc_logprobs", rows);
    ADD_FAILURE() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("arc_logprobs: the CUDA launch needs 2147483648 blocks along x"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fast_rnnt
