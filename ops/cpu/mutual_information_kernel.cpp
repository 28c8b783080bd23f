// CPU kernels of the mutual-information recursion.
//
// Parallel scheme. Sequences are independent: at::parallel_for spreads them over threads.
// Within one sequence the lattice is swept in waves (mutual_information_lattice.h) whose cells
// depend only on the previous wave. Every wave is one vectorized log-add over a contiguous row
// (log_semiring.h), so a sequence of S x T cells costs S+T+1 short SIMD loops instead of S*T
// scalar log-adds, and cells outside the sequence's boundary are never visited.
//
// Storage. Each sequence's px/py are first copied into wave rows (see "The skewed layout"
// below). The forward keeps two rows of width S+3 (plus room for whole SIMD vectors): row[s+1] =
// cell s, relative to the previous wave's largest value, with -inf sentinels just outside the
// wave's cells, so that the two predecessors of cell s are row'[s] (px arc) and row'[s+1] (py
// arc) of the previous row with no edge cases. with_grad also saves one ratio per cell (of its
// two incoming terms); the backward sweep walks the waves in reverse and splits each cell's
// occupancy between its two arcs from it, conserving mass exactly
// (mutual_information_lattice.h); the shares, in wave rows, are copied back as the gradients.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/cpu/log_semiring.h"
#include "ops/mutual_information_checks.h"
#include "ops/mutual_information_lattice.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "mutual_information";
constexpr char kWithGradOpName[] = "mutual_information_with_grad";

// A wave row with room for the SIMD loops to run over (whole vectors past the last cell).
inline int64_t row_width(int64_t S) { return cpu::padded(wave_width(S)) + cpu::kMaxLanes; }

// The skewed layout. Along a wave the arcs walk through px/py with a stride of a whole row, so
// each sequence's arcs are first copied into wave rows (X row w holds the px arc into cell s of
// wave w at index s, Y the py arc), and the backward writes its shares into wave rows that are
// copied back the same way. Matrix element (r, c) of px (cell s = r+1) or py (s = r) belongs to
// wave r + c + 1 of a regular lattice (s + t, s + t + 1) and c + 1 of a modified one
// (log_semiring.h copies them in blocks). A wave at a time would touch a cache line and a page
// per row of px and py.

// Columns of px in a sequence's sub-lattice (py has T_).
template <typename T>
int64_t px_cols(const SequenceLattice<T>& q) { return q.modified ? q.T_ : q.T_ + 1; }

// X, Y: the arcs in wave rows of `width`, -inf where a cell has no such arc.
template <typename T>
void skew_arcs(const SequenceLattice<T>& q, int64_t width, T* X, T* Y) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const auto& kernels = cpu::log_semiring_kernels<T>();
  kernels.copy_to_waves(q.px, q.px_row, q.S, px_cols(q), !q.modified, X + 1, width);
  kernels.copy_to_waves(q.py, q.py_row, q.S + 1, q.T_, !q.modified, Y, width);
  for (int64_t w = 1; w < q.num_waves(); ++w) X[w * width] = kNegInf;  // row 0: no px arc
  if (!q.modified) {  // the py arc into cell s = w would leave frame -1
    for (int64_t w = 1; w <= std::min(q.S, q.num_waves() - 1); ++w) Y[w * width + w] = kNegInf;
  }
}

// Scratch space of one thread, reused across the sequences it handles: the arcs in wave rows
// (reused for the shares by the backward), the saved ratios and the two forward rows.
template <typename T>
struct Workspace {
  std::vector<T> x, y, ratios, rows;
};

