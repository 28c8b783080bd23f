// The CUDA arc_logprobs kernels (ops/cuda/arc_logprobs_kernels.cuh), run by their own host code
// (ops/cuda/arc_logprobs_host.h) under emulation, against the CPU kernels through the registered
// CPU ops: random rows of every dtype, default and HAT, -inf entries, masked rows, NaN rows,
// strided logits and expanded symbols, rows that leave the last block partly empty, B=0.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <limits>
#include <tuple>

#include "fast_rnnt/fast_rnnt.h"
#include "cpp_tests/emulation/emulation_test_util.h"
#include "ops/cuda/emulation/emulated_launch.h"
#include "ops/cuda/arc_logprobs_host.h"

namespace fast_rnnt {
namespace {

using testing::same_values;

struct Case {
  at::Tensor logits, symbols;
  int64_t blank;
  bool hat;
};

// Random (B, T, K, C) logits of `dtype` with a few -inf entries, one fully masked row and (when
// `nan_row`) one row holding a NaN; logits strided (T and K swapped in memory), symbols expanded
// over K in every other case.
Case random_case(int seed, at::ScalarType dtype, bool hat, bool nan_row = false) {
  at::manual_seed(seed);
  auto gen = [](int64_t lo, int64_t hi) { return at::randint(lo, hi + 1, {1}).item<int64_t>(); };
  const int64_t B = gen(1, 3), T = gen(1, 4), K = gen(1, 5);
  const int64_t choices[] = {2, 5, 31, 33, 64, 100};
  const int64_t C = hat ? choices[gen(0, 5)] : (seed % 7 == 0 ? 1 : choices[gen(0, 5)]);
  auto logits = (3 * at::randn({B, K, T, C}, at::kDouble)).transpose(1, 2);
  logits.masked_fill_(at::rand({B, T, K, C}) < 0.1, -std::numeric_limits<double>::infinity());
  if (seed % 2 == 0) logits[0][T - 1][K - 1].fill_(-std::numeric_limits<double>::infinity());
  if (nan_row) logits[B - 1][0][0][C - 1] = std::numeric_limits<double>::quiet_NaN();
  logits = logits.to(dtype);  // keeps the transposed strides
  at::Tensor symbols = at::randint(0, C, {B, T, K}, at::kLong);
  if (seed % 2 == 1) symbols = at::randint(0, C, {B, T, 1}, at::kLong).expand({B, T, K});
  const int64_t blank = hat ? 0 : gen(0, C - 1);
  return {logits, symbols, blank, hat};
}

void expect_emulation_matches_cpu(const Case& c) {
  constexpr char op[] = "arc_logprobs";
  const ArcLogprobsSizes n = check_arc_logprobs_inputs(op, c.logits, c.symbols, c.blank, c.hat);
  const EmulatedLaunch launch;
  auto [sym, blank, norm] = arc_logprobs_forward_on(launch, op, c.logits, c.symbols, n, c.blank, c.hat);
  auto [cpu_sym, cpu_blank, cpu_norm] =
      detail::_arc_logprobs_forward(c.logits, c.symbols, c.blank, c.hat);
  EXPECT_TRUE(same_values(sym, cpu_sym)) << "symbol logprobs";
  EXPECT_TRUE(same_values(blank, cpu_blank)) << "blank logprobs";
  EXPECT_TRUE(same_values(norm, cpu_norm)) << "normalizer";

  const auto g_sym = at::randn(cpu_sym.sizes(), cpu_sym.options());
  const auto g_blank = at::randn(cpu_sym.sizes(), cpu_sym.options());
  const auto grad = arc_logprobs_backward_on(launch, "_arc_logprobs_backward", c.logits, c.symbols,
                                             n, c.blank, c.hat, cpu_norm, g_sym, g_blank);
  const auto cpu_grad = detail::_arc_logprobs_backward(c.logits, c.symbols, c.blank, c.hat,
                                                            cpu_norm, g_sym, g_blank);
  EXPECT_TRUE(same_values(grad, cpu_grad)) << "grad_logits";
}

class EmulatedArcLogprobs
    : public ::testing::TestWithParam<std::tuple<at::ScalarType, bool>> {};

TEST_P(EmulatedArcLogprobs, RandomRowsMatchCpu) {
  const auto [dtype, hat] = GetParam();
  for (int seed = 0; seed < 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    expect_emulation_matches_cpu(random_case(seed, dtype, hat, /*nan_row=*/seed == 3));
  }
}

INSTANTIATE_TEST_SUITE_P(
    DtypesAndHat, EmulatedArcLogprobs,
    ::testing::Combine(::testing::Values(at::kFloat, at::kDouble, at::kHalf, at::kBFloat16),
                       ::testing::Bool()));

// A realistic vocabulary: 5000 classes, 157 per lane; 7 rows leave the only block partly empty.
TEST(EmulatedArcLogprobsEdges, LargeVocabulary) {
  at::manual_seed(1);
  for (const bool hat : {false, true}) {
    const auto logits = at::randn({1, 7, 1, 5000});
    const auto symbols = at::randint(0, 5000, {1, 7, 1}, at::kLong);
    expect_emulation_matches_cpu({logits, symbols, 0, hat});
  }
}

TEST(EmulatedArcLogprobsEdges, EmptyBatch) {
  const auto logits = at::randn({0, 3, 2, 5});
  const auto symbols = at::zeros({0, 3, 2}, at::kLong);
  const ArcLogprobsSizes n = check_arc_logprobs_inputs("arc_logprobs", logits, symbols, 0, false);
  std::vector<LaunchConfig> launches;
  const EmulatedLaunch launch{nullptr, &launches};
  auto [sym, blank, norm] = arc_logprobs_forward_on(launch, "arc_logprobs", logits, symbols, n, 0, false);
  EXPECT_EQ(sym.sizes(), (std::vector<int64_t>{0, 3, 2}));
  EXPECT_TRUE(sym.is_contiguous());
  EXPECT_TRUE(launches.empty());  // no launch of zero blocks
}

}  // namespace
}  // namespace fast_rnnt
