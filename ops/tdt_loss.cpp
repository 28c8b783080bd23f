// The duration-lattice losses (tdt_loss, multiblank_rnnt_loss): schemas, C++ entry points and
// the CompositeImplicitAutograd kernels over the two leaf ops of duration_lattice.h, so that
// autograd, fake tensors, torch.compile and TorchScript need no extra code. Sizes are SymInts
// so the composites also trace with dynamic shapes.
#include <torch/library.h>

#include <string>
#include <vector>

#include "fast_rnnt/duration_lattice.h"
#include "fast_rnnt/tdt_loss.h"
#include "ops/rnnt_lattice.h"
#include "ops/tdt_loss_checks.h"

namespace fast_rnnt {

using at::IntArrayRef;
using at::Tensor;

namespace {

using namespace fast_rnnt::rnnt;  // NOLINT(google-build-using-namespace)

// The loss of one duration lattice read from logits (C token logits, then num_durations
// duration logits); the k2-family checks apply to the token logits.
Tensor duration_loss(const char* op, const Tensor& logits, const Tensor& symbols,
                     int64_t termination_symbol, IntArrayRef blanks, int64_t num_durations,
                     IntArrayRef symbol_durations, IntArrayRef blank_durations,
                     const std::optional<Tensor>& boundary, double sigma, double fastemit_lambda,
                     Reduction reduction) {
  const Tensor token_logits =
      num_durations > 0 ? logits.narrow_symint(3, 0, logits.sym_size(3) - num_durations) : logits;
  const LatticeSizes n =
      check_logits(op, token_logits, symbols, termination_symbol, RnntType::kRegular, boundary);
  // One more column so that every (t, s) row of logits has a symbol: K = S+1 (its value is
  // never used: no symbol arc leaves row S).
  const Tensor padded =
      at::cat({symbols, at::full_symint({n.B, 1}, termination_symbol, symbols.options())}, 1);
  auto [symbol_w, blank_w] =
      duration_arc_logprobs(logits, padded.unsqueeze(1).expand_symint({n.B, n.T, n.S + 1}),
                            blanks, num_durations, sigma, fastemit_lambda);
  return reduce_loss(
      duration_lattice(symbol_w, blank_w, symbol_durations, blank_durations, boundary), reduction);
}

// The standard RNN-T loss as a duration lattice (symbol duration 0, blank duration 1).
Tensor standard_loss(const char* op, const Tensor& logits, const Tensor& symbols,
                     int64_t termination_symbol, const std::optional<Tensor>& boundary,
                     double sigma, double fastemit_lambda, Reduction reduction) {
  const int64_t zero = 0, one = 1;
  return duration_loss(op, logits, symbols, termination_symbol, IntArrayRef(termination_symbol),
                       0, IntArrayRef(zero), IntArrayRef(one), boundary, sigma, fastemit_lambda,
                       reduction);
}

Tensor tdt_loss_composite(const Tensor& logits, const Tensor& symbols, int64_t termination_symbol,
                          IntArrayRef durations, const std::optional<Tensor>& boundary,
                          double sigma, double omega, double fastemit_lambda,
                          c10::string_view reduction) {
  constexpr char op[] = "tdt_loss";
  const Reduction red = parse_reduction(op, reduction);
  check_fastemit_lambda(op, fastemit_lambda);
  check_tdt_scalars(op, sigma, omega);
  check_tdt_durations(op, logits, durations);
  const auto D = static_cast<int64_t>(durations.size());
  // NeMo's omega: with probability omega this call is the standard RNN-T loss of the token
  // logits (no sigma, durations ignored).
  if (omega > 0.0 && at::rand({}, at::TensorOptions().dtype(at::kDouble)).item<double>() < omega) {
    return standard_loss(op, logits.narrow_symint(3, 0, logits.sym_size(3) - D), symbols,
                         termination_symbol, boundary, /*sigma=*/0.0, fastemit_lambda, red);
  }
  return duration_loss(op, logits, symbols, termination_symbol, IntArrayRef(termination_symbol),
                       D, durations, durations.slice(1), boundary, sigma, fastemit_lambda, red);
}

Tensor multiblank_rnnt_loss_composite(const Tensor& logits, const Tensor& symbols,
                                      int64_t termination_symbol,
                                      IntArrayRef big_blank_durations,
                                      const std::optional<Tensor>& boundary, double sigma,
                                      double fastemit_lambda, c10::string_view reduction) {
  constexpr char op[] = "multiblank_rnnt_loss";
  const Reduction red = parse_reduction(op, reduction);
  check_fastemit_lambda(op, fastemit_lambda);
  check_tdt_scalars(op, sigma, /*omega=*/0.0);
  check_big_blanks(op, termination_symbol, big_blank_durations);
  // Blank arcs: the blank (duration 1), then big blank i = termination_symbol - 1 - i.
  std::vector<int64_t> blanks{termination_symbol}, blank_durations{1};
  for (size_t i = 0; i < big_blank_durations.size(); ++i) {
    blanks.push_back(termination_symbol - 1 - static_cast<int64_t>(i));
    blank_durations.push_back(big_blank_durations[i]);
  }
  const int64_t zero = 0;
  return duration_loss(op, logits, symbols, termination_symbol, blanks, 0, IntArrayRef(zero),
                       blank_durations, boundary, sigma, fastemit_lambda, red);
}

}  // namespace

Tensor tdt_loss(const Tensor& logits, const Tensor& symbols, int64_t termination_symbol,
                IntArrayRef durations, const std::optional<Tensor>& boundary, double sigma,
                double omega, double fastemit_lambda, std::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::tdt_loss", "")
                       .typed<Tensor(const Tensor&, const Tensor&, int64_t, IntArrayRef,
                                     const std::optional<Tensor>&, double, double, double,
                                     c10::string_view)>();
  return op.call(logits, symbols, termination_symbol, durations, boundary, sigma, omega,
                 fastemit_lambda, rnnt::schema_str(reduction));
}

Tensor multiblank_rnnt_loss(const Tensor& logits, const Tensor& symbols,
                            int64_t termination_symbol, IntArrayRef big_blank_durations,
                            const std::optional<Tensor>& boundary, double sigma,
                            double fastemit_lambda, std::string_view reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::multiblank_rnnt_loss", "")
                       .typed<Tensor(const Tensor&, const Tensor&, int64_t, IntArrayRef,
                                     const std::optional<Tensor>&, double, double,
                                     c10::string_view)>();
  return op.call(logits, symbols, termination_symbol, big_blank_durations, boundary, sigma,
                 fastemit_lambda, rnnt::schema_str(reduction));
}

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("tdt_loss(Tensor logits, Tensor symbols, int termination_symbol, int[] durations, "
        "Tensor? boundary=None, float sigma=0.0, float omega=0.0, float fastemit_lambda=0.0, "
        "str reduction=\"mean\") -> Tensor");
  m.def("multiblank_rnnt_loss(Tensor logits, Tensor symbols, int termination_symbol, "
        "int[] big_blank_durations, Tensor? boundary=None, float sigma=0.0, "
        "float fastemit_lambda=0.0, str reduction=\"mean\") -> Tensor");
}

TORCH_LIBRARY_IMPL(fast_rnnt, CompositeImplicitAutograd, m) {
  m.impl("tdt_loss", TORCH_FN(tdt_loss_composite));
  m.impl("multiblank_rnnt_loss", TORCH_FN(multiblank_rnnt_loss_composite));
}

}  // namespace fast_rnnt
