// Input validation through the C++ API only (no Python in front of it): a representative subset
// of python/tests/test_validation.py. Every bad input raises c10::Error whose message names the
// op, the argument, the expected and the actual values. Plus the numerical guarantees that the
// C++ caller relies on: masked rows and sequences without a path give +inf, never NaN.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "fast_rnnt/fast_rnnt.h"

namespace {

constexpr int64_t B = 2, S = 3, T = 6, C = 5, kSRange = 2;

// (B, 4) int64 rows (s_begin, t_begin, s_end, t_end).
torch::Tensor boundary_of(std::vector<int64_t> rows) {
  return torch::tensor(rows, torch::kLong).reshape({B, 4});
}

struct Inputs {
  torch::Tensor lm, am, logits, symbols, boundary, pruned_logits, ranges, px, py;
  Inputs() {
    torch::manual_seed(0);
    lm = torch::randn({B, S + 1, C});
    am = torch::randn({B, T, C});
    logits = torch::randn({B, T, S + 1, C});
    symbols = torch::randint(1, C, {B, S}, torch::kLong);
    boundary = boundary_of({0, 0, S, T, 0, 0, 2, 5});
    pruned_logits = torch::randn({B, T, kSRange, C});
    // Window begins 0 0 1 1 2 2 on every sequence.
    const std::vector<int64_t> begins{0, 0, 1, 1, 2, 2};
    ranges = (torch::tensor(begins, torch::kLong).view({1, T, 1}) +
              torch::arange(kSRange, torch::kLong))
                 .expand({B, T, kSRange})
                 .contiguous();
    px = torch::randn({B, S, T + 1});
    py = torch::randn({B, S + 1, T});
  }
};

// Runs fn, which must throw c10::Error whose message contains every fragment.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const c10::Error& e) {
    const std::string message = e.what_without_backtrace();
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "missing '" << fragment << "' in: " << message;
    }
    return;
  }
  ADD_FAILURE() << "expected c10::Error with '" << fragments.front() << "'";
}

TEST(Validation, LossesOnLmAm) {
  const Inputs in;
  expect_error([&] { fast_rnnt::rnnt_loss_simple(in.lm, in.am.to(torch::kDouble), in.symbols, 0); },
               {"rnnt_loss_simple: lm is Float but am is Double"});
  expect_error([&] { fast_rnnt::rnnt_loss_simple(in.lm, in.am.narrow(2, 0, 4), in.symbols, 0); },
               {"rnnt_loss_simple: number of classes mismatch: lm.size(2)=5 but am.size(2)=4"});
  expect_error([&] { fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols.to(torch::kInt), 0); },
               {"rnnt_loss_simple: expected symbols to be int64, got Int"});
  expect_error([&] { fast_rnnt::rnnt_loss_smoothed(in.lm, in.am, in.symbols, C); },
               {"rnnt_loss_smoothed: expected termination_symbol in [0, C) = [0, 5), got 5"});
  auto bad_symbols = in.symbols.clone();
  bad_symbols[1][2] = 7;
  expect_error([&] { fast_rnnt::rnnt_loss_simple(in.lm, in.am, bad_symbols, 0); },
               {"rnnt_loss_simple: expected every symbol in [0, C) = [0, 5), ",
                "got symbols[1, 2] = 7"});
  const auto bad_boundary = boundary_of({0, 0, S, T + 1, 0, 0, 2, 5});
  expect_error([&] { fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols, 0, bad_boundary); },
               {"rnnt_loss_simple: boundary[0] = (s_begin=0, t_begin=0, s_end=3, t_end=7)",
                "T=6"});
  const auto short_boundary = boundary_of({0, 0, S, T, 0, 3, 3, 5});
  expect_error(
      [&] {
        fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols, 0, short_boundary, "modified");
      },
      {"rnnt_loss_simple: rnnt_type='modified' requires t_end - t_begin >= s_end - s_begin",
       "boundary[1]"});
  expect_error([&] { fast_rnnt::rnnt_loss_simple(in.lm, in.am, in.symbols, 0, std::nullopt, "x"); },
               {"rnnt_loss_simple: expected rnnt_type to be 'regular', 'modified' or "
                "'constrained', got 'x'"});
}

TEST(Validation, FullLoss) {
  const Inputs in;
  expect_error([&] { fast_rnnt::rnnt_loss(in.logits[0], in.symbols, 0); },
               {"rnnt_loss: expected logits of shape (B, T, S+1, C), got a 3-D tensor"});
  expect_error([&] { fast_rnnt::rnnt_loss(in.logits, in.symbols.narrow(1, 0, 2), 0); },
               {"rnnt_loss: expected symbols of shape (B, S) = (2, 3)"});
  expect_error([&] { fast_rnnt::rnnt_loss(in.logits, in.symbols, -1); },
               {"rnnt_loss: expected termination_symbol in [0, C) = [0, 5), got -1"});
  expect_error(
      [&] { fast_rnnt::rnnt_loss(in.logits, in.symbols, 0, in.boundary.to(torch::kInt)); },
      {"rnnt_loss: expected boundary to be int64, got Int"});
  expect_error(
      [&] {
        fast_rnnt::rnnt_loss(in.logits, in.symbols, 0, std::nullopt, "regular", 0.0, "max");
      },
      {"rnnt_loss: expected reduction to be 'none', 'mean' or 'sum', got 'max'"});
}

