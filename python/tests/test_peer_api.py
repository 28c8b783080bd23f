"""The public Python API agrees with k2's and fast_rnnt 1.3's: argument names, order and defaults
of every function (both peers' spellings where they differ), and ``with_cuda`` usable as k2's
bool and as fast_rnnt 1.3's function (issue 12, section 4)."""

import inspect

import pytest
import torch

import fast_rnnt

REQUIRED = inspect.Parameter.empty

# The peers' signatures, (name, default) in order. Where k2 and fast_rnnt 1.3 differ, both lists
# are given: the common prefix must match ours position by position, the rest by keyword.
K2 = {
    "mutual_information_recursion": [("px", REQUIRED), ("py", REQUIRED), ("boundary", None), ("return_grad", False)],
    "joint_mutual_information_recursion": [("px", REQUIRED), ("py", REQUIRED), ("boundary", None)],
    "get_rnnt_logprobs": [("lm", REQUIRED), ("am", REQUIRED), ("symbols", REQUIRED), ("termination_symbol", REQUIRED),
                          ("rnnt_type", "regular"), ("boundary", None)],
    "rnnt_loss_simple": [("lm", REQUIRED), ("am", REQUIRED), ("symbols", REQUIRED), ("termination_symbol", REQUIRED),
                         ("boundary", None), ("rnnt_type", "regular"), ("delay_penalty", 0.0), ("reduction", "mean"),
                         ("return_grad", False)],
    "get_rnnt_logprobs_joint": [("logits", REQUIRED), ("symbols", REQUIRED), ("termination_symbol", REQUIRED),
                                ("boundary", None), ("rnnt_type", "regular")],
    "rnnt_loss": [("logits", REQUIRED), ("symbols", REQUIRED), ("termination_symbol", REQUIRED), ("boundary", None),
                  ("rnnt_type", "regular"), ("delay_penalty", 0.0), ("reduction", "mean")],
    "get_rnnt_prune_ranges": [("px_grad", REQUIRED), ("py_grad", REQUIRED), ("boundary", REQUIRED), ("s_range", REQUIRED)],
    "do_rnnt_pruning": [("am", REQUIRED), ("lm", REQUIRED), ("ranges", REQUIRED)],
    "get_rnnt_logprobs_pruned": [("logits", REQUIRED), ("symbols", REQUIRED), ("ranges", REQUIRED),
                                 ("termination_symbol", REQUIRED), ("boundary", None), ("rnnt_type", "regular"),
                                 ("use_hat_loss", False)],
    "rnnt_loss_pruned": [("logits", REQUIRED), ("symbols", REQUIRED), ("ranges", REQUIRED),
                         ("termination_symbol", REQUIRED), ("boundary", None), ("rnnt_type", "regular"),
                         ("delay_penalty", 0.0), ("reduction", "mean"), ("use_hat_loss", False)],
    "get_rnnt_logprobs_smoothed": [("lm", REQUIRED), ("am", REQUIRED), ("symbols", REQUIRED),
                                   ("termination_symbol", REQUIRED), ("lm_only_scale", 0.1), ("am_only_scale", 0.1),
                                   ("boundary", None), ("rnnt_type", "regular")],
    "rnnt_loss_smoothed": [("lm", REQUIRED), ("am", REQUIRED), ("symbols", REQUIRED), ("termination_symbol", REQUIRED),
                           ("lm_only_scale", 0.1), ("am_only_scale", 0.1), ("boundary", None), ("rnnt_type", "regular"),
                           ("delay_penalty", 0.0), ("reduction", "mean"), ("return_grad", False)],
}
FAST_RNNT_1_3 = dict(K2)
FAST_RNNT_1_3.update({
    "get_rnnt_logprobs_pruned": K2["get_rnnt_logprobs_pruned"][:-1],
    "rnnt_loss_pruned": K2["rnnt_loss_pruned"][:-1],
})
# fast_rnnt 1.3 also has return_grad=False last in rnnt_loss and rnnt_loss_pruned (the 9th
# argument there, where k2 has use_hat_loss). Not taken here: the losses stay typed `-> Tensor`,
# which TorchScript callers rely on; the occupancies come from rnnt_loss_simple/smoothed.
NOT_TAKEN = {("rnnt_loss", "return_grad"), ("rnnt_loss_pruned", "return_grad")}


