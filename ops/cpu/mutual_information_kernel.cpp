// CPU kernels of the mutual-information recursion.
//
// Parallel scheme. Sequences are independent: at::parallel_for spreads them over threads.
// Within one sequence the lattice is swept in "waves" of cells whose predecessors all lie in the
// previous wave: anti-diagonals s + t = w for the regular recursion, columns t = w for the
// modified one (both of its arcs come from frame t-1). Every wave is one vectorized log-add over
// a contiguous row (log_semiring.h), so a sequence of S x T cells costs S+T+1 short SIMD loops
// instead of S*T scalar log-adds, and cells outside the sequence's boundary are never visited.
//
// Storage. Wave w of p is kept in a row of width S+3 (plus room for whole SIMD vectors):
// row[s+1] = p[s, t(w, s)], with -inf sentinels just outside the wave's cells, so the two predecessors of cell s are row'[s]
// ("left", the px arc) and row'[s+1] ("down", the py arc) of the previous row with no edge
// cases. Forward-only calls keep two rows; with_grad keeps all rows for the backward sweep,
// which walks the waves in reverse, splitting each cell's occupancy between its two incoming
// arcs (these shares are the gradients) and passing them on to the predecessors.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "ops/cpu/log_semiring.h"
#include "ops/mutual_information_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "mutual_information";
constexpr char kWithGradOpName[] = "mutual_information_with_grad";

// One sequence's sub-lattice: px/py already offset to (s_begin, t_begin).
template <typename T>
struct SequenceLattice {
  const T* px;
  int64_t px_row;  // stride between rows s of px
  const T* py;
  int64_t py_row;
  int64_t S, T_;  // s_end - s_begin, t_end - t_begin
  bool modified;

  int64_t num_waves() const { return modified ? T_ + 1 : S + T_ + 1; }
  int64_t first_row(int64_t w) const { return modified ? 0 : std::max<int64_t>(0, w - T_); }
  int64_t last_row(int64_t w) const { return std::min(S, w); }
  // Frame of the px arc into cell (s, wave w), and of the py arc; -1 where the arc is absent.
  int64_t px_frame(int64_t w, int64_t s) const { return modified ? w - 1 : w - s; }
  int64_t py_frame(int64_t w, int64_t s) const { return modified ? w - 1 : w - s - 1; }
  bool has_path() const { return !modified || S <= T_; }
};

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
    const T* src = q.px + (first - 1) * q.px_row + q.px_frame(w, first);
    T* dst = x + (first - lo);
    for (int64_t i = 0, n = hi - first + 1; i < n; ++i) dst[i] = src[i * step];
  }
  // The py arc exists where its frame py_frame(w, s) >= 0: all s (modified, w >= 1) or s < w.
  const int64_t last = q.modified ? hi : std::min(hi, w - 1);
  if (lo <= last) {
    const int64_t step = q.modified ? q.py_row : q.py_row - 1;
    const T* src = q.py + lo * q.py_row + q.py_frame(w, lo);
    for (int64_t i = 0, n = last - lo + 1; i < n; ++i) y[i] = src[i * step];
  }
  for (int64_t s = std::max(lo, last + 1); s <= hi; ++s) y[s - lo] = kNegInf;
}

// A wave row: S+1 cells, a sentinel on each side, and room for the SIMD loops to run over.
inline int64_t row_width(int64_t S) { return cpu::padded(S + 3) + cpu::kMaxLanes; }

// Scratch space of one thread, reused across the sequences it handles.
template <typename T>
struct Workspace {
  std::vector<T> rows, x, y, occ, x_occ, y_occ;
};

// Fills the wave rows of p (all of them when keep_all, else two alternating ones) and returns
// p[S, T].
template <typename T>
T forward_sequence(const SequenceLattice<T>& q, bool keep_all, Workspace<T>& ws) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const auto& kernels = cpu::log_semiring_kernels<T>();
  const int64_t width = row_width(q.S), num_waves = q.num_waves();
  ws.rows.resize((keep_all ? num_waves : 2) * width);
  // The gathered arcs of every wave are kept too when the backward sweep will read them again.
  const int64_t arcs = cpu::padded(q.S + 1);
  ws.x.resize((keep_all ? num_waves : 1) * arcs);
  ws.y.resize((keep_all ? num_waves : 1) * arcs);
  auto row = [&](int64_t w) { return ws.rows.data() + (keep_all ? w : (w & 1)) * width; };
  T* first = row(0);
  first[0] = kNegInf;
  first[1] = 0;
  first[2] = kNegInf;
  for (int64_t w = 1; w < num_waves; ++w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w);
    const T* prev = row(w - 1);
    T* cur = row(w);
    T* x = ws.x.data() + (keep_all ? w * arcs : 0);
    T* y = ws.y.data() + (keep_all ? w * arcs : 0);
    gather_arcs(q, w, lo, hi, x, y);
    kernels.log_add_wave(hi - lo + 1, /*left=*/prev + lo, /*x=*/x, /*down=*/prev + lo + 1, /*y=*/y,
                         /*out=*/cur + lo + 1);
    cur[lo] = kNegInf;
    cur[hi + 2] = kNegInf;
  }
  return q.has_path() ? row(num_waves - 1)[q.S + 1] : kNegInf;
}

