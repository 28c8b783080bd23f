// The CUDA kernels of the duration-lattice losses' fused logits read
// (ops/cuda/duration_arc_logprobs_kernels.cuh), run by their own host code
// (ops/cuda/duration_arc_logprobs_host.h) under emulation, against the CPU kernels through the
// registered CPU ops: TDT rows with D = 5 and D = 3 duration logits, multi-blank rows with big
// blanks, plain rows with one blank; every logits dtype; sigma and fastemit_lambda nonzero;
// -inf entries, masked rows, a NaN row, strided logits, expanded symbols; C = 5000; B = 0.
#include <gtest/gtest.h>
#include <ATen/ATen.h>

#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "fast_rnnt/fast_rnnt.h"
#include "cpp_tests/emulation/emulation_test_util.h"
#include "ops/cuda/emulation/emulated_launch.h"
#include "ops/cuda/duration_arc_logprobs_host.h"

namespace fast_rnnt {
namespace {

using testing::same_values;

constexpr double kInf = std::numeric_limits<double>::infinity();

// A kind of row: D duration logits after the C token logits, and how many blanks (D > 0: one
// blank; D = 0: the blank and the big blanks, the last token ids).
struct RowKind {
  const char* name;
  int64_t D, num_blanks;
};
const RowKind kTdt5{"tdt_D5", 5, 1};
const RowKind kTdt3{"tdt_D3", 3, 1};
const RowKind kMultiBlank{"multiblank_4blanks", 0, 4};
const RowKind kOneBlank{"one_blank", 0, 1};

struct Case {
  at::Tensor logits, symbols;
  std::vector<int64_t> blanks;
  int64_t D;
  double sigma, fastemit_lambda;
};

// Random (B, T, K, C + D) logits of `dtype`, strided (T and K swapped in memory), with -inf
// entries, one fully masked row (every token logit -inf) and, when `nan_row`, a NaN.
Case random_case(int seed, const RowKind& kind, at::ScalarType dtype, bool nan_row = false) {
  at::manual_seed(seed);
  auto gen = [](int64_t lo, int64_t hi) { return at::randint(lo, hi + 1, {1}).item<int64_t>(); };
  const int64_t B = gen(1, 3), T = gen(1, 4), K = gen(1, 5);
  const int64_t choices[] = {5, 31, 33, 64, 100};
  const int64_t C = choices[gen(0, 4)], L = C + kind.D;
  auto logits = (3 * at::randn({B, K, T, L}, at::kDouble)).transpose(1, 2);
  logits.masked_fill_(at::rand({B, T, K, L}) < 0.1, -kInf);
  if (seed % 2 == 0) logits[0][T - 1][K - 1].slice(0, 0, C).fill_(-kInf);
  if (nan_row) logits[B - 1][0][0][L - 1] = std::numeric_limits<double>::quiet_NaN();
  logits = logits.to(dtype);  // keeps the transposed strides
  at::Tensor symbols = at::randint(0, C, {B, T, K}, at::kLong);
  if (seed % 2 == 1) symbols = at::randint(0, C, {B, T, 1}, at::kLong).expand({B, T, K});
  std::vector<int64_t> blanks;
  if (kind.num_blanks == 1) {
    blanks.push_back(gen(0, C - 1));
  } else {
    for (int64_t j = 0; j < kind.num_blanks; ++j) blanks.push_back(C - kind.num_blanks + j);
  }
  const double sigma = seed % 3 == 0 ? 0.0 : 0.05 * seed;
  const double fastemit_lambda = seed % 2 == 0 ? 0.0 : 0.01 * seed;
  return {logits, symbols, blanks, kind.D, sigma, fastemit_lambda};
}

void expect_emulation_matches_cpu(const Case& c) {
  constexpr char op[] = "duration_arc_logprobs";
  const DurationArcSizes n =
      check_duration_arc_inputs(op, c.logits, c.symbols, c.blanks, c.D, c.fastemit_lambda);
  const EmulatedLaunch launch;
  auto [sym, blank, norm] =
      duration_arc_logprobs_forward_on(launch, op, c.logits, c.symbols, c.blanks, n, c.sigma);
  auto [cpu_sym, cpu_blank, cpu_norm] =
      detail::_duration_arc_logprobs_forward(c.logits, c.symbols, c.blanks, c.D, c.sigma);
  EXPECT_TRUE(same_values(sym, cpu_sym)) << "symbol arc weights";
  EXPECT_TRUE(same_values(blank, cpu_blank)) << "blank arc weights";
  EXPECT_TRUE(same_values(norm, cpu_norm)) << "normalizers";

  const auto g_sym = at::randn(cpu_sym.sizes(), cpu_sym.options());
  const auto g_blank = at::randn(cpu_blank.sizes(), cpu_blank.options());
  const auto grad = duration_arc_logprobs_backward_on(
      launch, "_duration_arc_logprobs_backward", c.logits, c.symbols, c.blanks, n, cpu_norm,
      g_sym, g_blank, c.fastemit_lambda);
  const auto cpu_grad = detail::_duration_arc_logprobs_backward(
      c.logits, c.symbols, c.blanks, c.D, cpu_norm, g_sym, g_blank, c.fastemit_lambda);
  EXPECT_TRUE(same_values(grad, cpu_grad)) << "grad_logits";
}

class EmulatedDurationArcLogprobs
    : public ::testing::TestWithParam<std::tuple<RowKind, at::ScalarType>> {};

TEST_P(EmulatedDurationArcLogprobs, RandomRowsMatchCpu) {
  const auto [kind, dtype] = GetParam();
  for (int seed = 0; seed < 5; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    expect_emulation_matches_cpu(random_case(seed, kind, dtype, /*nan_row=*/seed == 3));
  }
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    default: return "bfloat16";
  }
}

INSTANTIATE_TEST_SUITE_P(
    KindsAndDtypes, EmulatedDurationArcLogprobs,
    ::testing::Combine(::testing::Values(kTdt5, kTdt3, kMultiBlank, kOneBlank),
                       ::testing::Values(at::kFloat, at::kDouble, at::kHalf, at::kBFloat16)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) + "_" + dtype_name(std::get<1>(info.param));
    });

