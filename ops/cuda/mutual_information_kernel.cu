// CUDA kernels of the mutual-information recursion.
//
// Parallel scheme: one thread block per sequence, so sequences of very different lengths in one
// batch each take exactly their own number of steps and nothing is spent on padding. A block
// sweeps its lattice in waves (anti-diagonals s + t = w for the regular recursion, columns
// t = w for the modified one), whose cells depend only on the previous wave: the threads of the
// block split a wave's cells and meet at one __syncthreads() per wave. p is kept wave by wave in
// a global workspace with the layout of the CPU kernel (row w, index s+1, -inf sentinels at both
// ends), which the backward sweep reads in reverse. The backward kernel "pulls": thread s' of
// wave w-1 computes both arcs leaving its cell, so every value is written by exactly one
// thread and the result is deterministic (no atomics).
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <limits>

#include "ops/mutual_information_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "mutual_information";
constexpr char kWithGradOpName[] = "mutual_information_with_grad";
constexpr int kThreads = 256;

template <typename T>
__device__ __forceinline__ T neg_inf() {
  return -std::numeric_limits<T>::infinity();
}

// log(exp(a) + exp(b)); NaN in either propagates, -inf when both are -inf.
template <typename T>
__device__ __forceinline__ T log_add(T a, T b) {
  const T hi = a > b ? a : b, lo = a > b ? b : a;
  return hi == neg_inf<T>() ? hi : hi + log1p(exp(lo - hi));
}

// One sequence's sub-lattice, as in the CPU kernel.
template <typename T>
struct SequenceLattice {
  const T* px;
  int64_t px_row;
  const T* py;
  int64_t py_row;
  int64_t S, T_;
  bool modified;

  __device__ int64_t num_waves() const { return modified ? T_ + 1 : S + T_ + 1; }
  __device__ int64_t first_row(int64_t w) const { return modified ? 0 : max(int64_t(0), w - T_); }
  __device__ int64_t last_row(int64_t w) const { return min(S, w); }
  __device__ int64_t px_frame(int64_t w, int64_t s) const { return modified ? w - 1 : w - s; }
  __device__ int64_t py_frame(int64_t w, int64_t s) const { return modified ? w - 1 : w - s - 1; }
  __device__ bool has_path() const { return !modified || S <= T_; }
  // The arcs into cell s of wave w (-inf where absent).
  __device__ T x_arc(int64_t w, int64_t s) const {
    return s >= 1 ? px[(s - 1) * px_row + px_frame(w, s)] : neg_inf<T>();
  }
  __device__ T y_arc(int64_t w, int64_t s) const {
    const int64_t ty = py_frame(w, s);
    return ty >= 0 ? py[s * py_row + ty] : neg_inf<T>();
  }
};

template <typename T>
__device__ SequenceLattice<T> sequence_lattice(const T* px, const T* py, const int64_t* boundary,
                                               int64_t b, int64_t S, int64_t T_, bool modified,
                                               int64_t* offsets) {
  const int64_t px_row = modified ? T_ : T_ + 1, py_row = T_;
  const int64_t s_begin = boundary ? boundary[4 * b] : 0;
  const int64_t t_begin = boundary ? boundary[4 * b + 1] : 0;
  const int64_t s_end = boundary ? boundary[4 * b + 2] : S;
  const int64_t t_end = boundary ? boundary[4 * b + 3] : T_;
  offsets[0] = b * S * px_row + s_begin * px_row + t_begin;
  offsets[1] = b * (S + 1) * py_row + s_begin * py_row + t_begin;
  return {px + offsets[0], px_row, py + offsets[1], py_row, s_end - s_begin, t_end - t_begin,
          modified};
}

template <typename T>
__global__ void mutual_information_forward_sweep(const T* px, const T* py, const int64_t* boundary,
                                                 int64_t S, int64_t T_, bool modified,
                                                 int64_t rows_per_sequence, T* rows, T* scores) {
  const int64_t b = blockIdx.x, width = S + 3;
  int64_t offsets[2];
  const auto q = sequence_lattice(px, py, boundary, b, S, T_, modified, offsets);
  T* seq_rows = rows + b * rows_per_sequence * width;
  if (threadIdx.x == 0) {
    seq_rows[0] = neg_inf<T>();
    seq_rows[1] = 0;
    seq_rows[2] = neg_inf<T>();
  }
  __syncthreads();
  const int64_t num_waves = q.num_waves();
  for (int64_t w = 1; w < num_waves; ++w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w);
    const T* prev = seq_rows + (w - 1) * width;
    T* cur = seq_rows + w * width;
    for (int64_t s = lo + threadIdx.x; s <= hi; s += blockDim.x) {
      cur[s + 1] = log_add(prev[s] + q.x_arc(w, s), prev[s + 1] + q.y_arc(w, s));
    }
    if (threadIdx.x == 0) {
      cur[lo] = neg_inf<T>();
      cur[hi + 2] = neg_inf<T>();
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    scores[b] = q.has_path() ? seq_rows[(num_waves - 1) * width + q.S + 1] : neg_inf<T>();
  }
}