// Sweeps the waves forward and returns p[S, T]; with_grad also fills ws.ratios, row w holding
// the saved ratio of cell s at index s.
template <typename T>
T forward_sequence(const SequenceLattice<T>& q, bool with_grad, Workspace<T>& ws) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  if (!q.has_path()) return kNegInf;
  const auto& kernels = cpu::log_semiring_kernels<T>();
  const int64_t width = row_width(q.S), num_waves = q.num_waves();
  ws.rows.resize(2 * width);
  // One row more than the waves: the backward starts from a row past the last wave.
  ws.x.resize((num_waves + 1) * width);
  ws.y.resize((num_waves + 1) * width);
  if (with_grad) ws.ratios.resize(num_waves * width);
  skew_arcs(q, width, ws.x.data(), ws.y.data());
  auto row = [&](int64_t w) { return ws.rows.data() + (w & 1) * width; };
  T* first = row(0);
  first[0] = kNegInf;
  first[1] = 0;
  first[2] = kNegInf;
  double offset = 0;  // p of the latest wave = its row + offset
  T shift = 0;        // the largest value of the latest row
  for (int64_t w = 1; w < num_waves; ++w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w);
    const T* prev = row(w - 1);
    T* cur = row(w);
    offset += shift;
    const T largest = kernels.log_add_wave(
        hi - lo + 1, /*left=*/prev + lo, /*x=*/ws.x.data() + w * width + lo,
        /*down=*/prev + lo + 1, /*y=*/ws.y.data() + w * width + lo, /*shift=*/shift,
        /*out=*/cur + lo + 1, /*q=*/with_grad ? ws.ratios.data() + w * width + lo : nullptr);
    shift = std::isfinite(largest) ? largest : T(0);
    cur[lo] = kNegInf;
    cur[hi + 2] = kNegInf;
  }
  return static_cast<T>(offset + row(num_waves - 1)[q.S + 1]);
}

// Given ws.ratios of a with_grad forward pass, writes d p[S,T] / d px and d p[S,T] / d py into
// px_grad / py_grad (offset and strided like q.px / q.py; the caller zeroes what lies outside
// the sub-lattice).
template <typename T>
void backward_sequence(const SequenceLattice<T>& q, T score, Workspace<T>& ws, T* px_grad,
                       T* py_grad) {
  if (!q.has_path() || score == -std::numeric_limits<T>::infinity()) return;
  const auto& kernels = cpu::log_semiring_kernels<T>();
  const int64_t width = row_width(q.S), num_waves = q.num_waves();
  // Wave row w of the shares (in place of the arcs): what arrives at cell s of wave w by its
  // px / py arc, at index s+1.
  auto x_row = [&](int64_t w) { return ws.x.data() + w * width; };
  auto y_row = [&](int64_t w) { return ws.y.data() + w * width; };
  std::fill(x_row(num_waves), x_row(num_waves) + width, T(0));
  std::fill(y_row(num_waves), y_row(num_waves) + width, T(0));
  y_row(num_waves)[q.S + 1] = 1;  // all of the final cell's occupancy, from past the end
  for (int64_t w = num_waves - 1; w >= 1; --w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w), n = hi - lo + 1;
    // Cell s leaves by its px arc into cell s+1 and by its py arc into cell s of wave w+1.
    T* xs = x_row(w);
    T* ys = y_row(w);
    kernels.split_occupancy_wave(n, /*x_in=*/x_row(w + 1) + lo + 2, /*y_in=*/y_row(w + 1) + lo + 1,
                                 /*q=*/ws.ratios.data() + w * width + lo, /*x_occ=*/xs + lo + 1,
                                 /*y_occ=*/ys + lo + 1);
    xs[lo] = ys[lo] = 0;
    // Cells past the wave's last (a modified lattice's cells s > w) have no occupancy.
    std::fill(xs + hi + 2, xs + q.S + 3, T(0));
    std::fill(ys + hi + 2, ys + q.S + 3, T(0));
  }
  kernels.copy_from_waves(px_grad, q.px_row, q.S, px_cols(q), !q.modified, ws.x.data() + 2, width);
  kernels.copy_from_waves(py_grad, q.py_row, q.S + 1, q.T_, !q.modified, ws.y.data() + 1, width);
}

