// The CUDA duration-lattice kernels (ops/cuda/duration_lattice_kernels.cuh), run by their own
// host code (ops/cuda/duration_lattice_host.h) under emulation, against the CPU kernels through
// the registered CPU ops (fast_rnnt::duration_lattice, detail::_duration_lattice_backward):
// TDT duration sets {0,1,2,3,4} and {0,1,2}, multi-blank big blanks {2,4,8}, float32 and float64,
// random weights with -inf entries, ragged and offset boundaries, and the edge sizes S=0, T=1,
// B=0, S+1 beyond the 256 threads of a block, one sequence 50x longer than the other.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fast_rnnt/fast_rnnt.h"
#include "cpp_tests/emulation/emulation_test_util.h"
#include "ops/cuda/emulation/emulated_launch.h"
#include "ops/cuda/duration_lattice_host.h"

namespace fast_rnnt {
namespace {

using testing::same_values;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

struct Durations {
  const char* name;
  std::vector<int64_t> symbol, blank;
};

// TDT with durations {0..4} and {0,1,2} (a blank never has duration 0); multi-blank: symbols
// last one frame, the blank one frame and the big blanks 2, 4 and 8.
const Durations kTdt5{"tdt01234", {0, 1, 2, 3, 4}, {1, 2, 3, 4}};
const Durations kTdt3{"tdt012", {0, 1, 2}, {1, 2}};
const Durations kMultiBlank{"multiblank1248", {1}, {1, 2, 4, 8}};

struct Case {
  at::Tensor symbol_w, blank_w;
  std::vector<int64_t> symbol_durations, blank_durations;
  std::optional<at::Tensor> boundary;
};

// Log-probability-like weights (B, T, S+1, N) of `dtype`, about 5% of them -inf.
at::Tensor random_weights(int64_t B, int64_t T, int64_t S, int64_t N, at::ScalarType dtype) {
  auto w = -at::rand({B, T, S + 1, N}, at::kDouble) * 4 - 0.1;
  w.masked_fill_(at::rand(w.sizes()) < 0.05, kNegInf);
  return w.to(dtype);
}

// (B, 4) rows (s_begin, t_begin, s_end, t_end): offset begins and ragged ends within (S, T); the
// first row spans everything, so the largest sequence fills the tensors.
at::Tensor random_boundary(int64_t B, int64_t S, int64_t T) {
  auto gen = [](int64_t lo, int64_t hi) { return at::randint(lo, hi + 1, {1}).item<int64_t>(); };
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < B; ++b) {
    if (b == 0) {
      rows.insert(rows.end(), {0, 0, S, T});
      continue;
    }
    const int64_t s_begin = gen(0, S / 2), t_begin = gen(0, T / 2);
    rows.insert(rows.end(), {s_begin, t_begin, gen(s_begin, S), gen(t_begin, T)});
  }
  return at::tensor(rows, at::kLong).view({B, 4});
}

Case random_case(int seed, const Durations& d, at::ScalarType dtype) {
  at::manual_seed(seed);
  auto gen = [](int64_t lo, int64_t hi) { return at::randint(lo, hi + 1, {1}).item<int64_t>(); };
  const int64_t B = gen(1, 3), T = gen(1, 9), S = gen(0, 6);
  Case c{random_weights(B, T, S, d.symbol.size(), dtype),
         random_weights(B, T, S, d.blank.size(), dtype), d.symbol, d.blank, std::nullopt};
  if (seed % 3 != 0) c.boundary = random_boundary(B, S, T);
  return c;
}

// Scores and gradients of the emulated kernels equal the CPU kernels'; with `launches`, the
// launch configurations are recorded there.
void expect_emulation_matches_cpu(const Case& c, std::vector<LaunchConfig>* launches = nullptr) {
  constexpr char op[] = "duration_lattice";
  const DurationLatticeSizes n = check_duration_lattice_inputs(
      op, c.symbol_w, c.blank_w, c.symbol_durations, c.blank_durations, c.boundary);
  const EmulatedLaunch launch{nullptr, launches};
  const at::Tensor scores = duration_lattice_forward_on(launch, op, n, c.symbol_w, c.blank_w,
                                                        c.symbol_durations, c.blank_durations,
                                                        c.boundary);
  const at::Tensor cpu_scores =
      duration_lattice(c.symbol_w, c.blank_w, c.symbol_durations, c.blank_durations, c.boundary);
  EXPECT_TRUE(same_values(scores, cpu_scores)) << "scores " << scores << " vs " << cpu_scores;

  const at::Tensor ans_grad = at::randn({n.B}, c.symbol_w.options()) + 2;
  const auto [sg, bg] = duration_lattice_backward_on(launch, "_duration_lattice_backward", n,
                                                     c.symbol_w, c.blank_w, c.symbol_durations,
                                                     c.blank_durations, c.boundary, ans_grad);
  const auto [cpu_sg, cpu_bg] = detail::_duration_lattice_backward(
      c.symbol_w, c.blank_w, c.symbol_durations, c.blank_durations, c.boundary, ans_grad);
  EXPECT_TRUE(same_values(sg, cpu_sg)) << "symbol_w gradient";
  EXPECT_TRUE(same_values(bg, cpu_bg)) << "blank_w gradient";
}

class EmulatedDurationLattice
    : public ::testing::TestWithParam<std::tuple<Durations, at::ScalarType>> {};

TEST_P(EmulatedDurationLattice, RandomLatticesMatchCpu) {
  const auto [d, dtype] = GetParam();
  for (int seed = 0; seed < 4; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    expect_emulation_matches_cpu(random_case(seed, d, dtype));
  }
}

INSTANTIATE_TEST_SUITE_P(
    DurationsAndDtypes, EmulatedDurationLattice,
    ::testing::Combine(::testing::Values(kTdt5, kTdt3, kMultiBlank),
                       ::testing::Values(at::kFloat, at::kDouble)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) + "_" +
             (std::get<1>(info.param) == at::kFloat ? "float32" : "float64");
    });

