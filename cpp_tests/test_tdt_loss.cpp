// The duration-lattice losses through the C++ API only: a hand-computed TDT lattice, the
// multi-blank loss without big blanks against rnnt_loss, FastEmit in the C++ autograd, backward
// through loss.backward() against the private backward op, and errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "fast_rnnt/fast_rnnt.h"

namespace {

std::vector<torch::Device> devices() {
  std::vector<torch::Device> out{torch::kCPU};
  if (torch::cuda::is_available()) out.emplace_back(torch::kCUDA);
  return out;
}

TEST(TdtLoss, HandComputedLattice) {
  // T=2, S=1, durations {0, 1}, C=2 tokens and 2 duration logits, all 0: every arc weighs
  // log(1/4). Paths to (2, 1): symbol d=0, blank, blank; blank, symbol d=0, blank; symbol d=1,
  // blank. p = 2 (1/4)^3 + (1/4)^2 = 3/32.
  for (const auto& device : devices()) {
    const auto logits = torch::zeros({1, 2, 2, 4}, torch::dtype(torch::kDouble).device(device));
    const auto symbols = torch::tensor({1}, torch::dtype(torch::kLong).device(device)).reshape({1, 1});
    const auto loss = fast_rnnt::tdt_loss(logits, symbols, 0, {0, 1}, std::nullopt, 0.0, 0.0, 0.0,
                                          "none");
    EXPECT_NEAR(loss.item<double>(), -std::log(3.0 / 32.0), 1e-12);
  }
}

TEST(MultiblankLoss, WithoutBigBlanksIsRnntLoss) {
  for (const auto& device : devices()) {
    torch::manual_seed(0);
    const auto f64 = torch::dtype(torch::kDouble).device(device);
    const auto logits = torch::randn({2, 5, 4, 6}, f64).requires_grad_(true);
    const auto symbols = torch::randint(1, 6, {2, 3}, torch::dtype(torch::kLong).device(device));
    const auto boundary = torch::tensor({0, 0, 3, 5, 1, 1, 3, 4},
                                        torch::dtype(torch::kLong).device(device)).reshape({2, 4});
    const auto loss = fast_rnnt::multiblank_rnnt_loss(logits, symbols, 0, {}, boundary, 0.0, 0.0, "sum");
    const auto grad = torch::autograd::grad({loss}, {logits})[0];
    const auto ref = fast_rnnt::rnnt_loss(logits, symbols, 0, boundary, "regular", 0.0, "sum");
    const auto ref_grad = torch::autograd::grad({ref}, {logits})[0];
    EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-10);
    EXPECT_TRUE(torch::allclose(grad, ref_grad, 1e-9, 1e-10));
  }
}

TEST(DurationLattice, BackwardAndFastEmitInCppAutograd) {
  for (const auto& device : devices()) {
    torch::manual_seed(1);
    const auto f64 = torch::dtype(torch::kDouble).device(device);
    const auto sw = torch::randn({2, 6, 4, 3}, f64);
    const auto bw = torch::randn({2, 6, 4, 2}, f64);
    const std::vector<int64_t> sd{0, 1, 2}, bd{1, 2};
    const auto ones = torch::ones({2}, f64);
    const auto [sym_occ, blank_occ] =
        fast_rnnt::detail::_duration_lattice_backward(sw, bw, sd, bd, std::nullopt, ones, 0.0);
    for (const double lambda : {0.0, 0.25}) {
      const auto a = sw.clone().requires_grad_(true), b = bw.clone().requires_grad_(true);
      fast_rnnt::duration_lattice(a, b, sd, bd, std::nullopt, lambda).sum().backward();
      EXPECT_TRUE(torch::equal(a.grad(), sym_occ * (1.0 + lambda)));
      EXPECT_TRUE(torch::equal(b.grad(), blank_occ));
    }
    EXPECT_GT(sym_occ.abs().sum().item<double>(), 0.0);
  }
}

TEST(TdtLoss, Errors) {
  const auto logits = torch::zeros({1, 3, 3, 6}, torch::kDouble);
  const auto symbols = torch::ones({1, 2}, torch::kLong);
  auto message = [&](auto&& call) {
    try {
      call();
    } catch (const c10::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { fast_rnnt::tdt_loss(logits, symbols, 0, {1, 2}); })
                .find("tdt_loss: expected durations to contain 0 and 1"),
            std::string::npos);
  EXPECT_NE(message([&] { fast_rnnt::tdt_loss(logits, symbols, 0, {0, 1}, std::nullopt, 0.0, 0.0, -1.0); })
                .find("tdt_loss: expected fastemit_lambda >= 0"),
            std::string::npos);
  EXPECT_NE(message([&] { fast_rnnt::multiblank_rnnt_loss(logits, symbols, 1, {2, 3}); })
                .find("multiblank_rnnt_loss: big blank i is the token"),
            std::string::npos);
}

}  // namespace