// Runs the recursion over the batch. px_grad/py_grad are undefined for forward-only calls.
template <typename T>
void run_batch(const at::Tensor& px, const at::Tensor& py, const std::optional<at::Tensor>& boundary,
               const MutualInformationSizes& n, at::Tensor& scores, at::Tensor* px_grad,
               at::Tensor* py_grad) {
  const bool with_grad = px_grad != nullptr;
  const at::Tensor bd = boundary.has_value() ? boundary->contiguous() : at::Tensor();
  const int64_t* bd_ptr = bd.defined() ? bd.data_ptr<int64_t>() : nullptr;
  const T* px_ptr = px.data_ptr<T>();
  const T* py_ptr = py.data_ptr<T>();
  T* scores_ptr = scores.data_ptr<T>();
  T* pxg_ptr = with_grad ? px_grad->data_ptr<T>() : nullptr;
  T* pyg_ptr = with_grad ? py_grad->data_ptr<T>() : nullptr;
  const int64_t px_batch = px.size(1) * px.size(2), py_batch = py.size(1) * py.size(2);
  at::parallel_for(0, n.B, 1, [&](int64_t begin, int64_t end) {
    Workspace<T> ws;
    for (int64_t b = begin; b < end; ++b) {
      const SequenceOffsets o = sequence_offsets(bd_ptr, b, n.S, n.T, n.modified);
      const SequenceLattice<T> q = sequence_lattice(px_ptr, py_ptr, o, n.T, n.modified);
      scores_ptr[b] = forward_sequence(q, with_grad, ws);
      if (with_grad) {
        // The backward writes every entry of a lattice that spans the whole of px/py and has a
        // path; anything else is zeroed first, on the thread that writes it next.
        const bool writes_all = q.S == n.S && q.T_ == n.T &&
                                scores_ptr[b] != -std::numeric_limits<T>::infinity();
        if (!writes_all) {
          std::fill(pxg_ptr + b * px_batch, pxg_ptr + (b + 1) * px_batch, T(0));
          std::fill(pyg_ptr + b * py_batch, pyg_ptr + (b + 1) * py_batch, T(0));
        }
        backward_sequence(q, scores_ptr[b], ws, pxg_ptr + o.px, pyg_ptr + o.py);
      }
    }
  });
}

// Float32 for reduced-precision inputs, the input's own type otherwise; contiguous.
at::Tensor compute_copy(const at::Tensor& t) {
  const bool reduced = t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
  return reduced ? t.to(at::kFloat).contiguous() : t.contiguous();
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> run(const at::Tensor& px_in, const at::Tensor& py_in,
                                                   const std::optional<at::Tensor>& boundary,
                                                   bool with_grad) {
  const MutualInformationSizes n = check_mutual_information_inputs(
      with_grad ? kWithGradOpName : kOpName, px_in, py_in, boundary);
  TORCH_INTERNAL_ASSERT(px_in.device().is_cpu());
  if (n.B == 0) {  // contiguous, like every other path (contiguous() keeps an empty's strides)
    return {at::empty({0}, px_in.options()),
            with_grad ? at::empty(px_in.sizes(), px_in.options()) : at::Tensor(),
            with_grad ? at::empty(py_in.sizes(), py_in.options()) : at::Tensor()};
  }
  const at::Tensor px = compute_copy(px_in), py = compute_copy(py_in);
  at::Tensor scores = at::empty({n.B}, px.options());
  at::Tensor px_grad, py_grad;
  if (with_grad) {
    px_grad = at::empty_like(px);  // zeroed sequence by sequence in run_batch
    py_grad = at::empty_like(py);
  }
  AT_DISPATCH_FLOATING_TYPES(px.scalar_type(), "mutual_information_cpu", [&] {
    run_batch<scalar_t>(px, py, boundary, n, scores, with_grad ? &px_grad : nullptr,
                        with_grad ? &py_grad : nullptr);
  });
  const auto out_type = px_in.scalar_type();
  if (!with_grad) return {scores.to(out_type), px_grad, py_grad};
  return {scores.to(out_type), px_grad.to(out_type), py_grad.to(out_type)};
}

at::Tensor mutual_information_forward_kernel(const at::Tensor& px, const at::Tensor& py,
                                             const std::optional<at::Tensor>& boundary) {
  return std::get<0>(run(px, py, boundary, /*with_grad=*/false));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mutual_information_with_grad_kernel(
    const at::Tensor& px, const at::Tensor& py, const std::optional<at::Tensor>& boundary) {
  return run(px, py, boundary, /*with_grad=*/true);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CPU, m) {
  m.impl("mutual_information", TORCH_FN(mutual_information_forward_kernel));
  m.impl("mutual_information_with_grad", TORCH_FN(mutual_information_with_grad_kernel));
}

}  // namespace fast_rnnt
