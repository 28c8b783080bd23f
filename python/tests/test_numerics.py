"""Numerical behaviour of the recursion at scale and at the edges: long sequences, huge and
infinite log-weights, NaN, determinism."""

import pytest
import torch

import fast_rnnt


def test_long_sequence_float32_agrees_with_float64(device):
    g = torch.Generator().manual_seed(0)
    S, T = 1000, 5000
    # Log-probability-like weights, as a loss produces them.
    px = (torch.randn(1, S, T + 1, generator=g) - 3).to(device)
    py = (torch.randn(1, S + 1, T, generator=g) - 0.1).to(device)
    got, (px_grad, _) = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
    want, (px_grad64, _) = fast_rnnt.mutual_information_recursion(px.double(), py.double(), return_grad=True)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=0)
    torch.testing.assert_close(px_grad.double(), px_grad64, rtol=0, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_magnitudes_and_masked_arcs(device, dtype):
    g = torch.Generator().manual_seed(1)
    B, S, T = 3, 4, 8
    px = (torch.randn(B, S, T + 1, generator=g, dtype=dtype) * 1e4).to(device)
    py = (torch.randn(B, S + 1, T, generator=g, dtype=dtype) * 1e4).to(device)
    px[0, :, ::2] = float("-inf")  # masked symbols, a path remains
    py[1] = float("-inf")  # sequence 1: no way to advance a frame, no path
    scores, (px_grad, py_grad) = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
    assert torch.isfinite(scores[[0, 2]]).all()
    assert scores[1] == float("-inf")
    assert torch.isfinite(px_grad).all() and torch.isfinite(py_grad).all()
    assert px_grad[1].abs().sum() == 0 and py_grad[1].abs().sum() == 0
    assert px_grad[0, :, ::2].abs().sum() == 0


def test_nan_propagates_without_crash(device):
    px = torch.randn(2, 3, 5, device=device)
    py = torch.randn(2, 4, 4, device=device)
    px[0, 1, 2] = float("nan")
    scores, (px_grad, _) = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
    assert torch.isnan(scores[0]) and torch.isfinite(scores[1])
    assert torch.isfinite(px_grad[1]).all()


@pytest.mark.parametrize("modified", [False, True])
def test_bit_identical_across_runs(device, modified):
    g = torch.Generator().manual_seed(2)
    B, S, T = 8, 30, 60
    px = torch.randn(B, S, T if modified else T + 1, generator=g).to(device)
    py = torch.randn(B, S + 1, T, generator=g).to(device)
    first = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
    for _ in range(3):
        again = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
        assert torch.equal(first[0], again[0])
        assert torch.equal(first[1][0], again[1][0]) and torch.equal(first[1][1], again[1][1])


def test_thread_count_does_not_change_results():
    g = torch.Generator().manual_seed(3)
    px, py = torch.randn(7, 20, 41, generator=g), torch.randn(7, 21, 40, generator=g)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
        torch.set_num_threads(max(2, threads))
        many = fast_rnnt.mutual_information_recursion(px, py, return_grad=True)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one[0], many[0]) and torch.equal(one[1][0], many[1][0])
