#pragma once
// Validation of the duration-lattice leaf ops (duration_lattice, duration_arc_logprobs and their
// private forward/backward), shared by the CPU and CUDA kernels so that every caller (Python,
// TorchScript, C++) sees the same errors.
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

#include "ops/arc_logprobs_checks.h"
#include "ops/mutual_information_checks.h"

namespace fast_rnnt {

struct DurationLatticeSizes {
  int64_t B, T, S, Ns, Nb;
  int64_t max_duration;  // over both arc kinds
};

inline DurationLatticeSizes check_duration_lattice_inputs(
    const char* op, const at::Tensor& symbol_w, const at::Tensor& blank_w,
    at::IntArrayRef symbol_durations, at::IntArrayRef blank_durations,
    const std::optional<at::Tensor>& boundary, double fastemit_lambda, bool check_values = true) {
  TORCH_CHECK(symbol_w.dim() == 4, op, ": expected symbol_w of shape (B, T, S+1, Ns), got a ",
              symbol_w.dim(), "-D tensor of shape ", symbol_w.sizes());
  TORCH_CHECK(blank_w.dim() == 4, op, ": expected blank_w of shape (B, T, S+1, Nb), got a ",
              blank_w.dim(), "-D tensor of shape ", blank_w.sizes());
  TORCH_CHECK(symbol_w.scalar_type() == at::kFloat || symbol_w.scalar_type() == at::kDouble, op,
              ": expected symbol_w to be float32 or float64, got ", symbol_w.scalar_type());
  TORCH_CHECK(blank_w.scalar_type() == symbol_w.scalar_type(), op, ": symbol_w is ",
              symbol_w.scalar_type(), " but blank_w is ", blank_w.scalar_type());
  TORCH_CHECK(blank_w.device() == symbol_w.device(), op, ": symbol_w is on ", symbol_w.device(),
              " but blank_w is on ", blank_w.device());
  TORCH_CHECK(blank_w.sizes().slice(0, 3) == symbol_w.sizes().slice(0, 3), op,
              ": expected blank_w of shape (B, T, S+1, Nb) with (B, T, S+1) = ",
              symbol_w.sizes().slice(0, 3), " as symbol_w, got ", blank_w.sizes());
  TORCH_CHECK(symbol_w.size(2) >= 1, op, ": expected symbol_w with S+1 >= 1 rows, got shape ",
              symbol_w.sizes());
  TORCH_CHECK(static_cast<int64_t>(symbol_durations.size()) == symbol_w.size(3), op,
              ": expected one symbol duration per column of symbol_w (", symbol_w.size(3),
              "), got symbol_durations=", symbol_durations);
  TORCH_CHECK(static_cast<int64_t>(blank_durations.size()) == blank_w.size(3), op,
              ": expected one blank duration per column of blank_w (", blank_w.size(3),
              "), got blank_durations=", blank_durations);
  int64_t max_duration = 0;
  for (const int64_t d : symbol_durations) {
    TORCH_CHECK(d >= 0, op, ": expected symbol_durations >= 0, got ", symbol_durations);
    max_duration = std::max(max_duration, d);
  }
  for (const int64_t d : blank_durations) {
    TORCH_CHECK(d >= 1, op, ": expected blank_durations >= 1, got ", blank_durations);
    max_duration = std::max(max_duration, d);
  }
  TORCH_CHECK(fastemit_lambda >= 0.0, op, ": expected fastemit_lambda >= 0, got ",
              fastemit_lambda);
  const DurationLatticeSizes n{symbol_w.size(0), symbol_w.size(1), symbol_w.size(2) - 1,
                               symbol_w.size(3), blank_w.size(3), max_duration};
  if (boundary.has_value()) {
    const at::Tensor& bd = *boundary;
    TORCH_CHECK(bd.scalar_type() == at::kLong, op, ": expected boundary to be int64, got ",
                bd.scalar_type());
    TORCH_CHECK(bd.dim() == 2 && bd.size(0) == n.B && bd.size(1) == 4, op,
                ": expected boundary of shape (B, 4) = (", n.B, ", 4), got ", bd.sizes());
    TORCH_CHECK(bd.device() == symbol_w.device(), op, ": boundary is on ", bd.device(),
                " but symbol_w is on ", symbol_w.device());
    if (check_values) check_boundary_values(op, bd, n.S, n.T);
  }
  return n;
}

// ans_grad of _duration_lattice_backward: (B,) in the weights' dtype and device.
inline void check_duration_lattice_grad(const char* op, const at::Tensor& symbol_w,
                                        const at::Tensor& ans_grad) {
  TORCH_CHECK(ans_grad.dim() == 1 && ans_grad.size(0) == symbol_w.size(0), op,
              ": expected ans_grad of shape (B,) = (", symbol_w.size(0), "), got ",
              ans_grad.sizes());
  TORCH_CHECK(ans_grad.scalar_type() == symbol_w.scalar_type(), op, ": expected ans_grad to be ",
              symbol_w.scalar_type(), ", got ", ans_grad.scalar_type());
  TORCH_CHECK(ans_grad.device() == symbol_w.device(), op, ": ans_grad is on ", ans_grad.device(),
              " but symbol_w is on ", symbol_w.device());
}

struct DurationArcSizes {
  int64_t B, T, K, C, D, Nb;  // C token logits, D duration logits, Nb blank columns
  int64_t rows() const { return B * T * K; }
  int64_t symbol_columns() const { return D > 0 ? D : 1; }
  int64_t blank_columns() const { return D > 0 ? D - 1 : Nb; }
};

inline DurationArcSizes check_duration_arc_inputs(const char* op, const at::Tensor& logits,
                                                  const at::Tensor& symbols,
                                                  at::IntArrayRef blanks, int64_t num_durations,
                                                  bool check_values = true) {
  TORCH_CHECK(logits.dim() == 4, op, ": expected logits of shape (B, T, K, C + D), got a ",
              logits.dim(), "-D tensor of shape ", logits.sizes());
  TORCH_CHECK(is_supported_float(logits.scalar_type()), op,
              ": expected logits to be float32, float64, float16 or bfloat16, got ",
              logits.scalar_type());
  TORCH_CHECK(num_durations >= 0 && num_durations != 1, op,
              ": expected num_durations == 0 or >= 2, got ", num_durations);
  TORCH_CHECK(logits.size(3) > num_durations, op, ": expected logits.size(3) = C + D > D = ",
              num_durations, " (at least one token logit), got logits of shape ", logits.sizes());
  const int64_t C = logits.size(3) - num_durations;
  TORCH_CHECK(num_durations == 0 || blanks.size() == 1, op,
              ": with duration logits (num_durations=", num_durations,
              ") expected exactly one blank, got blanks=", blanks);
  TORCH_CHECK(!blanks.empty(), op, ": expected at least one blank, got blanks=", blanks);
  for (const int64_t v : blanks) {
    TORCH_CHECK(v >= 0 && v < C, op, ": expected every blank in [0, C) = [0, ", C,
                "), got blanks=", blanks);
  }
  TORCH_CHECK(symbols.scalar_type() == at::kLong, op, ": expected symbols to be int64, got ",
              symbols.scalar_type());
  TORCH_CHECK(symbols.dim() == 3 && symbols.sizes() == logits.sizes().slice(0, 3), op,
              ": expected symbols of shape (B, T, K) = ", logits.sizes().slice(0, 3),
              " matching logits of shape ", logits.sizes(), ", got ", symbols.sizes());
  TORCH_CHECK(symbols.device() == logits.device(), op, ": symbols is on ", symbols.device(),
              " but logits is on ", logits.device());
  if (check_values) check_symbol_values(op, symbols, C);
  return {logits.size(0), logits.size(1), logits.size(2), C, num_durations,
          static_cast<int64_t>(blanks.size())};
}

// The extra inputs of _duration_arc_logprobs_backward, in the output dtype (float64 for float64
// logits, float32 otherwise).
inline void check_duration_arc_grads(const char* op, const at::Tensor& logits,
                                     const DurationArcSizes& n, const at::Tensor& normalizer,
                                     const at::Tensor& symbol_grad, const at::Tensor& blank_grad) {
  const auto acc = logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  auto check = [&](const char* name, const at::Tensor& t, int64_t columns) {
    const std::vector<int64_t> expected{n.B, n.T, n.K, columns};
    TORCH_CHECK(t.sizes() == at::IntArrayRef(expected), op, ": expected ", name, " of shape ",
                at::IntArrayRef(expected), ", got ", t.sizes());
    TORCH_CHECK(t.scalar_type() == acc, op, ": expected ", name, " to be ", acc, " for ",
                logits.scalar_type(), " logits, got ", t.scalar_type());
    TORCH_CHECK(t.device() == logits.device(), op, ": ", name, " is on ", t.device(),
                " but logits is on ", logits.device());
  };
  check("normalizer", normalizer, 2);
  check("symbol_grad", symbol_grad, n.symbol_columns());
  check("blank_grad", blank_grad, n.blank_columns());
}

}  // namespace fast_rnnt
