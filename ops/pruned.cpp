// Pruned RNN-T: schemas, C++ entry points and the composites that implement them. Every op is
// registered at CompositeImplicitAutograd and built from ATen ops, the arc_logprobs leaf (one
// pass over the pruned logits, one pass back) and the recursion, so autograd, fake tensors and
// TorchScript come from the ops it is made of.
//
// Placement of the windows on the lattice. Frame t of sequence b holds s_range values per
// quantity, for positions ranges[b,t,:]. They are written straight into the -inf-filled
// (B, S+1, T) py and (B, S, T+1) / (B, S, T) px that the recursion reads, by one in-place 1-D
// scatter each over flat indices ((b * rows + ranges) * columns + t); the px entries of position
// S (the blank's row, which has no symbol arc) go to one dump slot past the end of px's buffer,
// which is never read (nor reached by the gradient), so px stays a contiguous view. No other
// tensor of lattice size is made; the backward is a gather of the recursion's gradients.
#include <torch/library.h>

#include <limits>

#include "fast_rnnt/arc_logprobs.h"
#include "fast_rnnt/mutual_information.h"
#include "fast_rnnt/pruned.h"
#include "ops/mutual_information_checks.h"
#include "ops/pruned_checks.h"
#include "ops/rnnt_lattice.h"

namespace fast_rnnt {

at::Tensor get_rnnt_prune_ranges(const at::Tensor& px_grad, const at::Tensor& py_grad,
                                 const std::optional<at::Tensor>& boundary, int64_t s_range) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::get_rnnt_prune_ranges", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&,
                                         const std::optional<at::Tensor>&, int64_t)>();
  return op.call(px_grad, py_grad, boundary, s_range);
}

namespace detail {
at::Tensor _rnnt_prune_min_s_range(const at::Tensor& px_grad, const at::Tensor& py_grad,
                                   const std::optional<at::Tensor>& boundary) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_rnnt_prune_min_s_range", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&,
                                         const std::optional<at::Tensor>&)>();
  return op.call(px_grad, py_grad, boundary);
}
}  // namespace detail

std::tuple<at::Tensor, at::Tensor> do_rnnt_pruning(const at::Tensor& am, const at::Tensor& lm,
                                                   const at::Tensor& ranges) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::do_rnnt_pruning", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(
                           const at::Tensor&, const at::Tensor&, const at::Tensor&)>();
  return op.call(am, lm, ranges);
}

std::tuple<at::Tensor, at::Tensor> get_rnnt_logprobs_pruned(
    const at::Tensor& logits, const at::Tensor& symbols, const at::Tensor& ranges,
    int64_t termination_symbol, const std::optional<at::Tensor>& boundary,
    std::string_view rnnt_type, bool use_hat_loss) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::get_rnnt_logprobs_pruned", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(
                           const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t,
                           const std::optional<at::Tensor>&, c10::string_view, bool)>();
  return op.call(logits, symbols, ranges, termination_symbol, boundary,
                 rnnt::schema_str(rnnt_type), use_hat_loss);
}

at::Tensor rnnt_loss_pruned(const at::Tensor& logits, const at::Tensor& symbols,
                            const at::Tensor& ranges, int64_t termination_symbol,
                            const std::optional<at::Tensor>& boundary, std::string_view rnnt_type,
                            double delay_penalty, std::string_view reduction, bool use_hat_loss,
                            double fastemit_lambda) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("fast_rnnt::rnnt_loss_pruned", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t,
                            const std::optional<at::Tensor>&, c10::string_view, double,
                            c10::string_view, bool, double)>();
  return op.call(logits, symbols, ranges, termination_symbol, boundary,
                 rnnt::schema_str(rnnt_type), delay_penalty, rnnt::schema_str(reduction),
                 use_hat_loss, fastemit_lambda);
}