// Given the rows and gathered arcs of a keep_all forward pass, writes d p[S,T] / d px and d p[S,T] / d py into
// px_grad / py_grad (offset and strided like q.px / q.py, zero-initialized by the caller).
template <typename T>
void backward_sequence(const SequenceLattice<T>& q, T score, Workspace<T>& ws, T* px_grad,
                       T* py_grad) {
  if (!q.has_path() || score == -std::numeric_limits<T>::infinity()) return;
  const auto& kernels = cpu::log_semiring_kernels<T>();
  const int64_t width = row_width(q.S), num_waves = q.num_waves();
  ws.occ.assign(2 * width, T(0));
  const int64_t arcs = cpu::padded(q.S + 1);
  ws.x_occ.resize(arcs);
  ws.y_occ.resize(arcs);
  auto occ_row = [&](int64_t w) { return ws.occ.data() + (w & 1) * width; };
  occ_row(num_waves - 1)[q.S + 1] = 1;
  for (int64_t w = num_waves - 1; w >= 1; --w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w), n = hi - lo + 1;
    const T* prev = ws.rows.data() + (w - 1) * width;
    const T* cur = ws.rows.data() + w * width;
    const T* x = ws.x.data() + w * arcs;  // gathered by forward_sequence
    const T* y = ws.y.data() + w * arcs;
    T* occ = occ_row(w);
    kernels.split_occupancy_wave(n, /*left=*/prev + lo, /*x=*/x, /*down=*/prev + lo + 1,
                                 /*y=*/y, /*p=*/cur + lo + 1, /*occ=*/occ + lo + 1,
                                 /*x_occ=*/ws.x_occ.data(), /*y_occ=*/ws.y_occ.data());
    T* occ_prev = occ_row(w - 1);
    std::fill(occ_prev + q.first_row(w - 1), occ_prev + q.last_row(w - 1) + 3, T(0));
    const T* xo = ws.x_occ.data();
    const T* yo = ws.y_occ.data();
    for (int64_t i = 0; i < n; ++i) occ_prev[lo + i] += xo[i];      // to cell s-1 of wave w-1
    for (int64_t i = 0; i < n; ++i) occ_prev[lo + 1 + i] += yo[i];  // to cell s of wave w-1
    for (int64_t s = std::max<int64_t>(lo, 1); s <= hi; ++s) {
      px_grad[(s - 1) * q.px_row + q.px_frame(w, s)] = xo[s - lo];
    }
    for (int64_t s = lo; s <= hi; ++s) {
      const int64_t ty = q.py_frame(w, s);
      if (ty >= 0) py_grad[s * q.py_row + ty] = yo[s - lo];
    }
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
  const int64_t px_row = px.size(2), py_row = py.size(2);
  const int64_t px_batch = px.size(1) * px_row, py_batch = py.size(1) * py_row;
  at::parallel_for(0, n.B, 1, [&](int64_t begin, int64_t end) {
    Workspace<T> ws;
    for (int64_t b = begin; b < end; ++b) {
      const int64_t s_begin = bd_ptr ? bd_ptr[4 * b] : 0, t_begin = bd_ptr ? bd_ptr[4 * b + 1] : 0;
      const int64_t s_end = bd_ptr ? bd_ptr[4 * b + 2] : n.S, t_end = bd_ptr ? bd_ptr[4 * b + 3] : n.T;
      const int64_t px_offset = b * px_batch + s_begin * px_row + t_begin;
      const int64_t py_offset = b * py_batch + s_begin * py_row + t_begin;
      const SequenceLattice<T> q{px_ptr + px_offset, px_row, py_ptr + py_offset, py_row,
                                 s_end - s_begin, t_end - t_begin, n.modified};
      scores_ptr[b] = forward_sequence(q, with_grad, ws);
      if (with_grad) {
        // Zero this sequence's gradients here, on the thread that writes them next.
        std::fill(pxg_ptr + b * px_batch, pxg_ptr + (b + 1) * px_batch, T(0));
        std::fill(pyg_ptr + b * py_batch, pyg_ptr + (b + 1) * py_batch, T(0));
        backward_sequence(q, scores_ptr[b], ws, pxg_ptr + px_offset, pyg_ptr + py_offset);
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
