#pragma once
// Validation of the recursion's inputs, shared by the CPU and CUDA kernels so that every
// caller (Python, TorchScript, C++) sees the same errors.
#include <ATen/ATen.h>

#include <optional>

namespace fast_rnnt {

struct MutualInformationSizes {
  int64_t B, S, T;
  bool modified;  // px is (B, S, T) rather than (B, S, T+1)
};

inline bool is_supported_float(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

// Rows (s_begin, t_begin, s_end, t_end) with 0 <= s_begin <= s_end <= S and
// 0 <= t_begin <= t_end <= T. One reduction and one host sync; the offending row is only
// looked up when the check fails.
inline void check_boundary_values(const char* op, const at::Tensor& boundary, int64_t S,
                                  int64_t T) {
  if (boundary.size(0) == 0) return;
  const auto s_begin = boundary.select(1, 0), t_begin = boundary.select(1, 1);
  const auto s_end = boundary.select(1, 2), t_end = boundary.select(1, 3);
  const auto ok = s_begin.ge(0) & s_begin.le(s_end) & s_end.le(S) & t_begin.ge(0) &
                  t_begin.le(t_end) & t_end.le(T);
  if (ok.all().item<bool>()) return;
  const int64_t b = ok.logical_not().nonzero().select(1, 0)[0].item<int64_t>();
  const auto row = boundary[b].cpu();
  const auto r = row.accessor<int64_t, 1>();
  TORCH_CHECK(false, op, ": boundary[", b, "] = (s_begin=", r[0], ", t_begin=", r[1],
              ", s_end=", r[2], ", t_end=", r[3], ") is out of range: expected 0 <= s_begin <= ",
              "s_end <= S=", S, " and 0 <= t_begin <= t_end <= T=", T);
}

// For lattices that emit at most one symbol per frame (rnnt_type 'modified'): every row of
// boundary must leave enough frames for its symbols, t_end - t_begin >= s_end - s_begin. One
// reduction and one host sync; the offending row is only looked up when the check fails.
inline void check_boundary_frames_cover_symbols(const char* op, const at::Tensor& boundary) {
  if (boundary.size(0) == 0) return;
  const auto ok = (boundary.select(1, 3) - boundary.select(1, 1))
                      .ge(boundary.select(1, 2) - boundary.select(1, 0));
  if (ok.all().item<bool>()) return;
  const int64_t b = ok.logical_not().nonzero().select(1, 0)[0].item<int64_t>();
  const auto row = boundary[b].cpu();
  const auto r = row.accessor<int64_t, 1>();
  TORCH_CHECK(false, op, ": rnnt_type='modified' requires t_end - t_begin >= s_end - s_begin for ",
              "every sequence, got boundary[", b, "] = (s_begin=", r[0], ", t_begin=", r[1],
              ", s_end=", r[2], ", t_end=", r[3], ") with ", r[3] - r[1], " frames for ",
              r[2] - r[0], " symbols");
}

inline MutualInformationSizes check_mutual_information_inputs(
    const char* op, const at::Tensor& px, const at::Tensor& py,
    const std::optional<at::Tensor>& boundary, bool check_values = true) {
  TORCH_CHECK(px.dim() == 3, op, ": expected px of shape (B, S, T+1) or (B, S, T), got a ",
              px.dim(), "-D tensor of shape ", px.sizes());
  TORCH_CHECK(py.dim() == 3, op, ": expected py of shape (B, S+1, T), got a ", py.dim(),
              "-D tensor of shape ", py.sizes());
  TORCH_CHECK(is_supported_float(px.scalar_type()), op,
                   ": expected px to be float32, float64, float16 or bfloat16, got ",
                   px.scalar_type());
  TORCH_CHECK(px.scalar_type() == py.scalar_type(), op, ": px is ", px.scalar_type(),
                   " but py is ", py.scalar_type());
  TORCH_CHECK(px.device() == py.device(), op, ": px is on ", px.device(), " but py is on ",
              py.device());
  const int64_t B = px.size(0), S = px.size(1), T = py.size(2);
  TORCH_CHECK(py.size(0) == B, op, ": batch size mismatch: px.size(0)=", B,
              " but py.size(0)=", py.size(0));
  TORCH_CHECK(py.size(1) == S + 1, op, ": expected py.size(1) == px.size(1) + 1 = ", S + 1,
              " (py is (B, S+1, T)), got py of shape ", py.sizes(), " and px of shape ",
              px.sizes());
  TORCH_CHECK(px.size(2) == T + 1 || px.size(2) == T, op,
              ": expected px.size(2) to be T+1=", T + 1, " (regular) or T=", T,
              " (modified) where T=py.size(2), got px of shape ", px.sizes());
  const bool modified = px.size(2) == T;
  if (boundary.has_value()) {
    const at::Tensor& bd = *boundary;
    TORCH_CHECK(bd.scalar_type() == at::kLong, op, ": expected boundary to be int64, got ",
                     bd.scalar_type());
    TORCH_CHECK(bd.dim() == 2 && bd.size(0) == B && bd.size(1) == 4, op,
                ": expected boundary of shape (B, 4) = (", B, ", 4), got ", bd.sizes());
    TORCH_CHECK(bd.device() == px.device(), op, ": boundary is on ", bd.device(),
                " but px is on ", px.device());
    if (check_values) check_boundary_values(op, bd, S, T);
  }
  return {B, S, T, modified};
}

}  // namespace fast_rnnt
