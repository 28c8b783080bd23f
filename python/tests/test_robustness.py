"""Long-running-job hazards: memory that grows call after call, and calls from several threads."""

import threading

import pytest
import torch

import fast_rnnt


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _recursion_step(seed: int):
    g = torch.Generator().manual_seed(seed)
    px = torch.randn(4, 10, 31, generator=g).requires_grad_()
    py = torch.randn(4, 11, 30, generator=g).requires_grad_()
    boundary = torch.tensor([[0, 0, 10, 30], [0, 0, 8, 25], [1, 2, 9, 30], [0, 0, 0, 5]])
    scores = fast_rnnt.mutual_information_recursion(px, py, boundary)
    scores.sum().backward()
    return scores.detach(), px.grad, py.grad


def _recursion_with_grad_step(seed: int):
    g = torch.Generator().manual_seed(seed)
    px = torch.randn(4, 10, 30, generator=g)
    py = torch.randn(4, 11, 30, generator=g)
    scores, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
    return scores, px_grad, py_grad


# name -> step(seed) returning tensors; every public op's forward+backward gets an entry.
STEPS = {
    "mutual_information": _recursion_step,
    "mutual_information_with_grad": _recursion_with_grad_step,
}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_no_memory_growth_over_2000_calls(name):
    step = STEPS[name]
    for i in range(200):  # warm up allocator caches and lazy initialisation
        step(i)
    before = _rss_mib()
    for i in range(2000):
        step(i)
    grown = _rss_mib() - before
    assert grown < 20, f"{name}: resident memory grew by {grown:.1f} MiB over 2000 calls"


@pytest.mark.parametrize("name", sorted(STEPS))
def test_threads_give_serial_answers(name):
    step = STEPS[name]
    seeds = list(range(16))
    serial = [step(s) for s in seeds]
    results = [None] * len(seeds)
    errors = []

    def work(indices):
        try:
            for i in indices:
                results[i] = step(seeds[i])
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(list(range(k, len(seeds), 4)),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for want, got in zip(serial, results):
        for a, b in zip(want, got):
            assert torch.equal(a, b)
