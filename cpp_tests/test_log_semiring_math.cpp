// The float exp and log1p of the recursion (ops/log_semiring_math.h), which the CPU's SIMD loops,
// the CUDA kernels and their emulation share, against double's, over every 64th float of their
// domains (every float was checked once: at most 1.01 ulp for exp, 1.11 ulp for log1p).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/log_semiring_math.h"

namespace fast_rnnt::log_semiring {
namespace {

// |got - exact| in units of the last place of float at `exact` (denormal spacing below FLT_MIN).
double ulps(float got, double exact) {
  const float at = static_cast<float>(exact);
  const double spacing = std::fabs(exact) < std::numeric_limits<float>::min()
                             ? std::numeric_limits<float>::denorm_min()
                             : static_cast<double>(std::nextafter(std::fabs(at), INFINITY)) - std::fabs(at);
  return std::fabs(static_cast<double>(got) - exact) / spacing;
}

template <typename F, typename G>
double worst_ulps(float from, float to, F ours, G exact) {
  double worst = 0;
  const float dir = to > from ? INFINITY : -INFINITY;
  for (float x = from; to > from ? x <= to : x >= to;) {
    worst = std::fmax(worst, ulps(ours(x), exact(static_cast<double>(x))));
    for (int k = 0; k < 64; ++k) x = std::nextafter(x, dir);
  }
  return worst;
}

TEST(LogSemiringMath, ExpWithinOneUlpOnItsDomain) {
  const double worst = worst_ulps(0.0f, kExpCutoff, [](float x) { return exp_nonpositive(x); },
                                  [](double x) { return std::exp(x); });
  EXPECT_LE(worst, 1.02);
}

TEST(LogSemiringMath, Log1pWithinOnePointOneUlpOnItsDomain) {
  const double worst = worst_ulps(0.0f, 1.0f, [](float e) { return log1p_unit(e); },
                                  [](double e) { return std::log1p(e); });
  EXPECT_LE(worst, 1.12);
}

TEST(LogSemiringMath, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-inf), 0.0f);
  EXPECT_EQ(exp_nonpositive(kExpCutoff - 0.5f), 0.0f);
  EXPECT_GT(exp_nonpositive(kExpCutoff), 0.0f);
  EXPECT_TRUE(std::isnan(exp_nonpositive(std::nanf(""))));
  EXPECT_EQ(log1p_unit(0.0f), 0.0f);
  EXPECT_TRUE(std::isnan(log1p_unit(std::nanf(""))));
  // double keeps the platform's own functions.
  EXPECT_EQ(exp_nonpositive(-1.5), std::exp(-1.5));
  EXPECT_EQ(log1p_unit(0.25), std::log1p(0.25));
}

}  // namespace
}  // namespace fast_rnnt::log_semiring
