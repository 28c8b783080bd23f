import pytest
import torch

import fast_rnnt

CUDA = torch.cuda.is_available() and fast_rnnt.with_cuda


def devices():
    """Every device the suite runs on: the CPU always, CUDA where a GPU and the kernels exist."""
    return ["cpu"] + (["cuda"] if CUDA else [])


@pytest.fixture(params=devices())
def device(request):
    return torch.device(request.param)


needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a GPU and the CUDA kernels")
