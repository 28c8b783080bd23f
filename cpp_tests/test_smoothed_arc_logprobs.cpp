// The fused lm/am op's CPU kernels against its ATen formulation (ops/smoothed_arc_logprobs_aten.h,
// what the CUDA kernels run), on CPU tensors: every output of the forward and both gradients of
// the backward, for the simple loss's, icefall's and k2's scales, in float64. Python's tests
// compare the CPU kernels with an independent cell-by-cell reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "fast_rnnt/smoothed_arc_logprobs.h"
#include "ops/smoothed_arc_logprobs_aten.h"

namespace {

void expect_close(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(torch::allclose(a, b, /*rtol=*/1e-10, /*atol=*/1e-12))
      << what << ": max abs difference " << (a - b).abs().max().item<double>();
}

TEST(SmoothedArcLogprobs, CpuKernelsMatchTheAtenFormulation) {
  const std::vector<std::pair<double, double>> scales{{0.0, 0.0}, {0.25, 1e-20}, {0.1, 0.2},
                                                      {1.0, 0.0}, {0.0, 0.7}};
  int64_t seed = 0;
  for (const auto& [l, a] : scales) {
    torch::manual_seed(seed++);
    const int64_t B = 3, S = 4, T = 5, C = 6, blank = seed % C;
    const auto f64 = torch::dtype(torch::kDouble);
    auto lm = 2 * torch::randn({B, S + 1, C}, f64), am = 2 * torch::randn({B, T, C}, f64);
    lm.index_put_({1, 2}, -std::numeric_limits<double>::infinity());  // a masked row
    const auto symbols = torch::randint(0, C, {B, S}, torch::kLong);
    const fast_rnnt::SmoothedSizes n{B, S, T, C, a != 0.0};

    const auto cpu = fast_rnnt::detail::_smoothed_arc_logprobs_forward(lm, am, symbols, blank, l, a);
    const auto aten = fast_rnnt::aten_impl::forward(lm, am, symbols, blank, l, a, n);
    expect_close(std::get<0>(cpu), std::get<0>(aten), "px");
    expect_close(std::get<1>(cpu), std::get<1>(aten), "py");
    expect_close(std::get<2>(cpu), std::get<2>(aten), "lm_rows");
    expect_close(std::get<3>(cpu), std::get<3>(aten), "am_probs");
    expect_close(std::get<4>(cpu), std::get<4>(aten), "sums");

    const auto px_grad = torch::randn({B, S, T}, f64), py_grad = torch::randn({B, S + 1, T}, f64);
    const auto& [unused_px, unused_py, lm_rows, am_probs, sums] = cpu;
    const auto cpu_grads = fast_rnnt::detail::_smoothed_arc_logprobs_backward(
        px_grad, py_grad, symbols, blank, l, a, lm_rows, am_probs, sums);
    const auto aten_grads = fast_rnnt::aten_impl::backward(px_grad, py_grad, symbols, blank, l, a,
                                                           lm_rows, am_probs, sums, n);
    expect_close(std::get<0>(cpu_grads), std::get<0>(aten_grads), "lm_grad");
    expect_close(std::get<1>(cpu_grads), std::get<1>(aten_grads), "am_grad");
  }
}

}  // namespace
