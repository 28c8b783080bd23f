#pragma once
// Validation of the inputs of the fused joiner-logits ops (arc_logprobs and its private forward
// and backward), shared by the CPU and CUDA kernels so that every caller (Python, TorchScript,
// C++) sees the same errors.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace fast_rnnt {

struct ArcLogprobsSizes {
  int64_t B, T, K, C;
  int64_t rows() const { return B * T * K; }
};

// Every element of `symbols` (any shape and strides, int64) in [0, C): one min/max reduction and
// one host sync; the offending element is only looked up when the check fails.
inline void check_symbol_values(const char* op, const at::Tensor& symbols, int64_t C) {
  if (symbols.numel() == 0) return;
  const auto [lo, hi] = at::aminmax(symbols);
  const auto range = at::stack({lo, hi}).cpu();
  const int64_t min = range[0].item<int64_t>(), max = range[1].item<int64_t>();
  if (min >= 0 && max < C) return;
  // nonzero() may come back column-major: make the row contiguous before reading it raw.
  const auto bad = (symbols.lt(0) | symbols.ge(C)).nonzero()[0].cpu().contiguous();
  std::vector<int64_t> index(bad.data_ptr<int64_t>(), bad.data_ptr<int64_t>() + bad.numel());
  at::Tensor value = symbols;
  for (const int64_t i : index) value = value[i];
  TORCH_CHECK(false, op, ": expected every symbol in [0, C) = [0, ", C, "), got symbols",
              c10::IntArrayRef(index), " = ", value.item<int64_t>());
}

inline void check_termination_symbol(const char* op, int64_t termination_symbol, int64_t C) {
  TORCH_CHECK(termination_symbol >= 0 && termination_symbol < C, op,
              ": expected termination_symbol in [0, C) = [0, ", C, "), got ", termination_symbol);
}

// Shapes, dtypes, devices and value ranges of (logits, symbols, termination_symbol, use_hat_loss).
// The CUDA backward skips the symbol values (check_values=false): the forward checked them.
inline ArcLogprobsSizes check_arc_logprobs_inputs(const char* op, const at::Tensor& logits,
                                                  const at::Tensor& symbols,
                                                  int64_t termination_symbol, bool use_hat_loss,
                                                  bool check_values = true) {
  TORCH_CHECK(logits.dim() == 4, op, ": expected logits of shape (B, T, K, C), got a ",
              logits.dim(), "-D tensor of shape ", logits.sizes());
  TORCH_CHECK(logits.scalar_type() == at::kFloat || logits.scalar_type() == at::kDouble ||
                       logits.scalar_type() == at::kHalf || logits.scalar_type() == at::kBFloat16,
                   op, ": expected logits to be float32, float64, float16 or bfloat16, got ",
                   logits.scalar_type());
  TORCH_CHECK(symbols.scalar_type() == at::kLong, op, ": expected symbols to be int64, got ",
                   symbols.scalar_type());
  TORCH_CHECK(symbols.dim() == 3 && symbols.size(0) == logits.size(0) &&
                  symbols.size(1) == logits.size(1) && symbols.size(2) == logits.size(2),
              op, ": expected symbols of shape (B, T, K) = ", logits.sizes().slice(0, 3),
              " matching logits of shape ", logits.sizes(), ", got ", symbols.sizes());
  TORCH_CHECK(symbols.device() == logits.device(), op, ": symbols is on ", symbols.device(),
              " but logits is on ", logits.device());
  const ArcLogprobsSizes n{logits.size(0), logits.size(1), logits.size(2), logits.size(3)};
  TORCH_CHECK(n.C >= 1, op, ": expected logits with at least one class, got shape ",
              logits.sizes());
  check_termination_symbol(op, termination_symbol, n.C);
  if (use_hat_loss) {
    TORCH_CHECK(termination_symbol == 0, op,
                ": use_hat_loss=True expects termination_symbol == 0 (the blank is logits[..., 0]), "
                "got ", termination_symbol);
    TORCH_CHECK(n.C >= 2, op, ": use_hat_loss=True expects at least 2 classes, got logits of shape ",
                logits.sizes());
  }
  if (check_values) check_symbol_values(op, symbols, n.C);
  return n;
}

// The extra inputs of _arc_logprobs_backward: per-row normalizer and output gradients, (B, T, K)
// in the output dtype (float64 for float64 logits, float32 otherwise).
inline void check_arc_logprobs_grads(const char* op, const at::Tensor& logits,
                                     const at::Tensor& normalizer, const at::Tensor& symbol_grad,
                                     const at::Tensor& blank_grad) {
  const auto rows = logits.sizes().slice(0, 3);
  const auto acc = logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  auto check = [&](const char* name, const at::Tensor& t) {
    TORCH_CHECK(t.sizes() == rows, op, ": expected ", name, " of shape (B, T, K) = ", rows,
                ", got ", t.sizes());
    TORCH_CHECK(t.scalar_type() == acc, op, ": expected ", name, " to be ", acc, " for ",
                     logits.scalar_type(), " logits, got ", t.scalar_type());
    TORCH_CHECK(t.device() == logits.device(), op, ": ", name, " is on ", t.device(),
                " but logits is on ", logits.device());
  };
  check("normalizer", normalizer);
  check("symbol_grad", symbol_grad);
  check("blank_grad", blank_grad);
}

}  // namespace fast_rnnt