// A realistic vocabulary: 5000 token logits (157 per lane) and 5 durations; 7 rows leave the
// only block partly empty.
TEST(EmulatedDurationArcLogprobsEdges, LargeVocabulary) {
  at::manual_seed(1);
  const auto logits = at::randn({1, 7, 1, 5005});
  const auto symbols = at::randint(0, 5000, {1, 7, 1}, at::kLong);
  expect_emulation_matches_cpu({logits, symbols, {4999}, 5, 0.1, 0.02});
  const auto mb_logits = at::randn({1, 7, 1, 5000});
  expect_emulation_matches_cpu({mb_logits, symbols, {4996, 4997, 4998, 4999}, 0, 0.1, 0.02});
}

TEST(EmulatedDurationArcLogprobsEdges, EmptyBatch) {
  const auto logits = at::randn({0, 3, 2, 10});
  const auto symbols = at::zeros({0, 3, 2}, at::kLong);
  const std::vector<int64_t> blanks{0};
  const DurationArcSizes n =
      check_duration_arc_inputs("duration_arc_logprobs", logits, symbols, blanks, 5, 0.0);
  std::vector<LaunchConfig> launches;
  const EmulatedLaunch launch{nullptr, &launches};
  auto [sym, blank, norm] = duration_arc_logprobs_forward_on(launch, "duration_arc_logprobs",
                                                             logits, symbols, blanks, n, 0.0);
  EXPECT_EQ(sym.sizes(), (std::vector<int64_t>{0, 3, 2, 5}));
  EXPECT_EQ(blank.sizes(), (std::vector<int64_t>{0, 3, 2, 4}));
  EXPECT_TRUE(sym.is_contiguous());
  EXPECT_TRUE(launches.empty());  // no launch of zero blocks
}

}  // namespace
}  // namespace fast_rnnt
