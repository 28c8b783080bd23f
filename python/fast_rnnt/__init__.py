"""fast_rnnt: transducer (RNN-T) losses as PyTorch custom ops (``torch.ops.fast_rnnt``).

Every function here is a thin, documented wrapper over an op of the compiled library; the same
ops serve TorchScript, torch.compile and C++ programs that link ``libfast_rnnt``.
"""

from ._library import cmake_prefix_path, library_path, with_cuda  # loads the ops first
from . import _fake  # noqa: F401,I001  (registers the fake kernels)
from .arc_logprobs import arc_logprobs, smoothed_arc_logprobs
from .mutual_information import joint_mutual_information_recursion, mutual_information_recursion
from .rnnt_loss import (
    get_rnnt_logprobs,
    get_rnnt_logprobs_joint,
    get_rnnt_logprobs_smoothed,
    rnnt_loss,
    rnnt_loss_simple,
    rnnt_loss_smoothed,
)
from .pruned import do_rnnt_pruning, get_rnnt_logprobs_pruned, get_rnnt_prune_ranges, rnnt_loss_pruned
from .tdt_loss import duration_arc_logprobs, duration_lattice, multiblank_rnnt_loss, tdt_loss

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "arc_logprobs",
    "cmake_prefix_path",
    "do_rnnt_pruning",
    "duration_arc_logprobs",
    "duration_lattice",
    "get_rnnt_logprobs",
    "get_rnnt_logprobs_joint",
    "get_rnnt_logprobs_pruned",
    "get_rnnt_logprobs_smoothed",
    "get_rnnt_prune_ranges",
    "joint_mutual_information_recursion",
    "library_path",
    "multiblank_rnnt_loss",
    "mutual_information_recursion",
    "rnnt_loss",
    "rnnt_loss_pruned",
    "rnnt_loss_simple",
    "rnnt_loss_smoothed",
    "smoothed_arc_logprobs",
    "tdt_loss",
    "with_cuda",
]
