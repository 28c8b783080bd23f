// The CUDA recursion kernels (ops/cuda/mutual_information_kernels.cuh), run by their own host code
// (ops/cuda/mutual_information_host.h) under emulation, against the CPU kernels through the
// registered CPU ops: forward-only and with gradients, regular and modified lattices, px/py of
// every rnnt_type (from get_rnnt_logprobs), ragged and offset boundaries, float32 and float64;
// edge sizes (S or T beyond the block size, one sequence 50x longer than the others, S=0, T=1,
// B=0); and one test per defect that issue 14's review found.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fast_rnnt/fast_rnnt.h"
#include "cpp_tests/emulation/emulation_test_util.h"
#include "ops/cuda/emulation/emulated_launch.h"
#include "ops/cuda/mutual_information_host.h"

namespace fast_rnnt {
namespace {

using testing::same_values;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::tuple<at::Tensor, at::Tensor, at::Tensor> emulated(
    const at::Tensor& px, const at::Tensor& py, const std::optional<at::Tensor>& boundary,
    bool with_grad, const EmulatedLaunch& launch = {}) {
  return mutual_information_on(launch, with_grad ? "mutual_information_with_grad" : "mutual_information",
                               px, py, boundary, with_grad);
}

// Forward-only and with gradients, emulated vs CPU.
void expect_emulation_matches_cpu(const at::Tensor& px, const at::Tensor& py,
                                  const std::optional<at::Tensor>& boundary) {
  const auto cpu_scores = mutual_information_recursion(px, py, boundary);
  const auto [scores, no_px_grad, no_py_grad] = emulated(px, py, boundary, /*with_grad=*/false);
  // float32: the same operations in the same order on both sides (the shared exp and log1p of
  // ops/log_semiring_math.h), so the same bits. float64: each side's own exp and log1p.
  const double rtol = px.scalar_type() == at::kFloat ? 0 : -1;
  EXPECT_TRUE(same_values(scores, cpu_scores, rtol)) << "forward-only scores";
  const auto [cpu_s, cpu_px_grad, cpu_py_grad] = mutual_information_recursion_with_grad(px, py, boundary);
  const auto [s, px_grad, py_grad] = emulated(px, py, boundary, /*with_grad=*/true);
  EXPECT_TRUE(same_values(s, cpu_s, rtol)) << "scores with grad";
  EXPECT_TRUE(same_values(px_grad, cpu_px_grad, rtol)) << "px_grad";
  EXPECT_TRUE(same_values(py_grad, cpu_py_grad, rtol)) << "py_grad";
}

// Rows (s_begin, t_begin, s_end, t_end) inside (S, T); ragged, offset when `offset`, and for the
// modified lattice with t_end - t_begin >= s_end - s_begin.
at::Tensor random_boundary(int64_t B, int64_t S, int64_t T, bool offset, bool modified) {
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < B; ++b) {
    auto pick = [](int64_t lo, int64_t hi) { return at::randint(lo, hi + 1, {1}).item<int64_t>(); };
    const int64_t s0 = offset ? pick(0, S / 2) : 0, t0 = offset ? pick(0, (T - 1) / 2) : 0;
    const int64_t t1 = pick(t0 + 1, T);
    int64_t s1 = pick(s0, S);
    if (modified) s1 = std::min(s1, s0 + (t1 - t0));
    rows.insert(rows.end(), {s0, t0, s1, t1});
  }
  return at::tensor(rows, at::kLong).view({B, 4});
}

class EmulatedRecursion : public ::testing::TestWithParam<std::tuple<std::string, at::ScalarType>> {};

// px, py of get_rnnt_logprobs for random lm/am/symbols, so -inf entries and magnitudes are what
// the losses feed the recursion; boundary none, ragged or ragged and offset.
TEST_P(EmulatedRecursion, RandomLatticesMatchCpu) {
  const auto [rnnt_type, dtype] = GetParam();
  const bool modified = rnnt_type != "regular";
  for (int seed = 0; seed < 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    at::manual_seed(seed);
    const int64_t B = 1 + seed % 3, S = seed % 5, T = std::max<int64_t>(S, 1) + seed % 4, C = 6;
    const auto lm = at::randn({B, S + 1, C}, dtype), am = at::randn({B, T, C}, dtype);
    const auto symbols = at::randint(1, C, {B, S}, at::kLong);
    std::optional<at::Tensor> boundary;
    if (seed % 3 != 0) boundary = random_boundary(B, S, T, /*offset=*/seed % 3 == 2, modified);
    const auto [px, py] = get_rnnt_logprobs(lm, am, symbols, 0, rnnt_type, boundary);
    expect_emulation_matches_cpu(px, py, boundary);
  }
}

INSTANTIATE_TEST_SUITE_P(
    RnntTypesAndDtypes, EmulatedRecursion,
    ::testing::Combine(::testing::Values("regular", "modified", "constrained"),
                       ::testing::Values(at::kFloat, at::kDouble)),
    [](const auto& info) {
      return std::get<0>(info.param) + (std::get<1>(info.param) == at::kFloat ? "_float32" : "_float64");
    });

TEST(EmulatedRecursionEdges, HalfAndBFloat16Inputs) {
  at::manual_seed(3);
  for (const auto dtype : {at::kHalf, at::kBFloat16}) {
    const auto px = at::randn({2, 3, 6}).to(dtype), py = at::randn({2, 4, 5}).to(dtype);
    expect_emulation_matches_cpu(px, py, std::nullopt);
  }
}

// S larger than the block size (one wave holds more cells than threads), and T larger too.
TEST(EmulatedRecursionEdges, SizesBeyondTheBlock) {
  at::manual_seed(4);
  expect_emulation_matches_cpu(at::randn({1, 300, 4}), at::randn({1, 301, 3}), std::nullopt);
  expect_emulation_matches_cpu(at::randn({1, 2, 301}), at::randn({1, 3, 300}), std::nullopt);
  expect_emulation_matches_cpu(at::randn({1, 2, 300}), at::randn({1, 3, 300}), std::nullopt);  // modified
}

TEST(EmulatedRecursionEdges, OneSequenceFiftyTimesLonger) {
  at::manual_seed(5);
  const int64_t S = 3, T = 150;
  const auto boundary = at::tensor(std::vector<int64_t>{0, 0, 1, 3, 0, 0, S, T, 0, 1, 2, 4}, at::kLong).view({3, 4});
  expect_emulation_matches_cpu(at::randn({3, S, T + 1}), at::randn({3, S + 1, T}), boundary);
  expect_emulation_matches_cpu(at::randn({3, S, T}), at::randn({3, S + 1, T}), boundary);
}

TEST(EmulatedRecursionEdges, NoSymbolsAndOneFrame) {
  at::manual_seed(6);
  expect_emulation_matches_cpu(at::randn({2, 0, 5}), at::randn({2, 1, 4}), std::nullopt);  // S=0
  expect_emulation_matches_cpu(at::randn({2, 0, 4}), at::randn({2, 1, 4}), std::nullopt);  // S=0, modified
  expect_emulation_matches_cpu(at::randn({2, 3, 2}), at::randn({2, 4, 1}), std::nullopt);  // T=1
  expect_emulation_matches_cpu(at::randn({2, 1, 1}), at::randn({2, 2, 1}), std::nullopt);  // T=1, modified
  // Modified with more symbols than frames: no path, -inf and zero gradients.
  expect_emulation_matches_cpu(at::randn({2, 3, 1}), at::randn({2, 4, 1}), std::nullopt);
}

// Defect 4: B=0 returned zeros_like(px_in), with the input's strides; every other path, the
// CPU kernel and the fake return contiguous tensors.
TEST(EmulatedRecursionDefects, EmptyBatchReturnsContiguousTensors) {
  const auto px0 = at::empty_strided({0, 3, 5}, {1, 1, 3});  // not contiguous
  const auto py0 = at::empty_strided({0, 4, 4}, {1, 1, 4});
  const auto [scores, px_grad, py_grad] = emulated(px0, py0, std::nullopt, /*with_grad=*/true);
  EXPECT_EQ(scores.sizes(), (std::vector<int64_t>{0}));
  EXPECT_EQ(px_grad.sizes(), px0.sizes());
  EXPECT_EQ(py_grad.sizes(), py0.sizes());
  EXPECT_TRUE(px_grad.is_contiguous());
  EXPECT_TRUE(py_grad.is_contiguous());
  EXPECT_EQ(px_grad.strides(), at::empty(px0.sizes()).strides());
  const auto [cpu_s, cpu_px_grad, cpu_py_grad] = mutual_information_recursion_with_grad(px0, py0);
  EXPECT_EQ(px_grad.strides(), cpu_px_grad.strides());
}

// Defect 1: log_add dropped a NaN whose partner is -inf (hi = a > b ? a : b picks the -inf).
TEST(EmulatedRecursionDefects, NaNNextToAnAbsentArcPropagates) {
  auto px = at::randn({1, 2, 4}, at::kDouble), py = at::randn({1, 3, 3}, at::kDouble);
  px[0][0][0] = kNaN;  // cell (1, 0) has no py arc: its other term is -inf
  const auto [scores, a, b] = emulated(px, py, std::nullopt, /*with_grad=*/false);
  EXPECT_TRUE(std::isnan(scores[0].item<double>())) << scores;
  expect_emulation_matches_cpu(px, py, std::nullopt);
  // and a NaN in a py arc whose px partner is -inf (row 0 has no px arc).
  px = at::randn({1, 2, 4}, at::kDouble);
  py[0][0][0] = kNaN;
  expect_emulation_matches_cpu(px, py, std::nullopt);
  // and a NaN where the partner is finite, and a -inf arc next to a NaN.
  py = at::randn({1, 3, 3}, at::kDouble);
  px[0][1][2] = kNaN;
  py[0][1][1] = -kInf;
  expect_emulation_matches_cpu(px, py, std::nullopt);
}

// Defect 2: on the modified lattice the py arcs leaving unreachable cells (s = t + 1) stayed 0
// on CUDA but were NaN on the CPU when their target cell was NaN. CPU and CUDA agree.
TEST(EmulatedRecursionDefects, NaNGradientsAgreeOnTheModifiedLattice) {
  for (int64_t t = 0; t < 3; ++t) {
    auto px = at::randn({1, 3, 4}, at::kDouble), py = at::randn({1, 4, 4}, at::kDouble);
    px[0][0][t] = kNaN;
    expect_emulation_matches_cpu(px, py, std::nullopt);
    px = at::randn({1, 3, 4}, at::kDouble);
    py[0][1][t] = kNaN;
    expect_emulation_matches_cpu(px, py, std::nullopt);
  }
}

// Defect 3: forward-only calls kept every wave row, B*(S+T+1)*(S+3) values (322 MB in float32 at
// B=64, S=500, T=2000); two rows per sequence are enough without gradients.
TEST(EmulatedRecursionDefects, ForwardOnlyKeepsTwoRows) {
  const int64_t B = 2, S = 3, T = 5;
  const auto px = at::randn({B, S, T + 1}), py = at::randn({B, S + 1, T});
  std::vector<std::vector<int64_t>> workspaces;
  const EmulatedLaunch launch{&workspaces};
  emulated(px, py, std::nullopt, /*with_grad=*/false, launch);
  int64_t elements = 0;
  for (const auto& w : workspaces) elements += c10::multiply_integers(w);
  EXPECT_LE(elements, B * 2 * (S + 3)) << "forward-only workspace";
  const RecursionLaunch forward = recursion_launch(B, S, T, /*modified=*/false, /*with_grad=*/false);
  EXPECT_EQ(elements, forward.row_elements + forward.ratio_elements + forward.share_elements)
      << "what the launch configuration computed";
  workspaces.clear();
  emulated(px, py, std::nullopt, /*with_grad=*/true, launch);
  elements = 0;
  for (const auto& w : workspaces) elements += c10::multiply_integers(w);
  const RecursionLaunch both = recursion_launch(B, S, T, /*modified=*/false, /*with_grad=*/true);
  EXPECT_EQ(elements, both.row_elements + both.ratio_elements + both.share_elements);
}

}  // namespace
}  // namespace fast_rnnt