// occ rows: two per sequence, width S+3, like p's rows.
template <typename T>
__global__ void mutual_information_backward_sweep(const T* px, const T* py, const int64_t* boundary,
                                                  int64_t S, int64_t T_, bool modified,
                                                  int64_t rows_per_sequence, const T* rows,
                                                  const T* scores, T* occ_rows, T* px_grad,
                                                  T* py_grad) {
  const int64_t b = blockIdx.x, width = S + 3;
  int64_t offsets[2];
  const auto q = sequence_lattice(px, py, boundary, b, S, T_, modified, offsets);
  if (!q.has_path() || scores[b] == neg_inf<T>()) return;  // uniform across the block
  const T* seq_rows = rows + b * rows_per_sequence * width;
  T* occ = occ_rows + b * 2 * width;
  T* pxg = px_grad + offsets[0];
  T* pyg = py_grad + offsets[1];
  const int64_t num_waves = q.num_waves();
  if (threadIdx.x == 0) occ[((num_waves - 1) & 1) * width + q.S + 1] = 1;
  __syncthreads();
  for (int64_t w = num_waves - 1; w >= 1; --w) {
    const int64_t lo = q.first_row(w), hi = q.last_row(w);
    const int64_t lo_prev = q.first_row(w - 1), hi_prev = q.last_row(w - 1);
    const T* p_prev = seq_rows + (w - 1) * width;
    const T* p_cur = seq_rows + w * width;
    const T* occ_cur = occ + (w & 1) * width;
    T* occ_prev = occ + ((w - 1) & 1) * width;
    for (int64_t s = lo_prev + threadIdx.x; s <= hi_prev; s += blockDim.x) {
      T total = 0;
      if (s + 1 >= lo && s + 1 <= hi) {  // px arc into cell s+1 of wave w
        const T p_next = p_cur[s + 2];
        const T x_occ = p_next == neg_inf<T>()
                            ? T(0)
                            : occ_cur[s + 2] * exp(p_prev[s + 1] + q.x_arc(w, s + 1) - p_next);
        pxg[s * q.px_row + q.px_frame(w, s + 1)] = x_occ;
        total += x_occ;
      }
      if (s >= lo && s <= hi && q.py_frame(w, s) >= 0) {  // py arc into cell s of wave w
        const T p_next = p_cur[s + 1];
        const T y_occ = p_next == neg_inf<T>()
                            ? T(0)
                            : occ_cur[s + 1] * exp(p_prev[s + 1] + q.y_arc(w, s) - p_next);
        pyg[s * q.py_row + q.py_frame(w, s)] = y_occ;
        total += y_occ;
      }
      occ_prev[s + 1] = total;
    }
    __syncthreads();
  }
}

at::Tensor compute_copy(const at::Tensor& t) {
  const bool reduced = t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
  return reduced ? t.to(at::kFloat).contiguous() : t.contiguous();
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> run(const at::Tensor& px_in, const at::Tensor& py_in,
                                                   const std::optional<at::Tensor>& boundary_in,
                                                   bool with_grad) {
  const MutualInformationSizes n = check_mutual_information_inputs(
      with_grad ? kWithGradOpName : kOpName, px_in, py_in, boundary_in);
  TORCH_INTERNAL_ASSERT(px_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(px_in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const at::Tensor px = compute_copy(px_in), py = compute_copy(py_in);
  const at::Tensor boundary = boundary_in.has_value() ? boundary_in->contiguous() : at::Tensor();
  const int64_t* boundary_ptr = boundary.defined() ? boundary.data_ptr<int64_t>() : nullptr;
  at::Tensor scores = at::empty({n.B}, px.options());
  at::Tensor px_grad, py_grad;
  if (n.B == 0) {
    if (with_grad) {
      px_grad = at::zeros_like(px_in);
      py_grad = at::zeros_like(py_in);
    }
    return {scores.to(px_in.scalar_type()), px_grad, py_grad};
  }
  const int64_t rows_per_sequence = n.modified ? n.T + 1 : n.S + n.T + 1;
  at::Tensor rows = at::empty({n.B, rows_per_sequence, n.S + 3}, px.options());
  AT_DISPATCH_FLOATING_TYPES(px.scalar_type(), "mutual_information_cuda", [&] {
    mutual_information_forward_sweep<scalar_t><<<n.B, kThreads, 0, stream>>>(
        /*px=*/px.data_ptr<scalar_t>(), /*py=*/py.data_ptr<scalar_t>(), /*boundary=*/boundary_ptr,
        /*S=*/n.S, /*T_=*/n.T, /*modified=*/n.modified, /*rows_per_sequence=*/rows_per_sequence,
        /*rows=*/rows.data_ptr<scalar_t>(), /*scores=*/scores.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (with_grad) {
      px_grad = at::zeros_like(px);
      py_grad = at::zeros_like(py);
      at::Tensor occ_rows = at::zeros({n.B, 2, n.S + 3}, px.options());
      mutual_information_backward_sweep<scalar_t><<<n.B, kThreads, 0, stream>>>(
          /*px=*/px.data_ptr<scalar_t>(), /*py=*/py.data_ptr<scalar_t>(),
          /*boundary=*/boundary_ptr, /*S=*/n.S, /*T_=*/n.T, /*modified=*/n.modified,
          /*rows_per_sequence=*/rows_per_sequence, /*rows=*/rows.data_ptr<scalar_t>(),
          /*scores=*/scores.data_ptr<scalar_t>(), /*occ_rows=*/occ_rows.data_ptr<scalar_t>(),
          /*px_grad=*/px_grad.data_ptr<scalar_t>(), /*py_grad=*/py_grad.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
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

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("mutual_information", TORCH_FN(mutual_information_forward_kernel));
  m.impl("mutual_information_with_grad", TORCH_FN(mutual_information_with_grad_kernel));
}

}  // namespace fast_rnnt
