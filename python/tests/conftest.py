import pytest
import torch

import fast_rnnt

CUDA = torch.cuda.is_available() and fast_rnnt.with_cuda


def devices():
    """Every device the suite runs on: the CPU always, CUDA where a GPU and the kernels exist."""
    return ["cpu"] + (["cuda"] if CUDA else [])


def boundaries(device, B, S, T):
    """No boundary, ragged (0, 0, S_b, T_b) and offset rows: the duration-lattice tests' cases."""
    ragged = torch.tensor([[0, 0, S - (b % 2), T - b] for b in range(B)], device=device)
    offset = torch.tensor([[b % 2, 1, S, T - (b % 3)] for b in range(B)], device=device)
    return [None, ragged, offset]


@pytest.fixture(params=devices())
def device(request):
    return torch.device(request.param)


needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a GPU and the CUDA kernels")
