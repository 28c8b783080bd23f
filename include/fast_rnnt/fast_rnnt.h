#pragma once
// The whole C++ API of fast_rnnt. Link fast_rnnt::fast_rnnt (find_package(fast_rnnt)); every
// function calls its op through the PyTorch dispatcher, so CPU/CUDA kernels and autograd work
// exactly as from Python.
#include "fast_rnnt/macros.h"
#include "fast_rnnt/mutual_information.h"
#include "fast_rnnt/arc_logprobs.h"
#include "fast_rnnt/smoothed_arc_logprobs.h"
#include "fast_rnnt/pruned.h"
#include "fast_rnnt/rnnt_loss.h"
#include "fast_rnnt/scale_grad.h"
#include "fast_rnnt/duration_lattice.h"
#include "fast_rnnt/tdt_loss.h"
