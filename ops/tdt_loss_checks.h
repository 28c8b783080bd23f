#pragma once
// Validation of the duration-lattice losses (tdt_loss, multiblank_rnnt_loss): the duration
// lists, the scalar options, then the k2-family checks of rnnt_loss_checks.h on the token logits.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>

#include "ops/rnnt_loss_checks.h"

namespace fast_rnnt::rnnt {

inline void check_fastemit_lambda(const char* op, double fastemit_lambda) {
  TORCH_CHECK(fastemit_lambda >= 0.0, op, ": expected fastemit_lambda >= 0, got ",
              fastemit_lambda);
}

// TDT durations: distinct, ascending, non-negative, starting 0, 1 (NeMo's rule), and fewer
// than logits.size(3) (at least one token logit is left).
inline void check_tdt_durations(const char* op, const Tensor& logits, at::IntArrayRef durations) {
  TORCH_CHECK(durations.size() >= 2 && durations[0] == 0 && durations[1] == 1, op,
              ": expected durations to contain 0 and 1 and to be ascending (start with 0, 1), "
              "got durations=", durations);
  for (size_t i = 1; i < durations.size(); ++i) {
    TORCH_CHECK(durations[i] > durations[i - 1], op,
                ": expected durations ascending without repeats, got durations=", durations);
  }
  TORCH_CHECK(logits.dim() == 4, op, ": expected logits of shape (B, T, S+1, C + D), got a ",
              logits.dim(), "-D tensor of shape ", logits.sym_sizes());
  const int64_t D = static_cast<int64_t>(durations.size());
  TORCH_CHECK(logits.sym_size(3) > D, op, ": expected logits.size(3) = C + D > D = ", D,
              " (too many durations for the last dimension), got logits of shape ",
              logits.sym_sizes(), " and durations=", durations);
}

// Multi-blank: every big-blank duration > 1, and big blank i = termination_symbol - 1 - i a
// token other than the blank, i.e. termination_symbol >= number of big blanks.
inline void check_big_blanks(const char* op, int64_t termination_symbol,
                             at::IntArrayRef big_blank_durations) {
  for (const int64_t d : big_blank_durations) {
    TORCH_CHECK(d > 1, op, ": expected every big_blank_durations entry > 1, got ",
                big_blank_durations);
  }
  const auto n = static_cast<int64_t>(big_blank_durations.size());
  TORCH_CHECK(termination_symbol - n >= 0, op, ": big blank i is the token termination_symbol - 1 - i",
              ", so ", n, " big blanks need termination_symbol >= ", n, ", got termination_symbol=",
              termination_symbol, " (big blank ", n - 1, " would be token ",
              termination_symbol - n, ")");
}

inline void check_tdt_scalars(const char* op, double sigma, double omega) {
  TORCH_CHECK(std::isfinite(sigma), op, ": expected a finite sigma, got ", sigma);
  TORCH_CHECK(omega >= 0.0 && omega <= 1.0, op, ": expected omega in [0, 1], got ", omega);
}

}  // namespace fast_rnnt::rnnt