def _ours(name):
    return [(p.name, p.default) for p in inspect.signature(getattr(fast_rnnt, name)).parameters.values()]


@pytest.mark.parametrize("peer", [K2, FAST_RNNT_1_3], ids=["k2", "fast_rnnt_1.3"])
@pytest.mark.parametrize("name", sorted(K2))
def test_signature_agrees(peer, name):
    ours = _ours(name)
    theirs = peer[name]
    # Positionally: the arguments both peers have at the same place are ours at that place.
    common = 0
    while common < min(len(K2[name]), len(FAST_RNNT_1_3[name])) and K2[name][common] == FAST_RNNT_1_3[name][common]:
        common += 1
    assert ours[:common] == theirs[:common]
    # By keyword: every argument of the peer exists with the same default (a peer's required
    # argument may have a default here).
    ours_by_name = dict(ours)
    for arg, default in theirs:
        assert arg in ours_by_name, f"{name} lacks the keyword {arg!r}"
        assert default is REQUIRED or ours_by_name[arg] == default, (name, arg, ours_by_name[arg], default)


def test_return_grad_of_the_full_and_pruned_losses_is_not_taken():
    for name, arg in NOT_TAKEN:
        assert arg not in inspect.signature(getattr(fast_rnnt, name)).parameters
        assert inspect.signature(getattr(fast_rnnt, name)).return_annotation is torch.Tensor


def test_every_public_function_is_compared():
    functions = {n for n in fast_rnnt.__all__ if inspect.isfunction(getattr(fast_rnnt, n))}
    # Ours only: the fused leaves, and the NeMo family (not in k2 or fast_rnnt 1.3).
    assert functions - set(K2) == {"arc_logprobs", "smoothed_arc_logprobs", "duration_arc_logprobs",
                                   "duration_lattice", "multiblank_rnnt_loss", "tdt_loss"}


def test_with_cuda_as_k2_bool_and_as_fast_rnnt_function():
    compiled = torch._C._dispatch_has_kernel_for_dispatch_key("fast_rnnt::mutual_information", "CUDA")
    flag = fast_rnnt.with_cuda
    # fast_rnnt 1.3: a function returning a bool.
    assert fast_rnnt.with_cuda() is compiled
    # k2: a bool.
    assert bool(flag) is compiled
    assert (flag == True) is compiled and (flag == False) is (not compiled)  # noqa: E712
    assert (not flag) is (not compiled)
    assert (True if flag else False) is compiled
    assert (torch.cuda.is_available() and flag) == (torch.cuda.is_available() and compiled)
    assert repr(flag) == str(flag) == str(compiled) and f"{flag}" == str(compiled)
    assert hash(flag) == hash(compiled) and {flag: 1}[compiled] == 1
    assert isinstance(flag, int) and int(flag) == int(compiled)


def test_get_rnnt_logprobs_joint_takes_boundary_before_rnnt_type():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 4, 5, generator=g, dtype=torch.float64)
    symbols = torch.randint(1, 5, (2, 3), generator=g)
    boundary = torch.tensor([[0, 0, 3, 4], [0, 0, 2, 3]])
    px, py = fast_rnnt.get_rnnt_logprobs_joint(logits, symbols, 0, boundary, "modified")
    px_kw, py_kw = fast_rnnt.get_rnnt_logprobs_joint(
        logits=logits, symbols=symbols, termination_symbol=0, rnnt_type="modified", boundary=boundary
    )
    assert px.shape == (2, 3, 4)
    torch.testing.assert_close((px, py), (px_kw, py_kw), rtol=0, atol=0)
