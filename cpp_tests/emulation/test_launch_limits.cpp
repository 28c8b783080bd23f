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
#include "ops/cuda/mutual_information_host.h"

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

TEST(LaunchLimits, Recursion) {
  for (const Shape& s : kShapes) {
    for (const bool modified : {false, true}) {
      for (const bool with_grad : {false, true}) {
        const RecursionLaunch c = recursion_launch(s.B, s.S, s.T, modified, with_grad);
        expect_within_limits(launch_config("mutual_information", c));
        EXPECT_EQ(c.threads % 32, 0) << "whole warps: the kernels shuffle with a full mask";
        // Forward-only keeps two wave rows per sequence (defect 3: it kept every wave).
        EXPECT_EQ(c.row_elements, s.B * 2 * (s.S + 3));
        if (!with_grad) EXPECT_EQ(c.ratio_elements + c.share_elements, 0);
      }
    }
  }
}

TEST(LaunchLimits, RecursionBatchBeyondTheGridIsRejected) {
  const RecursionLaunch c = recursion_launch(int64_t(1) << 31, 10, 10, false, false);
  EXPECT_THROW(launch_config("mutual_information", c), c10::Error);
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
