// Autocast for every loss op: the losses always compute in float32 (or float64), whatever the
// autocast region says, and return float32 losses; gradients reach the caller's tensors in their
// own dtypes through the casts' backward.
//
// Two policies, one boxed kernel each (no per-op wrappers):
//  - to_float32: float16/bfloat16 tensor arguments are cast to float32 first. For the ops on
//    lm/am/px/py, which are small (no C axis on the lattice) and whose matmul-based
//    normalizer must not run in half precision.
//  - as_is: the arguments go through unchanged, the op just runs outside the autocast region.
//    For the ops on joiner logits: the fused leaf reads half/bfloat16 logits directly and
//    accumulates in float32, so a float32 copy of the (large) logits would only cost memory.
#include <ATen/autocast_mode.h>
#include <torch/library.h>

namespace fast_rnnt {
namespace {

at::Tensor widened(const at::Tensor& t) {
  const bool reduced = t.defined() && (t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16);
  return reduced ? t.to(at::kFloat) : t;
}

template <bool kToFloat32>
void autocast_kernel(const c10::OperatorHandle& op, c10::DispatchKeySet, torch::jit::Stack* stack) {
  if constexpr (kToFloat32) {
    const size_t num_args = op.schema().arguments().size();
    for (auto it = stack->end() - static_cast<std::ptrdiff_t>(num_args); it != stack->end(); ++it) {
      if (it->isTensor()) {
        *it = widened(it->toTensor());
      } else if (it->isTensorList()) {
        auto list = it->toTensorList();
        for (size_t i = 0; i < list.size(); ++i) list.set(i, widened(list.get(i)));
        *it = list;
      }
    }
  }
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  op.callBoxed(stack);
}

constexpr const char* kFloat32Ops[] = {
    "mutual_information",          "mutual_information_with_grad",
    "joint_mutual_information",    "get_rnnt_logprobs",
    "rnnt_loss_simple",            "rnnt_loss_simple_with_grad",
    "get_rnnt_logprobs_smoothed",  "rnnt_loss_smoothed",
    "rnnt_loss_smoothed_with_grad",
    "duration_lattice",
};
constexpr const char* kAsIsOps[] = {
    "get_rnnt_logprobs_joint",
    "rnnt_loss",
    "get_rnnt_logprobs_pruned",
    "rnnt_loss_pruned",
    "tdt_loss",
    "multiblank_rnnt_loss",
};

void register_autocast(torch::Library& m) {
  for (const char* name : kFloat32Ops) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<&autocast_kernel<true>>());
  }
  for (const char* name : kAsIsOps) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<&autocast_kernel<false>>());
  }
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, AutocastCPU, m) { register_autocast(m); }
TORCH_LIBRARY_IMPL(fast_rnnt, AutocastCUDA, m) { register_autocast(m); }

}  // namespace fast_rnnt
