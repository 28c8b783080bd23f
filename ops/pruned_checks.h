#pragma once
// Validation of the pruned-RNN-T ops' inputs. The ops are composites (no device kernels), so
// these run once per call, before any ATen op; every caller (Python, TorchScript, C++) sees the
// same errors. The rnnt_type / reduction parsing is the losses' own (rnnt_loss_checks.h).
// Sizes are SymInts, so that torch.compile(dynamic=True) and ONNX export keep B, T and S
// symbolic; s_range is the one size the ops specialize on.
#include <ATen/ATen.h>
#include <ATen/FunctionalTensorWrapper.h>

#include <optional>
#include <string>
#include <string_view>

#include "ops/rnnt_loss_checks.h"  // rnnt::RnntType, rnnt::Reduction, parsers (as rnnt_loss)

namespace fast_rnnt {

// Whether the values of t can be read on the host without a device sync or a data-dependent
// trace: a plain CPU tensor (not a fake, meta, functional or Python-subclass tensor). Value
// checks run only then; on CUDA they would cost a sync per call.
inline bool values_readable(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && !t.unsafeGetTensorImpl()->is_python_dispatch() &&
         !at::functionalization::impl::isFunctionalTensor(t) && t.has_storage() &&
         !t.key_set().has(c10::DispatchKey::FuncTorchBatched) &&
         !t.key_set().has(c10::DispatchKey::FuncTorchGradWrapper);
}

// The smallest window for which a path can survive pruning: a regular lattice needs the symbol
// position and the one after it in the same frame, unless there is only one position.
inline int64_t min_s_range(bool regular, const c10::SymInt& S) {
  return regular && S != 0 ? 2 : 1;
}

inline void check_s_range(const char* op, int64_t s_range, const c10::SymInt& S, bool regular) {
  TORCH_CHECK(s_range <= S + 1, op, ": expected s_range <= S+1 = ", S + 1,
              " (a window cannot be wider than the S+1 symbol positions), got s_range=", s_range,
              "; fast_rnnt.get_rnnt_prune_ranges in Python reduces it for you");
  TORCH_CHECK(s_range >= min_s_range(regular, S), op, ": expected s_range >= ",
              min_s_range(regular, S), " for the ", regular ? "regular" : "modified/constrained",
              " lattice with S=", S, " (no path survives a narrower window), got s_range=",
              s_range);
}

inline void check_boundary(const char* op, const std::optional<at::Tensor>& boundary,
                           const c10::SymInt& B, const at::Device& device) {
  if (!boundary.has_value()) return;
  const at::Tensor& bd = *boundary;
  TORCH_CHECK(bd.scalar_type() == at::kLong, op, ": expected boundary to be int64, got ",
                   bd.scalar_type());
  TORCH_CHECK(bd.dim() == 2 && bd.sym_size(0) == B && bd.sym_size(1) == 4, op,
              ": expected boundary of shape (B, 4) = (", B, ", 4), got ", bd.sym_sizes());
  TORCH_CHECK(bd.device() == device, op, ": boundary is on ", bd.device(),
              " but the other inputs are on ", device);
}

// ranges (B, T, s_range) int64 on `device`; on the CPU also its values: in [0, S] and
// ranges[b,t,k] = ranges[b,t,0] + k (one reduction; the offending row only looked up on failure).
inline void check_ranges(const char* op, const at::Tensor& ranges, const c10::SymInt& B,
                         const c10::SymInt& T, int64_t s_range, const c10::SymInt& S_sym,
                         const at::Device& device) {
  TORCH_CHECK(ranges.scalar_type() == at::kLong, op, ": expected ranges to be int64, got ",
                   ranges.scalar_type());
  TORCH_CHECK(ranges.dim() == 3 && ranges.sym_size(0) == B && ranges.sym_size(1) == T &&
                  ranges.sym_size(2) == s_range,
              op, ": expected ranges of shape (B, T, s_range) = (", B, ", ", T, ", ", s_range,
              "), got ", ranges.sym_sizes());
  TORCH_CHECK(ranges.device() == device, op, ": ranges is on ", ranges.device(),
              " but the other inputs are on ", device);
  if (!values_readable(ranges) || ranges.numel() == 0) return;
  const int64_t S = S_sym.guard_int(__FILE__, __LINE__);  // concrete here: a plain CPU tensor
  const auto first = ranges.narrow(2, 0, 1);
  const auto expected = first + at::arange(s_range, ranges.options());
  const auto ok = (ranges == expected).all(2) & first.squeeze(2).ge(0) &
                  ranges.select(2, s_range - 1).le(S);
  if (ok.all().item<bool>()) return;
  const auto bad = ok.logical_not().nonzero()[0];
  const int64_t b = bad[0].item<int64_t>(), t = bad[1].item<int64_t>();
  const auto row = ranges[b][t].contiguous();
  std::string values;
  for (int64_t k = 0; k < s_range; ++k) {
    values += (k ? ", " : "") + std::to_string(row.data_ptr<int64_t>()[k]);
  }
  TORCH_CHECK(false, op, ": ranges[", b, ", ", t, "] = (", values, ")",
              " is invalid: expected s_range consecutive symbol positions r, r+1, ... within "
              "[0, S=", S, "]");
}

}  // namespace fast_rnnt