TEST(Validation, Pruned) {
  const Inputs in;
  expect_error(
      [&] { fast_rnnt::rnnt_loss_pruned(in.pruned_logits, in.symbols, in.ranges + 2, 0); },
      {"rnnt_loss_pruned: ranges[0, 2] = (3, 4) is invalid", "within [0, S=3]"});
  expect_error(
      [&] {
        fast_rnnt::rnnt_loss_pruned(in.pruned_logits.narrow(2, 0, 1), in.symbols,
                                    in.ranges.narrow(2, 0, 1), 0);
      },
      {"rnnt_loss_pruned: expected s_range >= 2 for the regular lattice with S=3",
       "got s_range=1"});
  expect_error(
      [&] {
        fast_rnnt::rnnt_loss_pruned(in.pruned_logits, in.symbols, in.ranges, 1, std::nullopt,
                                    "regular", 0.0, "mean", /*use_hat_loss=*/true);
      },
      {"rnnt_loss_pruned: use_hat_loss=True requires termination_symbol == 0"});
  expect_error([&] { fast_rnnt::get_rnnt_prune_ranges(in.px, in.py, std::nullopt, 0); },
               {"get_rnnt_prune_ranges: expected s_range >= 2", "got s_range=0"});
  expect_error([&] { fast_rnnt::get_rnnt_prune_ranges(in.px, in.py, std::nullopt, S + 2); },
               {"get_rnnt_prune_ranges: expected s_range <= S+1 = 4", "got s_range=5"});
  expect_error(
      [&] { fast_rnnt::do_rnnt_pruning(in.am, in.lm.to(torch::kDouble), in.ranges); },
      {"do_rnnt_pruning: am is Float but lm is Double"});
  expect_error(
      [&] { fast_rnnt::do_rnnt_pruning(in.am, in.lm, in.ranges.narrow(2, 0, 0)); },
      {"do_rnnt_pruning: expected s_range >= 1, got ranges of shape [2, 6, 0]"});
}

TEST(Validation, KernelOps) {
  const Inputs in;
  expect_error([&] { fast_rnnt::mutual_information_recursion(in.px, in.py.narrow(1, 0, 3)); },
               {"mutual_information: expected py.size(1) == px.size(1) + 1 = 4"});
  expect_error(
      [&] { fast_rnnt::mutual_information_recursion_with_grad(in.px, in.py.to(torch::kDouble)); },
      {"mutual_information_with_grad: px is Float but py is Double"});
  const auto bad_boundary = boundary_of({0, 0, S, T, 3, 0, 2, 5});
  expect_error([&] { fast_rnnt::mutual_information_recursion(in.px, in.py, bad_boundary); },
               {"mutual_information: boundary[1] = (s_begin=3, t_begin=0, s_end=2, t_end=5) is "
                "out of range: expected 0 <= s_begin <= s_end <= S=3 and 0 <= t_begin <= t_end "
                "<= T=6"});
  auto symbols = torch::zeros({B, T, S + 1}, torch::kLong);
  symbols[0][1][2] = -4;
  expect_error([&] { fast_rnnt::arc_logprobs(in.logits, symbols, 0); },
               {"arc_logprobs: expected every symbol in [0, C) = [0, 5), ",
                "got symbols[0, 1, 2] = -4"});
  if (torch::cuda::is_available()) {
    expect_error([&] { fast_rnnt::mutual_information_recursion(in.px.cuda(), in.py); },
                 {"mutual_information: px is on cuda", "but py is on cpu"});
    expect_error([&] { fast_rnnt::rnnt_loss(in.logits.cuda(), in.symbols, 0); },
                 {"rnnt_loss: symbols is on cpu but the scores are on cuda"});
  }
}

// Fully masked rows past a sequence's end and a sequence without any blank: finite losses where
// a path exists, +inf where none does, finite gradients, zero for the sequence without a path.
TEST(Numerics, MaskedLogitsGiveInfNotNan) {
  const double inf = std::numeric_limits<double>::infinity();
  Inputs in;
  auto logits = in.logits.clone();
  logits.narrow(1, T - 1, 1).select(0, 1).fill_(-inf);  // frame 5 of sequence 1: past t_end=5
  logits.select(0, 0).select(2, 0).fill_(-inf);         // sequence 0: no blank, no path
  logits.requires_grad_();
  auto loss = fast_rnnt::rnnt_loss(logits, in.symbols, 0, in.boundary, "regular", 0.0, "none");
  EXPECT_TRUE(std::isinf(loss[0].item<double>()) && loss[0].item<double>() > 0) << loss;
  EXPECT_TRUE(std::isfinite(loss[1].item<double>())) << loss;
  loss.sum().backward();
  EXPECT_TRUE(torch::isfinite(logits.grad()).all().item<bool>());
  EXPECT_EQ(logits.grad()[0].abs().sum().item<double>(), 0.0);
}

}  // namespace
