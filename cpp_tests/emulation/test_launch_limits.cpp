// Launch configurations of every CUDA kernel, for the largest shapes of the benchmarks
// (LibriSpeech buckets up to B=16, T=416, U=100, C=500, and C=1024+5 for the duration losses;
// recursion B=16, S=100, T=500) and for B=64, T=2000, S=500, C=5000 (TDT: D=5): threads per
// block <= 1024, dynamic shared memory <= 48 KiB (no kernel opts in), grid within CUDA's limits,
// workspaces as computed, and sizes beyond the limits rejected with a message.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ops/cuda/emulation/emulated_launch.h"
#include "ops/cuda/arc_logprobs_host.h"
#include "ops/cuda/mutual_information_host.h"
#include "ops/cuda/duration_lattice_launch.h"

namespace fast_rnnt {
namespace {

struct Shape {
  int64_t B, T, S, C;
};
const std::vector<Shape> kShapes = {
    {16, 416, 100, 500}, {16, 416, 100, 1029}, {16, 500, 100, 500}, {64, 2000, 500, 5005}};
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

// The duration-lattice recursion (TDT durations {0..4}, multi-blank): one block of 256 threads
// per sequence; its only shared memory is static (256 + 1 values for the wave maximum).
TEST(LaunchLimits, DurationLattice) {
  for (const Shape& s : kShapes) {
    const DurationLatticeLaunch c = duration_lattice_launch(s.B, s.T, s.S);
    expect_within_limits(duration_lattice_launch_config("duration_lattice", c));
    EXPECT_EQ(c.blocks, s.B);
    EXPECT_EQ(c.threads, 256);
    EXPECT_EQ(c.alpha_elements, s.B * (s.T + 1) * (s.S + 1)) << "one alpha slab per sequence";
    EXPECT_EQ(c.offset_elements, s.B * (s.T + s.S + 1)) << "one offset per wave";
  }
  EXPECT_LE((kLatticeThreads + 1) * int64_t(sizeof(double)), 48 * 1024) << "static shared memory";
}

TEST(LaunchLimits, DurationArcLogprobs) {
  for (const Shape& s : kShapes) {
    const int64_t rows = s.B * s.T * (s.S + 1);  // (B, T, S+1, C+D) logits
    const LaunchConfig c = duration_arc_logprobs_launch_config("duration_arc_logprobs", rows);
    expect_within_limits(c);
    EXPECT_EQ(c.block.x % 32, 0) << "whole warps: the kernels shuffle with a full mask";
    EXPECT_GE(c.grid.x * (c.block.x / 32), rows) << "every row gets a warp";
    EXPECT_LT((c.grid.x - 1) * (c.block.x / 32), rows) << "no block without a row";
  }
}

// The block counts of the duration kernels were narrowed to dim3 without a check (as defect 5).
TEST(LaunchLimits, DurationKernelsBeyondTheGridAreRejected) {
  const DurationLatticeLaunch c = duration_lattice_launch(int64_t(1) << 31, 1, 0);
  EXPECT_THROW(duration_lattice_launch_config("duration_lattice", c), c10::Error);
  try {
    duration_arc_logprobs_launch_config("duration_arc_logprobs", int64_t(8) * 2147483647 + 1);
    ADD_FAILURE() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "duration_arc_logprobs: the CUDA launch needs 2147483648 blocks along x"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fast_rnnt
