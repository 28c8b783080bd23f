// Pruned RNN-T through the C++ API only: prune ranges, pruning, loss forward and backward.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "fast_rnnt/fast_rnnt.h"

namespace {

std::vector<torch::Device> devices() {
  std::vector<torch::Device> out{torch::kCPU};
  if (torch::cuda::is_available()) out.emplace_back(torch::kCUDA);
  return out;
}

// S=2, T=3, s_range=2, regular. All occupancy on the blank arcs of position 2: the window
// [1, 2] scores best on every frame, the first frame is pulled back to 0 and the last frame
// ends at the last symbol.
TEST(Pruned, PruneRangesByHand) {
  for (const auto& device : devices()) {
    auto px_grad = torch::zeros({1, 2, 4}, torch::dtype(torch::kDouble).device(device));
    auto py_grad = torch::zeros({1, 3, 3}, torch::dtype(torch::kDouble).device(device));
    py_grad.select(1, 2).fill_(1.0);
    auto ranges = fast_rnnt::get_rnnt_prune_ranges(px_grad, py_grad, std::nullopt, 2);
    auto expected = torch::tensor({0, 1, 1, 2, 1, 2}, torch::kLong).reshape({1, 3, 2});
    EXPECT_TRUE(torch::equal(ranges.cpu(), expected)) << ranges;
    // Modified lattice (px_grad (B, S, T)), one position per window: one symbol per frame.
    auto modified = fast_rnnt::get_rnnt_prune_ranges(px_grad.narrow(2, 0, 3), py_grad,
                                                     std::nullopt, 1);
    auto expected_modified = torch::tensor({0, 1, 2}, torch::kLong).reshape({1, 3, 1});
    EXPECT_TRUE(torch::equal(modified.cpu(), expected_modified)) << modified;
  }
}

TEST(Pruned, DoRnntPruningGathersWindows) {
  auto am = torch::arange(6, torch::kDouble).reshape({1, 3, 2});    // (B=1, T=3, D=2)
  auto lm = torch::arange(30, 36, torch::kDouble).reshape({1, 3, 2});  // (B=1, S+1=3, D=2)
  auto ranges = torch::tensor({0, 1, 1, 2, 1, 2}, torch::kLong).reshape({1, 3, 2});
  auto [am_pruned, lm_pruned] = fast_rnnt::do_rnnt_pruning(am, lm, ranges);
  ASSERT_EQ(am_pruned.sizes(), (std::vector<int64_t>{1, 3, 2, 2}));
  EXPECT_EQ(am_pruned[0][2][1][0].item<double>(), 4.0);  // am[0, 2, 0]
  EXPECT_EQ(lm_pruned[0][1][1][1].item<double>(), 35.0);  // lm[0, 2, 1]
  EXPECT_EQ(lm_pruned[0][0][0][0].item<double>(), 30.0);  // lm[0, 0, 0]
}

// B=1, S=1, T=1, s_range=2 (nothing pruned), C=2, blank 0, symbol 1. Position 0 has logits
// (0, 1), position 1 has (0, 0). The only path emits the symbol at position 0 and then the
// blank at position 1:
//   loss = -[(1 - log(1 + e)) + (0 - log 2)] = log(1 + e) + log 2 - 1.
// Gradient: softmax(row) - onehot(arc) for each used row.
TEST(Pruned, LossForwardBackwardByHand) {
  for (const auto& device : devices()) {
    auto logits = torch::tensor({0.0, 1.0, 0.0, 0.0}, torch::dtype(torch::kDouble).device(device))
                      .reshape({1, 1, 2, 2})
                      .requires_grad_();
    auto symbols = torch::tensor({1}, torch::dtype(torch::kLong).device(device)).reshape({1, 1});
    auto ranges =
        torch::tensor({0, 1}, torch::dtype(torch::kLong).device(device)).reshape({1, 1, 2});
    auto loss = fast_rnnt::rnnt_loss_pruned(logits, symbols, ranges, /*termination_symbol=*/0);
    EXPECT_NEAR(loss.item<double>(), 1.0064088680781681, 1e-12) << device;
    loss.backward();
    auto grad = logits.grad().cpu().reshape({4});
    const double expected[4] = {0.2689414213699951, -0.2689414213699951, -0.5, 0.5};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(grad[i].item<double>(), expected[i], 1e-12) << i;

    auto [px, py] = fast_rnnt::get_rnnt_logprobs_pruned(logits.detach(), symbols, ranges, 0);
    ASSERT_EQ(px.sizes(), (std::vector<int64_t>{1, 1, 2}));  // (B, S, T+1)
    EXPECT_NEAR(px[0][0][0].item<double>(), -0.31326168751822286, 1e-12);  // 1 - log(1 + e)
    EXPECT_TRUE(std::isinf(px[0][0][1].item<double>()));
    EXPECT_NEAR(py[0][1][0].item<double>(), -0.6931471805599453, 1e-12);  // -log 2
  }
}

TEST(Pruned, BadInputThrows) {
  auto logits = torch::zeros({1, 1, 2, 2});
  auto symbols = torch::ones({1, 1}, torch::kLong);
  auto ranges = torch::tensor({0, 1}, torch::kLong).reshape({1, 1, 2});
  EXPECT_THROW(fast_rnnt::rnnt_loss_pruned(logits, symbols, ranges, 0, std::nullopt, "bogus"),
               c10::Error);
  EXPECT_THROW(fast_rnnt::rnnt_loss_pruned(logits, symbols, ranges, 0, std::nullopt, "regular",
                                           0.0, "average"),
               c10::Error);
  EXPECT_THROW(fast_rnnt::rnnt_loss_pruned(logits, symbols, ranges, 1, std::nullopt, "regular",
                                           0.0, "mean", /*use_hat_loss=*/true),
               c10::Error);
  try {
    fast_rnnt::rnnt_loss_pruned(logits, symbols, ranges + 1, 0);
    FAIL() << "expected c10::Error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("ranges[0, 0] = (1, 2) is invalid"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(fast_rnnt::get_rnnt_prune_ranges(torch::zeros({1, 2, 4}), torch::zeros({1, 3, 3}),
                                                std::nullopt, 4),
               c10::Error);  // s_range > S+1
}

