// The baseline of bench_mutual_information.py: the plain serial loops over (b, s, t) of a
// straightforward CPU kernel (forward: one scalar log-add per cell; backward: the occupancy
// sweep in reverse), float32, regular recursion, no boundary. Compiled by the benchmark with
// torch.utils.cpp_extension; not part of the library.
#include <torch/extension.h>

#include <cmath>
#include <limits>

namespace {

inline float log_add(float a, float b) {
  const float hi = a > b ? a : b, lo = a > b ? b : a;
  return hi == -std::numeric_limits<float>::infinity() ? hi : hi + std::log1p(std::exp(lo - hi));
}

// Returns (scores, px_grad, py_grad) for px (B, S, T+1), py (B, S+1, T).
std::vector<torch::Tensor> naive_forward_backward(torch::Tensor px, torch::Tensor py) {
  const int64_t B = px.size(0), S = px.size(1), T = py.size(2);
  auto p = torch::empty({B, S + 1, T + 1}, px.options());
  auto occ = torch::zeros({B, S + 1, T + 1}, px.options());
  auto px_grad = torch::zeros_like(px), py_grad = torch::zeros_like(py);
  auto scores = torch::empty({B}, px.options());
  auto X = px.accessor<float, 3>(), Y = py.accessor<float, 3>(), P = p.accessor<float, 3>();
  auto O = occ.accessor<float, 3>(), XG = px_grad.accessor<float, 3>(), YG = py_grad.accessor<float, 3>();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t s = 0; s <= S; ++s) {
      for (int64_t t = 0; t <= T; ++t) {
        if (s == 0 && t == 0) {
          P[b][s][t] = 0;
          continue;
        }
        const float x = s > 0 ? P[b][s - 1][t] + X[b][s - 1][t] : neg_inf;
        const float y = t > 0 ? P[b][s][t - 1] + Y[b][s][t - 1] : neg_inf;
        P[b][s][t] = log_add(x, y);
      }
    }
    scores[b] = P[b][S][T];
    O[b][S][T] = 1;
    for (int64_t s = S; s >= 0; --s) {
      for (int64_t t = T; t >= 0; --t) {
        const float o = O[b][s][t];
        if (s > 0) {
          const float g = o * std::exp(P[b][s - 1][t] + X[b][s - 1][t] - P[b][s][t]);
          XG[b][s - 1][t] = g;
          O[b][s - 1][t] += g;
        }
        if (t > 0) {
          const float g = o * std::exp(P[b][s][t - 1] + Y[b][s][t - 1] - P[b][s][t]);
          YG[b][s][t - 1] = g;
          O[b][s][t - 1] += g;
        }
      }
    }
  }
  return {scores, px_grad, py_grad};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward_backward", &naive_forward_backward, "serial (b, s, t) loops, float32");
}