namespace {

using rnnt::is_float;
using rnnt::parse_reduction;
using rnnt::parse_rnnt_type;
using rnnt::Reduction;
using rnnt::RnntType;

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

// min over t' >= t, along dim 1.
at::Tensor suffix_min(const at::Tensor& x) {
  return std::get<0>(at::cummin(x.flip({1}), 1)).flip({1});
}

// (B, 1) int64 column of boundary, or `fallback` for every sequence.
at::Tensor boundary_column(const std::optional<at::Tensor>& boundary, int64_t column,
                           const c10::SymInt& B, const c10::SymInt& fallback,
                           const at::TensorOptions& long_opts) {
  if (boundary.has_value()) return boundary->select(1, column).unsqueeze(1);
  return at::full_symint({B, 1}, c10::Scalar(fallback), long_opts);
}

struct OccupancySizes {
  c10::SymInt B, S, T;
  bool regular;
};

// The checks of px_grad, py_grad and boundary shared by get_rnnt_prune_ranges and
// _rnnt_prune_min_s_range.
OccupancySizes check_occupancies(const char* op, const at::Tensor& px_grad,
                                 const at::Tensor& py_grad,
                                 const std::optional<at::Tensor>& boundary) {
  TORCH_CHECK(px_grad.dim() == 3, op,
              ": expected px_grad of shape (B, S, T+1) or (B, S, T), got a ", px_grad.dim(),
              "-D tensor of shape ", px_grad.sizes());
  TORCH_CHECK(py_grad.dim() == 3, op, ": expected py_grad of shape (B, S+1, T), got a ",
              py_grad.dim(), "-D tensor of shape ", py_grad.sizes());
  TORCH_CHECK(at::isFloatingType(px_grad.scalar_type()) &&
                  px_grad.scalar_type() == py_grad.scalar_type(),
              op, ": expected px_grad and py_grad of one floating dtype, got ",
              px_grad.scalar_type(), " and ", py_grad.scalar_type());
  TORCH_CHECK(px_grad.device() == py_grad.device(), op, ": px_grad is on ", px_grad.device(),
              " but py_grad is on ", py_grad.device());
  const c10::SymInt B = px_grad.sym_size(0), S = px_grad.sym_size(1), T = py_grad.sym_size(2);
  TORCH_CHECK(py_grad.sym_size(0) == B && py_grad.sym_size(1) == S + 1, op,
              ": expected py_grad of shape (B, S+1, T) = (", B, ", ", S + 1,
              ", T) to match px_grad of shape ", px_grad.sym_sizes(), ", got ",
              py_grad.sym_sizes());
  TORCH_CHECK(px_grad.sym_size(2) == T + 1 || px_grad.sym_size(2) == T, op,
              ": expected px_grad.size(2) to be T+1=", T + 1, " (regular) or T=", T,
              " (modified/constrained) where T=py_grad.size(2), got px_grad of shape ",
              px_grad.sym_sizes());
  const bool regular = px_grad.sym_size(2) == T + 1;
  check_boundary(op, boundary, B, px_grad.device());
  if (boundary.has_value() && values_readable(*boundary)) {
    check_boundary_values(op, *boundary, S.guard_int(__FILE__, __LINE__),
                          T.guard_int(__FILE__, __LINE__));
  }
  return {B, S, T, regular};
}

// (B,) int64: the narrowest window for which the windows of get_rnnt_prune_ranges keep a path of
// each sequence (see pruned.h): on the regular lattice ceil((s_end - s_begin) / (t_end - t_begin))
// + 1, and 1 where the sequence has no symbol or no frame; 1 on the others.
at::Tensor min_s_range(bool regular, const std::optional<at::Tensor>& boundary,
                       const c10::SymInt& B, const c10::SymInt& S, const c10::SymInt& T,
                       const at::TensorOptions& long_opts) {
  if (!regular) return at::ones_symint({B}, long_opts);
  const auto zero = at::zeros_symint({B, 1}, long_opts);
  const auto symbols = boundary_column(boundary, 2, B, S, long_opts) -
                       (boundary.has_value() ? boundary->select(1, 0).unsqueeze(1) : zero);
  const auto frames = boundary_column(boundary, 3, B, T, long_opts) -
                      (boundary.has_value() ? boundary->select(1, 1).unsqueeze(1) : zero);
  const auto ceil = (symbols + frames - 1).div(frames.clamp_min(1), "floor");
  return at::where(symbols.gt(0) & frames.gt(0), ceil + 1, 1).squeeze(1);
}

// Throws unless s_range >= min_s_range for every sequence: for a regular lattice without boundary
// a check on the sizes (deferred to run time under dynamic shapes), with a boundary whose values
// are readable (pruned_checks.h) an exact one that names the first sequence it fails for. Other
// boundaries (CUDA, fake tensors) are not read: fast_rnnt.get_rnnt_prune_ranges in eager Python
// widens the window beforehand.
void check_s_range_keeps_paths(const char* op, int64_t s_range, bool regular,
                               const std::optional<at::Tensor>& boundary, const c10::SymInt& B,
                               const c10::SymInt& S, const c10::SymInt& T,
                               const at::TensorOptions& long_opts) {
  if (!regular) return;  // one position per frame keeps a path of the modified lattice
  if (!boundary.has_value()) {
    TORCH_SYM_CHECK(S.sym_le(T * (s_range - 1)).sym_or(T.sym_eq(0)), op, ": s_range=", s_range,
                    " keeps no path of the regular lattice: S=", S, " symbols in T=", T,
                    " frames need s_range >= ceil(S/T)+1 (a frame's window holds at most "
                    "s_range-1 symbol arcs); fast_rnnt.get_rnnt_prune_ranges in Python widens it "
                    "for you");
    return;
  }
  if (!values_readable(*boundary) || boundary->numel() == 0) return;
  const auto needed = min_s_range(regular, boundary, B, S, T, long_opts);
  const auto too_narrow = needed.gt(s_range);
  if (!too_narrow.any().item<bool>()) return;
  const int64_t b = too_narrow.nonzero()[0][0].item<int64_t>();
  const auto row = boundary->select(0, b).contiguous();
  const int64_t* r = row.data_ptr<int64_t>();
  TORCH_CHECK(false, op, ": s_range=", s_range, " keeps no path of sequence ", b,
              " of the regular lattice: its S_b=", r[2] - r[0], " symbols in T_b=", r[3] - r[1],
              " frames (boundary[", b, "] = (", r[0], ", ", r[1], ", ", r[2], ", ", r[3],
              ")) need s_range >= ceil(S_b/T_b)+1 = ", needed[b].item<int64_t>(),
              ", and the batch needs s_range >= ", needed.max().item<int64_t>(),
              "; fast_rnnt.get_rnnt_prune_ranges in Python widens it for you");
}

at::Tensor get_rnnt_prune_ranges_composite(const at::Tensor& px_grad_in,
                                           const at::Tensor& py_grad_in,
                                           const std::optional<at::Tensor>& boundary,
                                           int64_t s_range) {
  constexpr char op[] = "get_rnnt_prune_ranges";
  const auto [B, S, T, regular] = check_occupancies(op, px_grad_in, py_grad_in, boundary);
  check_s_range(op, s_range, S, regular);

  const at::Tensor px_grad = px_grad_in.detach(), py_grad = py_grad_in.detach();
  const auto long_opts = px_grad.options().dtype(at::kLong);
  check_s_range_keeps_paths(op, s_range, regular, boundary, B, S, T, long_opts);
  const c10::SymInt num_begins = S + 2 - s_range;  // candidate window starts 0 .. S+1-s_range
  // score[b,s,t]: blank occupancy leaving frame t inside [s, s+s_range), minus the symbol
  // occupancy entering the window from position s-1 at frame t.
  at::Tensor score = py_grad.unfold(1, s_range, 1).sum(-1);  // (B, num_begins, T)
  if (num_begins > 1) {
    score.narrow_symint(1, 1, num_begins - 1)
        .sub_(px_grad.narrow_symint(1, 0, num_begins - 1).narrow_symint(2, 0, T));
  }
  at::Tensor s_begin = score.argmax(1);  // (B, T), first maximum

  // From the last real frame on: the window that ends at the sequence's last symbol; and no
  // window that ends below the sequence's first position.
  const auto t_idx = at::arange(c10::Scalar(T), long_opts).unsqueeze(0);  // (1, T)
  const auto zero = at::zeros_symint({B, 1}, long_opts);
  const auto t_end = boundary_column(boundary, 3, B, T, long_opts);
  const auto s_end = boundary_column(boundary, 2, B, S, long_opts);
  const auto first_s = boundary.has_value() ? boundary->select(1, 0).unsqueeze(1) : zero;
  const auto first_t = boundary.has_value() ? boundary->select(1, 1).unsqueeze(1) : zero;
  s_begin = at::where(t_idx < t_end - 1, s_begin, (s_end - (s_range - 1)).clamp_min(0));
  s_begin = at::maximum(s_begin, first_s - (s_range - 1));

  // Non-decreasing, steps below `step` (one symbol per frame off the regular lattice), and at
  // most s_begin on frame t_begin (0 on frame 0 without a boundary): see the header.
  const int64_t step = regular ? s_range : 2;
  s_begin = suffix_min(s_begin);
  const auto ramp = first_s + (t_idx - first_t) * (step - 1);
  s_begin = (ramp - suffix_min(ramp - s_begin).clamp_min(0)).clamp_min(0);
  return s_begin.unsqueeze(2) + at::arange(s_range, long_opts);
}

at::Tensor rnnt_prune_min_s_range_composite(const at::Tensor& px_grad,
                                            const at::Tensor& py_grad,
                                            const std::optional<at::Tensor>& boundary) {
  const auto [B, S, T, regular] =
      check_occupancies("get_rnnt_prune_ranges", px_grad, py_grad, boundary);
  return min_s_range(regular, boundary, B, S, T, px_grad.options().dtype(at::kLong));
}

std::tuple<at::Tensor, at::Tensor> do_rnnt_pruning_composite(const at::Tensor& am,
                                                             const at::Tensor& lm,
                                                             const at::Tensor& ranges) {
  constexpr char op[] = "do_rnnt_pruning";
  TORCH_CHECK(am.dim() == 3, op, ": expected am of shape (B, T, D_am), got a ", am.dim(),
              "-D tensor of shape ", am.sizes());
  TORCH_CHECK(lm.dim() == 3, op, ": expected lm of shape (B, S+1, D_lm), got a ", lm.dim(),
              "-D tensor of shape ", lm.sizes());
  TORCH_CHECK(ranges.dim() == 3, op, ": expected ranges of shape (B, T, s_range), got a ",
              ranges.dim(), "-D tensor of shape ", ranges.sizes());
  const c10::SymInt B = am.sym_size(0), T = am.sym_size(1), S = lm.sym_size(1) - 1;
  const c10::SymInt am_dim = am.sym_size(2), lm_dim = lm.sym_size(2);
  const int64_t s_range = ranges.sym_size(2).guard_int(__FILE__, __LINE__);
  TORCH_CHECK(lm.sym_size(0) == B, op, ": batch size mismatch: am.size(0)=", B,
              " but lm.size(0)=", lm.sym_size(0));
  TORCH_CHECK(S >= 0, op, ": expected lm to have at least one position (S+1 >= 1), got ",
              lm.sym_sizes());
  TORCH_CHECK(lm.device() == am.device(), op, ": lm is on ", lm.device(), " but am is on ",
              am.device());
  TORCH_CHECK(is_float(am), op, ": expected am to be float32, float64, float16 or bfloat16, got ",
              am.scalar_type());
  TORCH_CHECK(lm.scalar_type() == am.scalar_type(), op, ": am is ", am.scalar_type(),
              " but lm is ", lm.scalar_type());
  TORCH_CHECK(s_range >= 1, op, ": expected s_range >= 1, got ranges of shape ", ranges.sizes());
  check_ranges(op, ranges, B, T, s_range, S, am.device());

  at::Tensor am_pruned = am.unsqueeze(2).expand_symint({B, T, s_range, am_dim});
  // One row gather over the flattened (B*(S+1), D_lm) decoder output; its backward is an
  // index_add.
  const auto rows = ranges + at::arange(0, c10::Scalar(B * (S + 1)), c10::Scalar(S + 1),
                                        ranges.options())
                                 .view_symint({B, 1, 1});
  at::Tensor lm_pruned = lm.reshape_symint({B * (S + 1), lm_dim})
                             .index_select(0, rows.reshape(-1))
                             .view_symint({B, T, s_range, lm_dim});
  return {am_pruned, lm_pruned};
}

// px, py of the pruned lattice (see the header); delay_penalty > 0 adds the delay penalty to
// px (rnnt_loss_pruned) on the (B, T, s_range) side before placement, and fastemit_lambda > 0
// scales the gradient of the symbol log-probabilities (rnnt::fastemit).
std::tuple<at::Tensor, at::Tensor> pruned_lattice(const char* op, const at::Tensor& logits,
                                                  const at::Tensor& symbols,
                                                  const at::Tensor& ranges,
                                                  int64_t termination_symbol,
                                                  const std::optional<at::Tensor>& boundary,
                                                  RnntType rnnt_type, bool use_hat_loss,
                                                  double delay_penalty,
                                                  double fastemit_lambda = 0.0) {
  TORCH_CHECK(logits.dim() == 4, op, ": expected logits of shape (B, T, s_range, C), got a ",
              logits.dim(), "-D tensor of shape ", logits.sizes());
  TORCH_CHECK(is_float(logits), op,
                   ": expected logits to be float32, float64, float16 or bfloat16, got ",
                   logits.scalar_type());
  TORCH_CHECK(symbols.dim() == 2, op, ": expected symbols of shape (B, S), got a ", symbols.dim(),
              "-D tensor of shape ", symbols.sym_sizes());
  TORCH_CHECK(symbols.scalar_type() == at::kLong, op, ": expected symbols to be int64, got ",
                   symbols.scalar_type());
  const c10::SymInt B = logits.sym_size(0), T = logits.sym_size(1), C = logits.sym_size(3),
                    S = symbols.sym_size(1);
  const int64_t s_range = logits.sym_size(2).guard_int(__FILE__, __LINE__);
  TORCH_CHECK(symbols.sym_size(0) == B, op, ": batch size mismatch: logits.size(0)=", B,
              " but symbols.size(0)=", symbols.sym_size(0));
  TORCH_CHECK(symbols.device() == logits.device(), op, ": symbols is on ", symbols.device(),
              " but logits is on ", logits.device());
  TORCH_CHECK(termination_symbol >= 0 && C > termination_symbol, op,
              ": expected termination_symbol in [0, C) = [0, ", C, "), got ", termination_symbol);
  TORCH_CHECK(!use_hat_loss || termination_symbol == 0, op,
              ": use_hat_loss=True requires termination_symbol == 0 (the HAT blank is class 0), "
              "got termination_symbol=", termination_symbol);
  TORCH_CHECK(!use_hat_loss || C >= 2, op,
              ": use_hat_loss=True requires at least 2 classes (the blank and one symbol), got C=",
              C);
  TORCH_CHECK(rnnt_type != RnntType::kModified || T >= S, op,
              ": rnnt_type='modified' requires T >= S, got T=", T, " and S=", S);
  const bool regular = rnnt_type == RnntType::kRegular;
  check_s_range(op, s_range, S, regular);
  TORCH_CHECK(rnnt_type != RnntType::kConstrained || s_range >= 2 || S == 0, op,
              ": expected s_range >= 2 for the constrained lattice with S=", S,
              " (its symbol arc also takes the blank of the next position in the same window, "
              "so a window of one position keeps no symbol arc), got s_range=", s_range,
              "; fast_rnnt.get_rnnt_prune_ranges in Python widens it for you");
  check_ranges(op, ranges, B, T, s_range, S, logits.device());
  check_boundary(op, boundary, B, logits.device());
  if (boundary.has_value() && values_readable(*boundary)) {
    check_boundary_values(op, *boundary, S.guard_int(__FILE__, __LINE__),
                          T.guard_int(__FILE__, __LINE__));
    if (rnnt_type == RnntType::kModified) check_boundary_frames_cover_symbols(op, *boundary);
  }

  if (values_readable(symbols)) check_symbol_values(op, symbols, C.guard_int(__FILE__, __LINE__));

  const auto long_opts = symbols.options();
  // The symbol of every window position; position S is the blank (its px entry is dropped).
  const auto padded =
      at::cat({symbols, at::full_symint({B, 1}, termination_symbol, long_opts)}, 1);
  const auto window_symbols =
      padded.gather(1, ranges.reshape_symint({B, T * s_range})).view_symint({B, T, s_range});
  auto [symbol_lp, blank_lp] =
      arc_logprobs(logits, window_symbols, termination_symbol, use_hat_loss);
  symbol_lp = rnnt::fastemit(op, std::move(symbol_lp), fastemit_lambda);

  const auto t_idx = at::arange(c10::Scalar(T), long_opts).view_symint({1, T, 1});
  if (rnnt_type == RnntType::kConstrained) {
    // px[s,t] += py[s+1,t]: the blank of the next position in the same window; the window's
    // last position has none on this frame.
    symbol_lp = at::cat({symbol_lp.narrow(2, 0, s_range - 1) + blank_lp.narrow(2, 1, s_range - 1),
                         at::full_symint({B, T, 1}, kMinusInf, symbol_lp.options())},
                        2);
  }
  if (regular && boundary.has_value()) {
    // No symbol on the one-past-the-last frame t_end.
    symbol_lp = at::where(t_idx == boundary->select(1, 3).view_symint({B, 1, 1}), kMinusInf,
                          symbol_lp);
  }
  if (delay_penalty > 0.0) {
    const auto t_end = boundary_column(boundary, 3, B, T, long_opts).to(symbol_lp.scalar_type());
    const auto offset = (t_end - 1) / 2;  // (B, 1)
    const auto penalty =
        (offset - t_idx.view_symint({1, T}).to(symbol_lp.scalar_type())) * delay_penalty;
    symbol_lp = symbol_lp + penalty.unsqueeze(2);
  }

  const c10::SymInt T1 = regular ? T + 1 : T;
  const auto b_idx = at::arange(c10::Scalar(B), long_opts).view_symint({B, 1, 1});
  const auto py_index =
      ((b_idx * c10::Scalar(S + 1) + ranges) * c10::Scalar(T) + t_idx).reshape(-1);
  const at::Tensor py = at::full_symint({B * (S + 1) * T}, kMinusInf, blank_lp.options())
                            .scatter_(0, py_index, blank_lp.reshape(-1))
                            .view_symint({B, S + 1, T});
  const c10::SymInt px_numel = B * S * T1;
  const auto px_index = at::where(ranges < c10::Scalar(S),
                                  (b_idx * c10::Scalar(S) + ranges) * c10::Scalar(T1) + t_idx,
                                  c10::Scalar(px_numel))
                            .reshape(-1);
  const at::Tensor px = at::full_symint({px_numel + 1}, kMinusInf, symbol_lp.options())
                            .scatter_(0, px_index, symbol_lp.reshape(-1))
                            .narrow_symint(0, 0, px_numel)
                            .view_symint({B, S, T1});
  return {px, py};
}

std::tuple<at::Tensor, at::Tensor> get_rnnt_logprobs_pruned_composite(
    const at::Tensor& logits, const at::Tensor& symbols, const at::Tensor& ranges,
    int64_t termination_symbol, const std::optional<at::Tensor>& boundary,
    c10::string_view rnnt_type, bool use_hat_loss) {
  constexpr char op[] = "get_rnnt_logprobs_pruned";
  return pruned_lattice(op, logits, symbols, ranges, termination_symbol, boundary,
                        parse_rnnt_type(op, rnnt_type), use_hat_loss, /*delay_penalty=*/0.0);
}

at::Tensor rnnt_loss_pruned_composite(const at::Tensor& logits, const at::Tensor& symbols,
                                      const at::Tensor& ranges, int64_t termination_symbol,
                                      const std::optional<at::Tensor>& boundary,
                                      c10::string_view rnnt_type, double delay_penalty,
                                      c10::string_view reduction, bool use_hat_loss,
                                      double fastemit_lambda) {
  constexpr char op[] = "rnnt_loss_pruned";
  const Reduction red = parse_reduction(op, reduction);
  auto [px, py] =
      pruned_lattice(op, logits, symbols, ranges, termination_symbol, boundary,
                     parse_rnnt_type(op, rnnt_type), use_hat_loss, delay_penalty, fastemit_lambda);
  return rnnt::reduce_loss(mutual_information_recursion(px, py, boundary), red);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("get_rnnt_prune_ranges(Tensor px_grad, Tensor py_grad, Tensor? boundary, int s_range) "
        "-> Tensor");
  m.def("_rnnt_prune_min_s_range(Tensor px_grad, Tensor py_grad, Tensor? boundary) -> Tensor");
  m.def("do_rnnt_pruning(Tensor(a) am, Tensor lm, Tensor ranges) "
        "-> (Tensor(a) am_pruned, Tensor lm_pruned)");
  m.def("get_rnnt_logprobs_pruned(Tensor logits, Tensor symbols, Tensor ranges, "
        "int termination_symbol, Tensor? boundary=None, str rnnt_type=\"regular\", "
        "bool use_hat_loss=False) -> (Tensor px, Tensor py)");
  m.def("rnnt_loss_pruned(Tensor logits, Tensor symbols, Tensor ranges, int termination_symbol, "
        "Tensor? boundary=None, str rnnt_type=\"regular\", float delay_penalty=0.0, "
        "str reduction=\"mean\", bool use_hat_loss=False, float fastemit_lambda=0.0) -> Tensor");
}

TORCH_LIBRARY_IMPL(fast_rnnt, CompositeImplicitAutograd, m) {
  m.impl("get_rnnt_prune_ranges", TORCH_FN(get_rnnt_prune_ranges_composite));
  m.impl("_rnnt_prune_min_s_range", TORCH_FN(rnnt_prune_min_s_range_composite));
  m.impl("do_rnnt_pruning", TORCH_FN(do_rnnt_pruning_composite));
  m.impl("get_rnnt_logprobs_pruned", TORCH_FN(get_rnnt_logprobs_pruned_composite));
  m.impl("rnnt_loss_pruned", TORCH_FN(rnnt_loss_pruned_composite));
}

}  // namespace fast_rnnt
