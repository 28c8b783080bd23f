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


# Small ragged batch shared by the loss steps: B=3, S=4, T=6, C=8.
_B, _S, _T, _C = 3, 4, 6, 8
_BOUNDARY = torch.tensor([[0, 0, 4, 6], [0, 0, 2, 5], [0, 0, 3, 6]])


def _lm_am_symbols(seed: int):
    g = torch.Generator().manual_seed(seed)
    lm = torch.randn(_B, _S + 1, _C, generator=g).requires_grad_()
    am = torch.randn(_B, _T, _C, generator=g).requires_grad_()
    symbols = torch.randint(1, _C, (_B, _S), generator=g)
    return lm, am, symbols


def _simple_step(seed: int):
    lm, am, symbols = _lm_am_symbols(seed)
    loss = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, _BOUNDARY, reduction="sum")
    loss.backward()
    return loss.detach(), lm.grad, am.grad


def _simple_with_grad_step(seed: int):
    lm, am, symbols = _lm_am_symbols(seed)
    loss, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, _BOUNDARY, reduction="sum", return_grad=True)
    return loss.detach(), px_grad, py_grad


def _smoothed_step(seed: int):
    lm, am, symbols = _lm_am_symbols(seed)
    loss = fast_rnnt.rnnt_loss_smoothed(lm, am, symbols, 0, 0.1, 0.2, _BOUNDARY, reduction="sum")
    loss.backward()
    return loss.detach(), lm.grad, am.grad


def _full_step(seed: int):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(_B, _T, _S + 1, _C, generator=g).requires_grad_()
    symbols = torch.randint(1, _C, (_B, _S), generator=g)
    loss = fast_rnnt.rnnt_loss(logits, symbols, 0, _BOUNDARY, reduction="sum")
    loss.backward()
    return loss.detach(), logits.grad


def _pruned_pipeline_step(seed: int):
    """simple loss with grads -> prune ranges -> pruning -> joiner -> pruned loss, backward."""
    lm, am, symbols = _lm_am_symbols(seed)
    simple, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(lm, am, symbols, 0, _BOUNDARY, reduction="sum", return_grad=True)
    ranges = fast_rnnt.get_rnnt_prune_ranges(px_grad, py_grad, _BOUNDARY, 3)
    am_pruned, lm_pruned = fast_rnnt.do_rnnt_pruning(am, lm, ranges)
    logits = torch.tanh(am_pruned + lm_pruned)
    pruned = fast_rnnt.rnnt_loss_pruned(logits, symbols, ranges, 0, _BOUNDARY, reduction="sum")
    (simple + pruned).backward()
    return simple.detach(), pruned.detach(), ranges, lm.grad, am.grad


def _arc_logprobs_step(seed: int):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(_B, _T, 3, _C, generator=g).requires_grad_()
    symbols = torch.randint(0, _C, (_B, _T, 3), generator=g)
    symbol_lp, blank_lp = fast_rnnt.arc_logprobs(logits, symbols, 0)
    (symbol_lp.sum() + 2 * blank_lp.sum()).backward()
    return symbol_lp.detach(), blank_lp.detach(), logits.grad


# name -> step(seed) returning tensors; every public op's forward+backward gets an entry.
STEPS = {
    "mutual_information": _recursion_step,
    "mutual_information_with_grad": _recursion_with_grad_step,
    "rnnt_loss_simple": _simple_step,
    "rnnt_loss_simple_with_grad": _simple_with_grad_step,
    "rnnt_loss_smoothed": _smoothed_step,
    "rnnt_loss": _full_step,
    "rnnt_loss_pruned_pipeline": _pruned_pipeline_step,
    "arc_logprobs": _arc_logprobs_step,
}


# The loss steps are dozens of small ATen ops each: with intra-op threads on a busy machine they
# spend their time waking workers. They run their 2200 calls on one intra-op thread; the
# mutual_information steps keep the default and cover the parallel recursion.
SERIAL = {name for name in STEPS if not name.startswith("mutual_information")}


@pytest.mark.parametrize("name", sorted(STEPS))
def test_no_memory_growth_over_2000_calls(name):
    step = STEPS[name]
    threads = torch.get_num_threads()
    if name in SERIAL:
        torch.set_num_threads(1)
    try:
        for i in range(200):  # warm up allocator caches and lazy initialisation
            step(i)
        before = _rss_mib()
        for i in range(2000):
            step(i)
        grown = _rss_mib() - before
    finally:
        torch.set_num_threads(threads)
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