// The op called from C++ never returns windows that cut every path of a sequence: issue 12's
// batch (8 symbols in 3 frames, 5 in 2) needs s_range >= 4, and s_range 2 or 3 throws, naming
// the sequence, its S_b and T_b and the width needed.
TEST(Pruned, TooNarrowWindowThrows) {
  const auto px_grad = torch::rand({2, 8, 4}, torch::kFloat64);
  const auto py_grad = torch::rand({2, 9, 3}, torch::kFloat64);
  const auto boundary = torch::tensor({0, 0, 8, 3, 0, 0, 5, 2}, torch::kLong).view({2, 4});
  for (const int64_t s_range : {2, 3}) {
    try {
      fast_rnnt::get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range);
      FAIL() << "expected c10::Error for s_range=" << s_range;
    } catch (const c10::Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("s_range=" + std::to_string(s_range) +
                             " keeps no path of sequence 0 of the regular lattice: its S_b=8 "
                             "symbols in T_b=3 frames"),
                std::string::npos)
          << message;
      EXPECT_NE(message.find("need s_range >= ceil(S_b/T_b)+1 = 4"), std::string::npos) << message;
    }
  }
  const auto ranges = fast_rnnt::get_rnnt_prune_ranges(px_grad, py_grad, boundary, 4);
  EXPECT_EQ(ranges.sizes(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_TRUE(torch::equal(fast_rnnt::detail::_rnnt_prune_min_s_range(px_grad, py_grad, boundary),
                           torch::tensor({4, 4}, torch::kLong)));
  // Without a boundary the sizes decide: 8 symbols in 3 frames.
  EXPECT_THROW(fast_rnnt::get_rnnt_prune_ranges(px_grad, py_grad, std::nullopt, 3), c10::Error);
}

}  // namespace
