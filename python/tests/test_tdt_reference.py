"""The TDT and multi-blank references (tdt_reference.py) against hand-computed lattices, against
the sum over every walk, against this package's rnnt_loss, and their FastEmit gradients against
the closed form of NeMo's kernels."""

import math

import pytest
import torch

import fast_rnnt
import tdt_reference as R

REDUCTIONS = ("none", "mean", "sum")
DURATION_SETS = ([0, 1], [0, 1, 2], [0, 1, 2, 3, 4])
BIG_BLANK_SETS = ([], [2], [3, 2])


def random_batch(seed, extra, B=3, S=3, T=5, C=7):
    """logits (B, T, S+1, C + extra) float64 leaf; symbols (B, S) in [1, C - 3), so that 0 or
    C - 1 can be the blank and C - 2, C - 3 big blanks; boundary rows: full, ragged, offset."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, S + 1, C + extra, generator=g, dtype=torch.float64).requires_grad_()
    symbols = torch.randint(1, C - 3, (B, S), generator=g)
    boundary = torch.tensor([[0, 0, S, T], [0, 0, S - 1, T - 2], [1, 1, S, T - 1]][:B])
    return logits, symbols, boundary


def value_and_grad(fn, logits):
    loss = fn()
    (grad,) = torch.autograd.grad(loss, logits)
    return loss.detach(), grad


# ---- hand-computed lattices -----------------------------------------------------------------


@pytest.mark.parametrize("logprob", [R.lattice_logprob, R.brute_force_logprob])
def test_tdt_hand_lattice(logprob):
    logits, symbols, blank, durations, walks, loss = R.hand_tdt_case()
    assert R.num_walks(R.tdt_arcs(R.tdt_rows(logits[0], 3, 0.0), symbols[0], blank, durations), (0, 0, 1, 2)) == walks
    got = R.tdt_loss_reference(logits, symbols, blank, durations, logprob=logprob)
    assert got.item() == pytest.approx(loss, abs=1e-12)
    got = R.tdt_loss_reference(logits, symbols, blank, durations, sigma=0.5, logprob=logprob)
    assert got.item() == pytest.approx(R.hand_tdt_sigma_loss(0.5), abs=1e-12)
    assert R.hand_tdt_sigma_loss(0.0) == pytest.approx(loss, abs=1e-12)


@pytest.mark.parametrize("logprob", [R.lattice_logprob, R.brute_force_logprob])
def test_multiblank_hand_lattice(logprob):
    logits, symbols, blank, big_blanks, walks, loss = R.hand_multiblank_case()
    lp = R.multiblank_rows(logits[0], 0.0)
    assert R.num_walks(R.multiblank_arcs(lp, symbols[0], blank, big_blanks), (0, 0, 1, 3)) == walks
    got = R.multiblank_rnnt_loss_reference(logits, symbols, blank, big_blanks, logprob=logprob)
    assert got.item() == pytest.approx(loss, abs=1e-12)


def test_tdt_walk_counts():
    """Walk counts of small TDT lattices, counted by hand: T=1 (only blank/1 at the end, after
    all S symbols of duration 0): 1 walk for any S. S=0, durations [0, 1]: 1 walk (T blanks);
    durations [0, 1, 2], S=0: compositions of T into 1s and 2s, Fibonacci: T=4 -> 5."""
    zero = lambda t, s: (torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))  # noqa: E731
    sym = torch.tensor([1, 1, 1])
    assert R.num_walks(R.tdt_arcs(zero, sym, 0, [0, 1, 2]), (0, 0, 3, 1)) == 1
    assert R.num_walks(R.tdt_arcs(zero, sym, 0, [0, 1]), (0, 0, 0, 4)) == 1
    assert R.num_walks(R.tdt_arcs(zero, sym, 0, [0, 1, 2]), (0, 0, 0, 4)) == 5
    # S=1, T=2, [0, 1, 2]: the 4 walks of hand_tdt_case.
    assert R.num_walks(R.tdt_arcs(zero, sym, 0, [0, 1, 2]), (0, 0, 1, 2)) == 4


# ---- the recursion against every walk -------------------------------------------------------


@pytest.mark.parametrize("durations", DURATION_SETS)
@pytest.mark.parametrize("seed", [0, 1])
def test_tdt_recursion_equals_brute_force(durations, seed):
    logits, symbols, boundary = random_batch(seed, len(durations), S=2, T=4)
    for sigma, lam in [(0.0, 0.0), (0.3, 0.0), (0.1, 0.5)]:
        args = (symbols, 0, durations, boundary, sigma, 0.0, lam, "none")
        loss, grad = value_and_grad(lambda: R.tdt_loss_reference(logits, *args).sum(), logits)
        loss_bf, grad_bf = value_and_grad(
            lambda: R.tdt_loss_reference(logits, *args, logprob=R.brute_force_logprob).sum(), logits)
        torch.testing.assert_close(loss, loss_bf, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, grad_bf, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("big_blanks", BIG_BLANK_SETS)
@pytest.mark.parametrize("seed", [0, 1])
def test_multiblank_recursion_equals_brute_force(big_blanks, seed):
    logits, symbols, boundary = random_batch(seed, 0, S=2, T=5)
    for sigma, lam in [(0.0, 0.0), (0.2, 0.0), (0.1, 0.7)]:
        args = (symbols, 6, big_blanks, boundary, sigma, lam, "none")
        loss, grad = value_and_grad(lambda: R.multiblank_rnnt_loss_reference(logits, *args).sum(), logits)
        loss_bf, grad_bf = value_and_grad(
            lambda: R.multiblank_rnnt_loss_reference(logits, *args, logprob=R.brute_force_logprob).sum(), logits)
        torch.testing.assert_close(loss, loss_bf, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad, grad_bf, rtol=1e-10, atol=1e-12)


def test_tdt_probabilities_of_a_frame_sum_to_one():
    """S=0: every walk is blanks only, and with T=1 the single walk is blank/1: loss is
    -(log P(blank) + log P(d=1)); with sigma the token term drops by sigma."""
    logits, _, _ = random_batch(3, 3, B=1, S=1, T=1)
    symbols = torch.tensor([[1]])
    boundary = torch.tensor([[0, 0, 0, 1]])
    x = logits[0, 0, 0].detach()
    expected = -(x[:7].log_softmax(0)[0] + x[7:].log_softmax(0)[1])
    for sigma in (0.0, 0.4):
        got = R.tdt_loss_reference(logits, symbols, 0, [0, 1, 2], boundary, sigma=sigma)
        assert got.item() == pytest.approx(expected.item() + sigma, abs=1e-12)


# ---- against this package's rnnt_loss -------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multiblank_without_big_blanks_is_rnnt_loss(reduction, seed):
    logits, symbols, boundary = random_batch(seed, 0, S=3, T=6)
    for blank in (0, 6):
        for bd in (None, boundary):
            ref, ref_grad = value_and_grad(
                lambda: R.multiblank_rnnt_loss_reference(logits, symbols, blank, [], bd, reduction=reduction).sum(), logits)
            ours, grad = value_and_grad(
                lambda: fast_rnnt.rnnt_loss(logits, symbols, blank, bd, reduction=reduction).sum(), logits)
            torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-10)


def test_tdt_omega_one_is_rnnt_loss_on_the_token_logits():
    """omega = 1: every draw picks NeMo's RNN-T branch: rnnt_loss over the C token logits, no
    sigma, durations ignored (zero gradient)."""
    logits, symbols, boundary = random_batch(4, 3, S=3, T=6)
    loss, grad = value_and_grad(
        lambda: R.tdt_loss_reference(logits, symbols, 0, [0, 1, 2], boundary, sigma=0.3, omega=1.0, reduction="sum"),
        logits)
    expected, expected_grad = value_and_grad(
        lambda: fast_rnnt.rnnt_loss(logits[..., :7], symbols, 0, boundary, reduction="sum"), logits)
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-10)
    assert torch.all(grad[..., 7:] == 0)


def test_tdt_omega_follows_one_draw_of_the_default_generator():
    logits, symbols, boundary = random_batch(5, 3, S=2, T=4)
    args = (symbols, 0, [0, 1, 2], boundary, 0.0)
    tdt = R.tdt_loss_reference(logits, *args, omega=0.0)
    rnnt = R.tdt_loss_reference(logits, *args, omega=1.0)
    assert not torch.allclose(tdt, rnnt)
    picked = set()
    for seed in range(8):
        torch.manual_seed(seed)
        r = torch.rand((), dtype=torch.float64).item()
        torch.manual_seed(seed)
        got = R.tdt_loss_reference(logits, *args, omega=0.5)
        torch.testing.assert_close(got, rnnt if r < 0.5 else tdt, rtol=0, atol=0)
        picked.add(r < 0.5)
    assert picked == {True, False}
    state = torch.get_rng_state()
    R.tdt_loss_reference(logits, *args, omega=0.0)
    assert torch.equal(torch.get_rng_state(), state), "omega = 0 must not draw"


# ---- boundary, reduction, padding -----------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_reductions(reduction):
    logits, symbols, boundary = random_batch(6, 3, S=2, T=4)
    per_seq = R.tdt_loss_reference(logits, symbols, 0, [0, 1, 2], boundary, reduction="none")
    got = R.tdt_loss_reference(logits, symbols, 0, [0, 1, 2], boundary, reduction=reduction)
    expected = {"none": per_seq, "sum": per_seq.sum(), "mean": per_seq.mean()}[reduction]
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert got.dtype == torch.float64


def test_padding_beyond_boundary_changes_nothing():
    """Logits outside each row's [t_begin, t_end) x [s_begin, s_end] and symbols outside
    [s_begin, s_end) are never read."""
    logits, symbols, boundary = random_batch(7, 3, S=3, T=6)
    tdt = R.tdt_loss_reference(logits, symbols, 0, [0, 1, 2], boundary, reduction="none")
    mb = R.multiblank_rnnt_loss_reference(logits, symbols, 7, [2, 3], boundary, reduction="none")
    noisy, noisy_symbols = logits.detach().clone(), symbols.clone()
    for b, (s0, t0, s1, t1) in enumerate(boundary.tolist()):
        inside = torch.zeros(logits.shape[1:3], dtype=torch.bool)
        inside[t0:t1, s0 : s1 + 1] = True
        noisy[b][~inside] = 1e3
        noisy_symbols[b, :s0] = 2
        noisy_symbols[b, s1:] = 2
    torch.testing.assert_close(R.tdt_loss_reference(noisy, noisy_symbols, 0, [0, 1, 2], boundary, reduction="none"), tdt.detach())
    torch.testing.assert_close(R.multiblank_rnnt_loss_reference(noisy, noisy_symbols, 7, [2, 3], boundary, reduction="none"),
                               mb.detach())


def test_no_walk_is_inf():
    logits, symbols, _ = random_batch(8, 3, B=1, S=2, T=3)
    empty = torch.tensor([[0, 2, 2, 2]])  # t_begin = t_end: no frame for the final blank
    assert R.tdt_loss_reference(logits, symbols, 0, [0, 1], empty).item() == math.inf


# ---- FastEmit -------------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_fastemit_scales_only_symbol_arc_gradients(lam):
    """On leaf arc log-probs: the value is unchanged, the gradient of every symbol arc's token
    log-prob is (1 + lam) times lam = 0's, blank-token and duration gradients are unchanged."""
    g = torch.Generator().manual_seed(9)
    T, S, C, durations = 5, 3, 6, [0, 1, 2, 4]
    tok = torch.randn(T, S + 1, C, generator=g, dtype=torch.float64).log_softmax(-1).requires_grad_()
    dur = torch.randn(T, S + 1, len(durations), generator=g, dtype=torch.float64).log_softmax(-1).requires_grad_()
    symbols = torch.tensor([1, 3, 2])
    results = []
    for fastemit in (0.0, lam):
        arcs = R.tdt_arcs(lambda t, s: (tok[t, s], dur[t, s]), symbols, 0, durations, fastemit)
        logp = R.lattice_logprob(arcs, (0, 0, S, T))
        results.append((logp.item(), *torch.autograd.grad(-logp, [tok, dur])))
    (v0, tok0, dur0), (v1, tok1, dur1) = results
    assert v1 == v0
    torch.testing.assert_close(dur1, dur0, rtol=0, atol=0)
    is_symbol = torch.zeros(T, S + 1, C, dtype=torch.bool)
    for s in range(S):
        is_symbol[:, s, symbols[s]] = True
    torch.testing.assert_close(tok1[is_symbol], (1 + lam) * tok0[is_symbol], rtol=1e-14, atol=0)
    torch.testing.assert_close(tok1[~is_symbol], tok0[~is_symbol], rtol=0, atol=0)
    assert tok0[is_symbol].abs().min() > 0 and tok0[:, :, 0].abs().sum() > 0  # the test can fail


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_fastemit_logits_gradient_is_nemos_closed_form(lam):
    """d loss / d token logit k at node (t, s), with gamma_sym / gamma_blank the lam = 0
    occupancies of the node's symbol / blank arcs and p = softmax(token logits):
        p_k * (gamma_sym * (1 + lam) + gamma_blank) - (1 + lam) gamma_sym [k = symbol]
        - gamma_blank [k = blank],
    as NeMo's compute_tdt_grad_kernel writes it; duration logits as lam = 0."""
    logits, symbols, boundary = random_batch(10, 3, B=2, S=2, T=4, C=5)
    args = (symbols, 0, [0, 1, 2], boundary, 0.2)
    _, grad0 = value_and_grad(lambda: R.tdt_loss_reference(logits, *args, reduction="sum"), logits)
    _, grad = value_and_grad(lambda: R.tdt_loss_reference(logits, *args, fastemit_lambda=lam, reduction="sum"), logits)
    # lam = 0: g0 = -(gamma_sym e_sym + gamma_blank e_blank) + p (gamma_sym + gamma_blank), so a
    # token k that is neither the symbol nor the blank has g0_k = p_k (gamma_sym + gamma_blank).
    tok = logits[..., :5].detach()
    p = tok.softmax(-1)
    expected = torch.zeros_like(grad)
    for b, (s0, t0, s1, t1) in enumerate(boundary.tolist()):
        for t in range(t0, t1):
            for s in range(s0, s1 + 1):
                g0 = grad0[b, t, s, :5]
                k_sym = int(symbols[b, s]) if s < s1 else None
                others = [k for k in range(5) if k not in (0, k_sym)]
                total = (g0[others[0]] / p[b, t, s, others[0]]).item()
                gamma_blank = total * p[b, t, s, 0].item() - g0[0].item()
                gamma_sym = total - gamma_blank
                e = p[b, t, s] * (gamma_sym * (1 + lam) + gamma_blank)
                e[0] -= gamma_blank
                if k_sym is not None:
                    e[k_sym] -= (1 + lam) * gamma_sym
                expected[b, t, s, :5] = e
    expected[..., 5:] = grad0[..., 5:]
    torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-12)


# ---- the README's examples ------------------------------------------------------------------


def readme_section_examples(heading="### TDT, multi-blank and FastEmit"):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    return [block.split("```", 1)[0] for block in section.split("```python\n")[1:]]


@pytest.mark.skipif(not hasattr(fast_rnnt, "tdt_loss"), reason="tdt_loss not merged into this branch yet")
@pytest.mark.parametrize("index", range(3))
def test_readme_examples_run(index):
    blocks = readme_section_examples()
    assert len(blocks) == 3
    exec(compile(blocks[index], f"README.md TDT example {index}", "exec"), {})
