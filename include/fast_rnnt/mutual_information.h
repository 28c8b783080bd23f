#pragma once
// The mutual-information recursion: the log-semiring lattice sum at the core of every
// transducer loss in this library.
#include <ATen/ATen.h>

#include <optional>
#include <tuple>

#include "fast_rnnt/macros.h"

namespace fast_rnnt {

// Log-domain sum over all monotonic paths of a (S+1) x (T+1) lattice.
//
//   px:       (B, S, T+1) float tensor ("regular"), or (B, S, T) ("modified"; told apart by
//             the shape): log-weight of the arc that consumes symbol s at frame t.
//   py:       (B, S+1, T): log-weight of the arc that advances from frame t to t+1 at symbol s.
//   boundary: optional (B, 4) int64 tensor of rows (s_begin, t_begin, s_end, t_end) with
//             0 <= s_begin <= s_end <= S and 0 <= t_begin <= t_end <= T; default (0, 0, S, T).
//
// With p[b, s_begin, t_begin] = 0 and every term outside the boundary -inf:
//   regular:  p[b,s,t] = logaddexp(p[b,s-1,t] + px[b,s-1,t],   p[b,s,t-1] + py[b,s,t-1])
//   modified: p[b,s,t] = logaddexp(p[b,s-1,t-1] + px[b,s-1,t-1], p[b,s,t-1] + py[b,s,t-1])
// Returns scores (B,) = p[b, s_end, t_end]; -inf where no path exists (e.g. modified with
// s_end - s_begin > t_end - t_begin).
//
// float32 and float64 are computed in their own precision; float16 and bfloat16 inputs are
// computed in float32 and the results cast back. Inputs may be non-contiguous. Differentiable
// w.r.t. px and py (first order).
FAST_RNNT_API at::Tensor mutual_information_recursion(
    const at::Tensor& px, const at::Tensor& py,
    const std::optional<at::Tensor>& boundary = std::nullopt);

// As mutual_information_recursion, and also the gradients of scores.sum() w.r.t. px and py:
// the occupation probability of each arc, in [0, 1], exactly zero outside each sequence's
// boundary and for sequences with no path. Returns (scores, px_grad, py_grad); the
// gradients have the shapes of px and py and are not themselves differentiable.
FAST_RNNT_API std::tuple<at::Tensor, at::Tensor, at::Tensor> mutual_information_recursion_with_grad(
    const at::Tensor& px, const at::Tensor& py,
    const std::optional<at::Tensor>& boundary = std::nullopt);

// The recursion over arc weights that are sums of N parts (px[n]: (B, S, T+1) or (B, S, T),
// py[n]: (B, S+1, T), all of one shape each), with the total broken down by part:
//   ans[n, b] = sum(px_occ[b] * px[n][b]) + sum(py_occ[b] * py[n][b])   (+ offset[b] for n=0)
// where px_occ, py_occ are the (constant) arc occupancies of the lattice of the summed weights
// and offset[b] = scores[b] - sum_n(...) makes ans.sum(0) equal the scores of that lattice.
// Returns (N, B); differentiable w.r.t. every part (gradient: the occupancies).
FAST_RNNT_API at::Tensor joint_mutual_information_recursion(
    at::TensorList px, at::TensorList py,
    const std::optional<at::Tensor>& boundary = std::nullopt);

}  // namespace fast_rnnt
