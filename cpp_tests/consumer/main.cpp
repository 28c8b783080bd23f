// Links only libtorch and fast_rnnt: a forward and a backward of the recursion, checked against
// a value worked out by hand. Exit code 0 on success.
#include <fast_rnnt/fast_rnnt.h>
#include <torch/torch.h>

#include <cmath>
#include <iostream>

int main() {
  auto px = torch::tensor({{{0.5, -1.0}}}, torch::kDouble).requires_grad_();   // (1, 1, 2)
  auto py = torch::tensor({{{-0.25}, {2.0}}}, torch::kDouble).requires_grad_();  // (1, 2, 1)
  auto scores = fast_rnnt::mutual_information_recursion(px, py);
  scores.sum().backward();
  const double expected = std::log(std::exp(0.5 + 2.0) + std::exp(-0.25 - 1.0));
  const double got = scores.item<double>();
  const double occupancy = px.grad()[0][0][0].item<double>();
  std::cout << "score " << got << " (expected " << expected << "), occupancy " << occupancy << "\n";
  const bool ok = std::abs(got - expected) < 1e-12 && occupancy > 0.5 && occupancy < 1.0;
  return ok ? 0 : 1;
}
