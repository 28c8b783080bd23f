#pragma once
// Gradient scaling: the identity in the forward pass whose backward multiplies the incoming
// gradient by a constant. The losses apply it to their per-cell symbol log-probabilities for
// FastEmit (fastemit_lambda, see rnnt_loss.h): scale = 1 + fastemit_lambda.
#include <ATen/ATen.h>

#include "fast_rnnt/macros.h"

namespace fast_rnnt::detail {

// Returns a new contiguous tensor with the values of x, bit for bit (-inf and NaN included), in
// its dtype and on its device. Its gradient is scale * (the gradient of the output); the
// backward is itself differentiable. scale must be finite and >= 0 (else c10::Error).
FAST_RNNT_API at::Tensor _scale_grad(const at::Tensor& x, double scale);

}  // namespace fast_rnnt::detail
