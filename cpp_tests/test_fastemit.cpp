// FastEmit through the C++ API only: fastemit_lambda leaves every loss value unchanged bit for bit,
// multiplies the gradient of the symbol log-probabilities by 1 + fastemit_lambda (checked against
// the recursion's occupancies pushed through get_rnnt_logprobs*'s backward), leaves the
// return-grad occupancies unchanged, and rejects a negative value.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "fast_rnnt/fast_rnnt.h"

namespace {

constexpr double kLambda = 0.5;

struct Batch {
  torch::Tensor lm, am, logits, symbols, boundary;
  Batch() {
    torch::manual_seed(3);
    const auto f64 = torch::dtype(torch::kDouble);
    lm = torch::randn({2, 4, 5}, f64);
    am = torch::randn({2, 6, 5}, f64);
    logits = torch::randn({2, 6, 4, 5}, f64);
    symbols = torch::tensor({1, 2, 3, 4, 1, 0}, torch::kLong).reshape({2, 3});
    boundary = torch::tensor({0, 0, 3, 6, 0, 0, 2, 4}, torch::kLong).reshape({2, 4});
  }
};

// The gradient that FastEmit defines: -(1 + lambda) * occupancy on the symbol log-probabilities,
// -occupancy on the blank ones (reduction "sum"), through the backward of (px, py).
std::vector<torch::Tensor> expected_grads(const torch::Tensor& px, const torch::Tensor& py,
                                          const torch::Tensor& boundary,
                                          const std::vector<torch::Tensor>& inputs) {
  auto [scores, px_occ, py_occ] =
      fast_rnnt::mutual_information_recursion_with_grad(px.detach(), py.detach(), boundary);
  return torch::autograd::grad({px, py}, inputs, {-(1.0 + kLambda) * px_occ, -py_occ});
}

TEST(FastEmit, SimpleLossValueUnchangedAndSymbolGradientScaled) {
  Batch d;
  for (const char* rnnt_type : {"regular", "modified"}) {
    auto lm = d.lm.clone().requires_grad_(true), am = d.am.clone().requires_grad_(true);
    const auto plain = fast_rnnt::rnnt_loss_simple(lm, am, d.symbols, 0, d.boundary, rnnt_type,
                                                   0.0, "sum");
    const auto loss = fast_rnnt::rnnt_loss_simple(lm, am, d.symbols, 0, d.boundary, rnnt_type,
                                                  0.0, "sum", kLambda);
    EXPECT_TRUE(torch::equal(loss, plain)) << rnnt_type;
    const auto grads = torch::autograd::grad({loss}, {lm, am});
    auto [px, py] = fast_rnnt::get_rnnt_logprobs(lm, am, d.symbols, 0, rnnt_type, d.boundary);
    const auto want = expected_grads(px, py, d.boundary, {lm, am});
    for (size_t i = 0; i < grads.size(); ++i) {
      EXPECT_TRUE(torch::allclose(grads[i], want[i], 1e-12, 1e-14)) << rnnt_type << " input " << i;
    }
  }
}

TEST(FastEmit, FullLossSymbolGradientScaled) {
  Batch d;
  auto logits = d.logits.clone().requires_grad_(true);
  const auto plain = fast_rnnt::rnnt_loss(logits, d.symbols, 0, d.boundary, "regular", 0.25, "sum");
  const auto loss =
      fast_rnnt::rnnt_loss(logits, d.symbols, 0, d.boundary, "regular", 0.25, "sum", kLambda);
  EXPECT_TRUE(torch::equal(loss, plain));
  loss.backward();
  auto [px, py] = fast_rnnt::get_rnnt_logprobs_joint(logits, d.symbols, 0, "regular", d.boundary);
  // The delay penalty is a constant on px: it moves the occupancies, not the chain rule.
  const auto frames = torch::arange(7, torch::kDouble).view({1, 1, -1});
  const auto t_end = d.boundary.select(1, 3).to(torch::kDouble).view({-1, 1, 1});
  const auto penalized = px + ((t_end - 1) / 2 - frames) * 0.25;
  auto [scores, px_occ, py_occ] = fast_rnnt::mutual_information_recursion_with_grad(
      penalized.detach(), py.detach(), d.boundary);
  const auto want =
      torch::autograd::grad({px, py}, {logits}, {-(1.0 + kLambda) * px_occ, -py_occ})[0];
  EXPECT_TRUE(torch::allclose(logits.grad(), want, 1e-12, 1e-14));
}

TEST(FastEmit, ReturnGradOccupanciesUnchanged) {
  Batch d;
  const auto [loss0, px0, py0] = fast_rnnt::rnnt_loss_smoothed_with_grad(
      d.lm, d.am, d.symbols, 0, 0.1, 0.1, d.boundary, "constrained", 0.0, "mean");
  const auto [loss, px, py] = fast_rnnt::rnnt_loss_smoothed_with_grad(
      d.lm, d.am, d.symbols, 0, 0.1, 0.1, d.boundary, "constrained", 0.0, "mean", kLambda);
  EXPECT_TRUE(torch::equal(loss, loss0));
  EXPECT_TRUE(torch::equal(px, px0));
  EXPECT_TRUE(torch::equal(py, py0));
}

TEST(FastEmit, PrunedLossValueUnchanged) {
  Batch d;
  const auto ranges = torch::arange(4).expand({2, 6, 4}).contiguous();  // nothing pruned
  auto logits = d.logits.clone().requires_grad_(true);
  const auto pruned = fast_rnnt::rnnt_loss_pruned(logits, d.symbols, ranges, 0, d.boundary,
                                                  "regular", 0.0, "sum", false, kLambda);
  const auto full =
      fast_rnnt::rnnt_loss(logits, d.symbols, 0, d.boundary, "regular", 0.0, "sum", kLambda);
  const auto plain = fast_rnnt::rnnt_loss_pruned(logits, d.symbols, ranges, 0, d.boundary,
                                                 "regular", 0.0, "sum");
  EXPECT_TRUE(torch::equal(pruned, plain));
  const auto g_pruned = torch::autograd::grad({pruned}, {logits})[0];
  const auto g_full = torch::autograd::grad({full}, {logits})[0];
  EXPECT_TRUE(torch::allclose(g_pruned, g_full, 1e-12, 1e-14));
}

TEST(FastEmit, NegativeLambdaThrowsNamingTheArgument) {
  Batch d;
  const auto expect_throw = [](const std::function<void()>& call, const std::string& op) {
    try {
      call();
      ADD_FAILURE() << op << " accepted fastemit_lambda = -0.5";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find(op + ": expected fastemit_lambda to be finite and >= 0"),
                std::string::npos)
          << e.what();
    }
  };
  expect_throw([&] { fast_rnnt::rnnt_loss_simple(d.lm, d.am, d.symbols, 0, d.boundary, "regular",
                                                 0.0, "mean", -0.5); },
               "rnnt_loss_simple");
  expect_throw([&] { fast_rnnt::rnnt_loss(d.logits, d.symbols, 0, d.boundary, "regular", 0.0,
                                          "mean", -0.5); },
               "rnnt_loss");
  expect_throw([&] { fast_rnnt::rnnt_loss_smoothed(d.lm, d.am, d.symbols, 0, 0.1, 0.1, d.boundary,
                                                   "regular", 0.0, "mean", -0.5); },
               "rnnt_loss_smoothed");
  const auto ranges = torch::arange(4).expand({2, 6, 4}).contiguous();
  expect_throw([&] { fast_rnnt::rnnt_loss_pruned(d.logits, d.symbols, ranges, 0, d.boundary,
                                                 "regular", 0.0, "mean", false, -0.5); },
               "rnnt_loss_pruned");
}

}  // namespace
