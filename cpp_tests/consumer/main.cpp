// Links only libtorch and the installed fast_rnnt. First the README's C++ example (kept in step
// with it), then a value worked out by hand. Exit code 0 on success.
#include <fast_rnnt/fast_rnnt.h>
#include <torch/torch.h>

#include <cmath>
#include <iostream>

namespace {

// --- the README example -------------------------------------------------------------------
bool readme_example() {
  auto am = torch::randn({2, 50, 32}, torch::requires_grad());
  auto lm = torch::randn({2, 11, 32}, torch::requires_grad());
  auto symbols = torch::randint(1, 32, {2, 10}, torch::kLong);
  auto boundary = torch::tensor({{0, 0, 10, 50}, {0, 0, 7, 41}}, torch::kLong);
  auto [simple, px_grad, py_grad] = fast_rnnt::rnnt_loss_smoothed_with_grad(
      lm, am, symbols, /*termination_symbol=*/0, /*lm_only_scale=*/0.25, /*am_only_scale=*/0.0, boundary);
  auto ranges = fast_rnnt::get_rnnt_prune_ranges(px_grad, py_grad, boundary, /*s_range=*/5);
  auto [am_p, lm_p] = fast_rnnt::do_rnnt_pruning(am, lm, ranges);
  auto pruned = fast_rnnt::rnnt_loss_pruned(torch::tanh(am_p + lm_p), symbols, ranges, 0, boundary);
  (0.5 * simple + pruned).backward();
  std::cout << pruned.item<float>() << "\n";
  // -------------------------------------------------------------------------------------------
  return std::isfinite(pruned.item<float>()) && am.grad().defined() && lm.grad().defined();
}

// S=1, T=1: two paths; p = log(exp(px[0,0] + py[1,0]) + exp(py[0,0] + px[0,1])).
bool hand_worked_recursion() {
  auto px = torch::tensor({{{0.5, -1.0}}}, torch::kDouble).requires_grad_();    // (1, 1, 2)
  auto py = torch::tensor({{{-0.25}, {2.0}}}, torch::kDouble).requires_grad_();  // (1, 2, 1)
  auto scores = fast_rnnt::mutual_information_recursion(px, py);
  scores.sum().backward();
  const double expected = std::log(std::exp(0.5 + 2.0) + std::exp(-0.25 - 1.0));
  const double occupancy = px.grad()[0][0][0].item<double>();
  std::cout << "score " << scores.item<double>() << " (expected " << expected << "), occupancy "
            << occupancy << "\n";
  return std::abs(scores.item<double>() - expected) < 1e-12 && occupancy > 0.5 && occupancy < 1.0;
}

}  // namespace

int main() { return readme_example() && hand_worked_recursion() ? 0 : 1; }
