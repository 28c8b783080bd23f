// CPU kernels of the mutual-information recursion.
//
// Parallel scheme. Sequences are independent: at::parallel_for spreads them over threads.
// Within one sequence the lattice is swept in waves (mutual_information_lattice.h) whose cells
// depend only on the previous wave. Every wave is one vectorized log-add over a contiguous row
// (log_semiring.h), so a sequence of S x T cells costs S+T+1 short SIMD loops instead of S*T
// scalar log-adds, and cells outside the sequence's boundary are never visited.
//
// Storage. Two wave rows of width S+3 (plus room for whole SIMD vectors): row[s+1] = cell s,
// relative to the previous wave's largest value, with -inf sentinels just outside the wave's
// cells, so that the two predecessors of cell s are row'[s] (px arc) and row'[s+1] (py arc) of
// the previous row with no edge cases. with_grad also saves one ratio per cell (of its two
// incoming terms); the backward sweep walks the waves in reverse and
// splits each cell's occupancy between its two arcs from it, conserving mass exactly
// (mutual_information_lattice.h), and the shares are the gradients.
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

// x[i], y[i] = the px and py arcs into cell s = lo + i of wave w (-inf where absent). Along a
// wave both arcs walk through px/py with a fixed stride: (row - 1) on an anti-diagonal, row on a
// column.
template <typename T>
void gather_arcs(const SequenceLattice<T>& q, int64_t w, int64_t lo, int64_t hi, T* x, T* y) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const int64_t first = std::max<int64_t>(lo, 1);  // row 0 has no px arc
  for (int64_t s = lo; s < first; ++s) x[s - lo] = kNegInf;
  if (first <= hi) {
    const int64_t step = q.modified ? q.px_row : q.px_row - 1;
    const T* src = q.px + q.px_index(w, first);
    T* dst = x + (first - lo);
    for (int64_t i = 0, n = hi - first + 1; i < n; ++i) dst[i] = src[i * step];
  }
  // The py arc exists where its frame py_frame(w, s) >= 0: all s (modified, w >= 1) or s < w.
  const int64_t last = q.modified ? hi : std::min(hi, w - 1);
  if (lo <= last) {
    const int64_t step = q.modified ? q.py_row : q.py_row - 1;
    const T* src = q.py + q.py_index(w, lo);
    for (int64_t i = 0, n = last - lo + 1; i < n; ++i) y[i] = src[i * step];
  }
  for (int64_t s = std::max(lo, last + 1); s <= hi; ++s) y[s - lo] = kNegInf;
}

// A wave row with room for the SIMD loops to run over (whole vectors past the last cell).
inline int64_t row_width(int64_t S) { return cpu::padded(wave_width(S)) + cpu::kMaxLanes; }

// Scratch space of one thread, reused across the sequences it handles.
template <typename T>
struct Workspace {
  std::vector<T> rows, x, y, ratios, x_shares, y_shares;
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
  ws.x.resize(width);
  ws.y.resize(width);
  if (with_grad) ws.ratios.resize(num_waves * width);
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
    gather_arcs(q, w, lo, hi, ws.x.data(), ws.y.data());
    offset += shift;
    const T largest = kernels.log_add_wave(
        hi - lo + 1, /*left=*/prev + lo, /*x=*/ws.x.data(), /*down=*/prev + lo + 1,
        /*y=*/ws.y.data(), /*shift=*/shift, /*out=*/cur + lo + 1,
        /*q=*/with_grad ? ws.ratios.data() + w * width + lo : nullptr);
    shift = std::isfinite(largest) ? largest : T(0);
    cur[lo] = kNegInf;
    cur[hi + 2] = kNegInf;
  }
  return static_cast<T>(offset + row(num_waves - 1)[q.S + 1]);
}

// Given ws.ratios of a with_grad forward pass, writes d p[S,T] / d px and d p[S,T] / d py into
// px_grad / py_grad (offset and strided like q.px / q.py, zero-initialized by the caller).
template <typename T>
void backward_sequence(const SequenceLattice<T>& q, T score, Workspace<T>& ws, T* px_grad,
                       T* py_grad) {
  if (!q.has_path() || score == -std::numeric_limits<T>::infinity()) return;
  const auto& kernels = cpu::log_semiring_kernels<T>();
  const int64_t width = row_width(q.S), num_waves = q.num_waves();
  // Row w of the shares: what arrives at cell s of wave w by its px / py arc, at index s+1.
  ws.x_shares.assign(2 * width, T(0));
  ws.y_shares.assign(2 * width, T(0));
  auto x_row = [&](int64_t w) { return ws.x_shares.data() + (w & 1) * width; };
  auto y_row = [&](int64_t w) { return ws.y_shares.data() + (w & 1) * width; };
  y_row(num_waves)[q.S + 1] = 1;  // all of the final cell's occupancy, from past the end
  for (int64_t w = num_waves - 1; w >= 1; --w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w), n = hi - lo + 1;
    // Cell s leaves by its px arc into cell s+1 and by its py arc into cell s of wave w+1.
    const T* x_next = x_row(w + 1);
    const T* y_next = y_row(w + 1);
    T* xs = x_row(w);
    T* ys = y_row(w);
    kernels.split_occupancy_wave(n, /*x_in=*/x_next + lo + 2, /*y_in=*/y_next + lo + 1,
                                 /*q=*/ws.ratios.data() + w * width + lo, /*x_occ=*/xs + lo + 1,
                                 /*y_occ=*/ys + lo + 1);
    xs[lo] = ys[lo] = xs[hi + 2] = ys[hi + 2] = 0;
    for (int64_t s = std::max<int64_t>(lo, 1); s <= hi; ++s) px_grad[q.px_index(w, s)] = xs[s + 1];
    const int64_t last = q.modified ? hi : std::min(hi, w - 1);  // cells with a py arc
    for (int64_t s = lo; s <= last; ++s) py_grad[q.py_index(w, s)] = ys[s + 1];
  }
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
        // The backward writes every entry of a regular lattice that spans the whole of px/py
        // and has a path; anything else is zeroed first, on the thread that writes it next.
        const bool writes_all = !n.modified && q.S == n.S && q.T_ == n.T &&
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