Case full_case(int64_t B, int64_t T, int64_t S, const Durations& d,
               std::optional<at::Tensor> boundary = std::nullopt) {
  return {random_weights(B, T, S, d.symbol.size(), at::kFloat),
          random_weights(B, T, S, d.blank.size(), at::kFloat), d.symbol, d.blank, boundary};
}

// S = 0: only blanks; T = 1: one frame, where symbols may not end (only a blank reaches the
// final node), so S > 0 has no path and a -inf score with zero gradients.
TEST(EmulatedDurationLatticeEdges, NoSymbolsAndOneFrame) {
  at::manual_seed(2);
  for (const Durations& d : {kTdt5, kMultiBlank}) {
    SCOPED_TRACE(d.name);
    expect_emulation_matches_cpu(full_case(2, 6, 0, d));
    expect_emulation_matches_cpu(full_case(2, 1, 0, d));
    expect_emulation_matches_cpu(full_case(2, 1, 3, d));
  }
}

// A NaN weight on the only arc into a node made that node -inf (the maximum dropped the NaN),
// so the score was that of the lattice without the arc: finite. Found while writing these
// tests, in the CPU and CUDA kernels alike; both now give NaN.
TEST(EmulatedDurationLatticeEdges, NaNWeightGivesNaNScore) {
  at::manual_seed(7);
  for (const Durations& d : {kMultiBlank, kTdt5}) {
    SCOPED_TRACE(d.name);
    Case c = full_case(2, 5, 2, d);
    c.symbol_w.fill_(-1.0);  // no -inf: every arc present
    c.blank_w.fill_(-1.0);
    c.blank_w[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();  // the d=1 blank (0,0) -> (1,0)
    const at::Tensor cpu_scores =
        duration_lattice(c.symbol_w, c.blank_w, c.symbol_durations, c.blank_durations, c.boundary);
    EXPECT_TRUE(std::isnan(cpu_scores[0].item<float>())) << "CPU " << cpu_scores;
    EXPECT_TRUE(std::isfinite(cpu_scores[1].item<float>())) << "CPU " << cpu_scores;
    const DurationLatticeSizes n = check_duration_lattice_inputs(
        "duration_lattice", c.symbol_w, c.blank_w, c.symbol_durations, c.blank_durations,
        c.boundary);
    const at::Tensor scores = duration_lattice_forward_on(
        EmulatedLaunch{}, "duration_lattice", n, c.symbol_w, c.blank_w, c.symbol_durations,
        c.blank_durations, c.boundary);
    EXPECT_TRUE(std::isnan(scores[0].item<float>())) << "emulated CUDA " << scores;
    expect_emulation_matches_cpu(c);
  }
}

TEST(EmulatedDurationLatticeEdges, EmptyBatch) {
  std::vector<LaunchConfig> launches;
  const Case c = full_case(0, 3, 2, kTdt5);
  const DurationLatticeSizes n = check_duration_lattice_inputs(
      "duration_lattice", c.symbol_w, c.blank_w, c.symbol_durations, c.blank_durations, c.boundary);
  const EmulatedLaunch launch{nullptr, &launches};
  const at::Tensor scores = duration_lattice_forward_on(launch, "duration_lattice", n, c.symbol_w,
                                                        c.blank_w, c.symbol_durations,
                                                        c.blank_durations, c.boundary);
  const auto [sg, bg] = duration_lattice_backward_on(
      launch, "_duration_lattice_backward", n, c.symbol_w, c.blank_w, c.symbol_durations,
      c.blank_durations, c.boundary, at::zeros({0}));
  EXPECT_EQ(scores.sizes(), (std::vector<int64_t>{0}));
  EXPECT_EQ(sg.sizes(), c.symbol_w.sizes());
  EXPECT_EQ(bg.sizes(), c.blank_w.sizes());
  EXPECT_TRUE(sg.is_contiguous() && bg.is_contiguous());
  EXPECT_TRUE(launches.empty());  // no launch of zero blocks
}

// S+1 = 301 nodes in the widest waves, more than the block's 256 threads: threads take two.
// (Two frames: duration-0 symbols still make every node reachable.)
TEST(EmulatedDurationLatticeEdges, WavesWiderThanTheBlock) {
  at::manual_seed(3);
  expect_emulation_matches_cpu(full_case(1, 2, 300, kTdt3));
}

// One sequence of T = 150 frames, the other 50x shorter (3 frames) and offset; each block takes
// only its own sequence's waves.
TEST(EmulatedDurationLatticeEdges, OneSequenceFiftyTimesLonger) {
  at::manual_seed(4);
  const auto boundary = at::tensor(std::vector<int64_t>{0, 0, 4, 150, 1, 20, 3, 23}, at::kLong)
                            .view({2, 4});
  for (const Durations& d : {kTdt5, kMultiBlank}) {
    SCOPED_TRACE(d.name);
    std::vector<LaunchConfig> launches;
    expect_emulation_matches_cpu(full_case(2, 150, 4, d, boundary), &launches);
    ASSERT_EQ(launches.size(), 2u);
    EXPECT_EQ(launches[0].grid.x, 2);  // one block per sequence
    EXPECT_EQ(launches[0].block.x, kLatticeThreads);
  }
}

// The workspaces the host code allocates are exactly what duration_lattice_launch computed.
TEST(EmulatedDurationLatticeEdges, WorkspacesAreTheComputedOnes) {
  at::manual_seed(5);
  const Case c = full_case(3, 7, 4, kTdt5);
  const DurationLatticeSizes n = check_duration_lattice_inputs(
      "duration_lattice", c.symbol_w, c.blank_w, c.symbol_durations, c.blank_durations, c.boundary);
  std::vector<std::vector<int64_t>> workspaces;
  const EmulatedLaunch launch{&workspaces, nullptr};
  duration_lattice_backward_on(launch, "_duration_lattice_backward", n, c.symbol_w, c.blank_w,
                               c.symbol_durations, c.blank_durations, c.boundary,
                               at::ones({3}));
  const DurationLatticeLaunch expected = duration_lattice_launch(n.B, n.T, n.S);
  ASSERT_EQ(workspaces.size(), 2u);
  EXPECT_EQ(workspaces[0], (std::vector<int64_t>{expected.alpha_elements}));
  EXPECT_EQ(workspaces[1], (std::vector<int64_t>{expected.offset_elements}));
  EXPECT_EQ(expected.alpha_elements, 3 * 8 * 5);
  EXPECT_EQ(expected.offset_elements, 3 * 12);
}

}  // namespace
}  // namespace fast_rnnt
