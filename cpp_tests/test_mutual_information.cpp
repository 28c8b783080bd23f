// The recursion through the C++ API only: no Python in this process.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fast_rnnt/fast_rnnt.h"

namespace {

std::vector<torch::Device> devices() {
  std::vector<torch::Device> out{torch::kCPU};
  if (torch::cuda::is_available()) out.emplace_back(torch::kCUDA);
  return out;
}

// S=1, T=1, regular: two paths, (x then y) and (y then x):
//   p = log(exp(px[0,0] + py[1,0]) + exp(py[0,0] + px[0,1])).
TEST(MutualInformation, TwoPathLatticeByHand) {
  for (const auto& device : devices()) {
    auto px = torch::tensor({{{0.5, -1.0}}}, torch::dtype(torch::kDouble).device(device));  // (1,1,2)
    auto py = torch::tensor({{{-0.25}, {2.0}}}, torch::dtype(torch::kDouble).device(device));  // (1,2,1)
    const double expected = std::log(std::exp(0.5 + 2.0) + std::exp(-0.25 - 1.0));
    auto scores = fast_rnnt::mutual_information_recursion(px, py);
    EXPECT_NEAR(scores.item<double>(), expected, 1e-12) << device;
  }
}

TEST(MutualInformation, BackwardThroughAutogradIsOccupancy) {
  for (const auto& device : devices()) {
    auto px = torch::tensor({{{0.5, -1.0}}}, torch::dtype(torch::kDouble).device(device))
                  .requires_grad_();
    auto py = torch::tensor({{{-0.25}, {2.0}}}, torch::dtype(torch::kDouble).device(device))
                  .requires_grad_();
    auto scores = fast_rnnt::mutual_information_recursion(px, py);
    (scores * 3.0).sum().backward();
    const double a = 0.5 + 2.0, b = -0.25 - 1.0;
    const double first = std::exp(a) / (std::exp(a) + std::exp(b));  // P(x then y)
    auto pxg = px.grad().cpu();
    auto pyg = py.grad().cpu();
    EXPECT_NEAR(pxg[0][0][0].item<double>(), 3.0 * first, 1e-12);
    EXPECT_NEAR(pxg[0][0][1].item<double>(), 3.0 * (1 - first), 1e-12);
    EXPECT_NEAR(pyg[0][0][0].item<double>(), 3.0 * (1 - first), 1e-12);
    EXPECT_NEAR(pyg[0][1][0].item<double>(), 3.0 * first, 1e-12);

    auto [s2, pxo, pyo] = fast_rnnt::mutual_information_recursion_with_grad(px.detach(), py.detach());
    EXPECT_TRUE(torch::allclose(pxo.cpu() * 3.0, pxg));
    EXPECT_TRUE(torch::allclose(pyo.cpu() * 3.0, pyg));
  }
}

TEST(MutualInformation, BadInputThrows) {
  auto px = torch::zeros({2, 3, 5});
  auto py = torch::zeros({2, 4, 4});
  EXPECT_THROW(fast_rnnt::mutual_information_recursion(px, torch::zeros({3, 4, 4})), c10::Error);
  EXPECT_THROW(fast_rnnt::mutual_information_recursion(px, py.to(torch::kDouble)), c10::Error);
  EXPECT_THROW(fast_rnnt::mutual_information_recursion(px.select(0, 0), py), c10::Error);
  auto bad = torch::tensor({{0, 0, 3, 4}, {0, 0, 4, 4}}, torch::kLong);  // s_end=4 > S=3
  try {
    fast_rnnt::mutual_information_recursion(px, py, bad);
    FAIL() << "expected c10::Error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("boundary[1]"), std::string::npos) << e.what();
  }
}

}  // namespace
