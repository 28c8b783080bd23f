#pragma once
// Validation shared by the RNN-T loss composites (rnnt_loss.cpp and the pruned losses): the
// rnnt_type and reduction strings, the shapes, dtypes and devices of (lm, am) or logits, symbols,
// termination_symbol and boundary, and the symbol values (one reduction and one host sync, skipped
// while tracing with fake tensors). Sizes are SymInts so that the composites trace with dynamic
// shapes.
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <string_view>

#include "ops/arc_logprobs_checks.h"
#include "ops/mutual_information_checks.h"

// Internal to the loss composites; a namespace of their own keeps these names clear of the
// kernels' anonymous namespaces.
namespace fast_rnnt::rnnt {

using at::Tensor;
using c10::SymInt;

enum class RnntType { kRegular, kModified, kConstrained };
enum class Reduction { kNone, kMean, kSum };

// The schemas' str arguments are c10::string_view: an alias of std::string_view from torch 2.6
// (pytorch/pytorch#139635), a class of its own in torch 2.4 and 2.5, built from pointer and
// length but not from std::string_view. The public C++ API takes std::string_view and passes it
// to the dispatcher through schema_str, which compiles with both.
inline c10::string_view schema_str(std::string_view s) {
  return c10::string_view(s.data(), s.size());
}

inline RnntType parse_rnnt_type(const char* op, c10::string_view rnnt_type) {
  if (rnnt_type == "regular") return RnntType::kRegular;
  if (rnnt_type == "modified") return RnntType::kModified;
  if (rnnt_type == "constrained") return RnntType::kConstrained;
  TORCH_CHECK(false, op, ": expected rnnt_type to be 'regular', 'modified' or 'constrained', got '",
              std::string(rnnt_type), "'");
}

inline Reduction parse_reduction(const char* op, c10::string_view reduction) {
  if (reduction == "none") return Reduction::kNone;
  if (reduction == "mean") return Reduction::kMean;
  if (reduction == "sum") return Reduction::kSum;
  TORCH_CHECK(false, op, ": expected reduction to be 'none', 'mean' or 'sum', got '",
              std::string(reduction), "'");
}

// Whether the values of t can be read: not while tracing (fake, meta or functional tensors).
inline bool has_values(const Tensor& t) {
  if (t.is_meta()) return false;
  const auto keys = t.key_set();
  return !keys.has(c10::DispatchKey::Python) && !keys.has(c10::DispatchKey::Functionalize);
}

inline bool is_float(const Tensor& t) {
  const auto d = t.scalar_type();
  return d == at::kFloat || d == at::kDouble || d == at::kHalf || d == at::kBFloat16;
}

struct LatticeSizes {
  SymInt B, S, T, C;
};

// What every loss checks once the joiner's shapes have given (B, S, T, C).
inline void check_common(const char* op, const LatticeSizes& n, const Tensor& symbols,
                         const Tensor& reference, int64_t termination_symbol, RnntType type,
                         const std::optional<Tensor>& boundary) {
  TORCH_CHECK(symbols.dim() == 2, op, ": expected symbols of shape (B, S), got a ", symbols.dim(),
              "-D tensor of shape ", symbols.sym_sizes());
  TORCH_CHECK(symbols.scalar_type() == at::kLong, op, ": expected symbols to be int64, got ",
                   symbols.scalar_type());
  TORCH_CHECK(symbols.sym_size(0) == n.B && symbols.sym_size(1) == n.S, op,
              ": expected symbols of shape (B, S) = (", n.B, ", ", n.S, "), got ",
              symbols.sym_sizes());
  TORCH_CHECK(symbols.device() == reference.device(), op, ": symbols is on ", symbols.device(),
              " but the scores are on ", reference.device());
  TORCH_CHECK(termination_symbol >= 0 && n.C > termination_symbol, op,
              ": expected termination_symbol in [0, C) = [0, ", n.C, "), got ", termination_symbol);
  TORCH_CHECK(type != RnntType::kModified || n.T >= n.S, op,
              ": rnnt_type='modified' requires T >= S, got T=", n.T, " and S=", n.S);
  if (boundary.has_value()) {
    const Tensor& bd = *boundary;
    TORCH_CHECK(bd.scalar_type() == at::kLong, op, ": expected boundary to be int64, got ",
                     bd.scalar_type());
    TORCH_CHECK(bd.dim() == 2 && bd.sym_size(0) == n.B && bd.sym_size(1) == 4, op,
                ": expected boundary of shape (B, 4) = (", n.B, ", 4), got ", bd.sym_sizes());
    TORCH_CHECK(bd.device() == reference.device(), op, ": boundary is on ", bd.device(),
                " but the scores are on ", reference.device());
    if (has_values(bd)) {
      check_boundary_values(op, bd, n.S.guard_int(__FILE__, __LINE__),
                            n.T.guard_int(__FILE__, __LINE__));
      if (type == RnntType::kModified) check_boundary_frames_cover_symbols(op, bd);
    }
  }
  if (has_values(symbols)) check_symbol_values(op, symbols, n.C.guard_int(__FILE__, __LINE__));
}

inline LatticeSizes check_lm_am(const char* op, const Tensor& lm, const Tensor& am,
                                const Tensor& symbols, int64_t termination_symbol, RnntType type,
                                const std::optional<Tensor>& boundary) {
  TORCH_CHECK(lm.dim() == 3, op, ": expected lm of shape (B, S+1, C), got a ", lm.dim(),
              "-D tensor of shape ", lm.sym_sizes());
  TORCH_CHECK(am.dim() == 3, op, ": expected am of shape (B, T, C), got a ", am.dim(),
              "-D tensor of shape ", am.sym_sizes());
  TORCH_CHECK(is_float(lm), op, ": expected lm to be float32, float64, float16 or bfloat16, "
                   "got ", lm.scalar_type());
  TORCH_CHECK(am.scalar_type() == lm.scalar_type(), op, ": lm is ", lm.scalar_type(),
                   " but am is ", am.scalar_type());
  TORCH_CHECK(am.device() == lm.device(), op, ": lm is on ", lm.device(), " but am is on ",
              am.device());
  TORCH_CHECK(lm.sym_size(0) == am.sym_size(0), op, ": batch size mismatch: lm.size(0)=",
              lm.sym_size(0), " but am.size(0)=", am.sym_size(0));
  TORCH_CHECK(lm.sym_size(2) == am.sym_size(2), op, ": number of classes mismatch: lm.size(2)=",
              lm.sym_size(2), " but am.size(2)=", am.sym_size(2));
  TORCH_CHECK(lm.sym_size(1) >= 1, op, ": expected lm of shape (B, S+1, C) with S+1 >= 1, got ",
              lm.sym_sizes());
  const LatticeSizes n{am.sym_size(0), lm.sym_size(1) - 1, am.sym_size(1), am.sym_size(2)};
  check_common(op, n, symbols, lm, termination_symbol, type, boundary);
  return n;
}

inline LatticeSizes check_logits(const char* op, const Tensor& logits, const Tensor& symbols,
                                 int64_t termination_symbol, RnntType type,
                                 const std::optional<Tensor>& boundary) {
  TORCH_CHECK(logits.dim() == 4, op, ": expected logits of shape (B, T, S+1, C), got a ",
              logits.dim(), "-D tensor of shape ", logits.sym_sizes());
  TORCH_CHECK(is_float(logits), op,
                   ": expected logits to be float32, float64, float16 or bfloat16, got ",
                   logits.scalar_type());
  TORCH_CHECK(logits.sym_size(2) >= 1, op,
              ": expected logits of shape (B, T, S+1, C) with S+1 >= 1, got ", logits.sym_sizes());
  const LatticeSizes n{logits.sym_size(0), logits.sym_size(2) - 1, logits.sym_size(1),
                       logits.sym_size(3)};
  if (symbols.dim() == 2) {
    TORCH_CHECK(symbols.sym_size(0) == n.B && symbols.sym_size(1) == n.S, op,
                ": expected symbols of shape (B, S) = (", n.B, ", ", n.S,
                ") for logits of shape (B, T, S+1, C) = ", logits.sym_sizes(), ", got ",
                symbols.sym_sizes());
  }
  check_common(op, n, symbols, logits, termination_symbol, type, boundary);
  return n;
}

}  // namespace fast_rnnt::rnnt
