import math
import os
import pathlib
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from models import activations as A
from models.activations import Activation, ActSpec, draw_mask, stochastic_activation


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_p0_is_relu_and_p1_is_silu_on_negatives():
    x = torch.linspace(-4, 4, 1001)
    assert torch.equal(stochastic_activation(x, 0.0, generator=gen()), F.relu(x))
    y = stochastic_activation(x, 1.0, generator=gen())
    neg = x < 0
    # (vectorised SILU on a strided tensor may differ from a contiguous one in the last ulp)
    torch.testing.assert_close(y[neg], F.silu(x)[neg], rtol=1e-6, atol=0)
    assert torch.equal(y[~neg], x[~neg])  # neg mode: identity for x >= 0
    torch.testing.assert_close(stochastic_activation(x, 1.0, mode="full", generator=gen()), F.silu(x),
                               rtol=1e-6, atol=0)


def test_silu_branch_rate_within_4_standard_errors():
    n, p = 10**6, 0.7
    x = -torch.rand(n) - 0.1  # all negative: SILU branch gives a non-zero value, RELU gives 0
    y = stochastic_activation(x, p, generator=gen(1))
    rate = (y != 0).float().mean().item()
    se = math.sqrt(p * (1 - p) / n)
    assert abs(rate - p) < 4 * se


def test_same_seed_same_mask_and_fresh_draw_each_call():
    x = torch.randn(64, 32)
    a = stochastic_activation(x, 0.5, generator=gen(3))
    b = stochastic_activation(x, 0.5, generator=gen(3))
    assert torch.equal(a, b)
    g = gen(3)
    c1, c2 = stochastic_activation(x, 0.5, generator=g), stochastic_activation(x, 0.5, generator=g)
    assert not torch.equal(c1, c2)


def test_gradient_on_negatives_nonzero_exactly_where_silu_drawn():
    x = (-torch.rand(500) * 3 - 0.05).requires_grad_()
    mask = draw_mask(x, 0.5, "element", gen(2))
    y = stochastic_activation(x, 0.5, mask=mask)
    y.sum().backward()
    assert torch.equal(x.grad != 0, mask)
    # and the gradient equals SILU's where SILU was drawn
    xs = x.detach().clone().requires_grad_()
    F.silu(xs).sum().backward()
    torch.testing.assert_close(x.grad[mask], xs.grad[mask])


def test_positive_side_gradient_is_one_in_neg_mode():
    x = (torch.rand(100) + 0.1).requires_grad_()
    stochastic_activation(x, 0.5, generator=gen()).sum().backward()
    assert torch.equal(x.grad, torch.ones(100))


def test_gradcheck_full_mode():
    x = torch.randn(20, dtype=torch.double, requires_grad=True)
    mask = draw_mask(x, 0.5, "element", gen(5))
    assert torch.autograd.gradcheck(lambda t: stochastic_activation(t, 0.5, "full", mask=mask), (x,))


@pytest.mark.parametrize("gran,shape", [("element", (4, 5, 6)), ("token", (4, 5, 1)), ("tensor", (1, 1, 1))])
def test_draw_shape_per_granularity(gran, shape):
    x = torch.randn(4, 5, 6)
    assert draw_mask(x, 0.5, gran, gen()).shape == shape
    # per-token draws: each token is wholly SILU or wholly RELU on its negatives
    if gran == "token":
        y = stochastic_activation(-x.abs() - 0.1, 0.5, granularity="token", generator=gen(7))
        nz = (y != 0)
        assert torch.all(nz.all(-1) | (~nz).all(-1))


@pytest.mark.parametrize("bad", [dict(p=-0.1), dict(p=1.01), dict(mode="half"), dict(granularity="row")])
def test_bad_parameters_rejected(bad):
    with pytest.raises(ValueError):
        stochastic_activation(torch.randn(3), **{"p": 0.5, **bad})


def test_spec_parse_roundtrip_and_errors():
    for s in ["relu", "silu", "gelu", "stocha:p=0.7", "stocha:p=0.3,mode=full,gran=token"]:
        assert str(ActSpec.parse(s)) == s
        assert ActSpec.from_dict(ActSpec.parse(s).to_dict()) == ActSpec.parse(s)
    for bad in ["tanh", "stocha", "stocha:p=2", "stocha:p=0.5,x=1", "relu:p=1"]:
        with pytest.raises(ValueError):
            ActSpec.parse(bad)
    assert ActSpec.parse("relu").sparse and ActSpec.parse("stocha:p=0").sparse
    assert not ActSpec.parse("silu").sparse


def test_activation_module_switches_at_run_time():
    act = Activation("silu", gen())
    x = torch.randn(10)
    torch.testing.assert_close(act(x), F.silu(x))
    act.spec = ActSpec.parse("relu")
    assert torch.equal(act(x), F.relu(x))
    act.spec = ActSpec.parse("gelu")
    torch.testing.assert_close(act(x), F.gelu(x))


# ---- counter-based draws, fused kernel vs PyTorch path ------------------------------------------------
needs_kernel = pytest.mark.skipif(not A.kernel_available(), reason=f"kernel not built: {A.kernel_error()}")


def _reference_hash(seed: int, i: int) -> int:
    """splitmix64's finaliser in plain Python integers: the documented draw, independent of both paths."""
    m = (1 << 64) - 1
    z = (seed + (i >> 1) * 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    z ^= z >> 31
    return (z >> 32) if i & 1 else (z & 0xFFFFFFFF)


def test_torch_hash_matches_the_documented_formula():
    seed = 2**61 + 12345
    got = A.hash_draws(seed, 37).tolist()
    assert got == [_reference_hash(seed, i) for i in range(37)]
    assert all(0 <= v < 2**32 for v in got)
    assert A.draw_threshold(0.0) == 0 and A.draw_threshold(1.0) == 2**32
    assert A.draw_threshold(0.5) == 2**31


@needs_kernel
def test_kernel_draws_are_bitwise_the_torch_draws():
    lib = A.load_kernel()
    for seed in (0, 1, 2**62 - 1, 987654321987):
        for p in (0.1, 0.5, 0.7):
            thr = A.draw_threshold(p)
            assert torch.equal(A._draws_kernel(lib, seed, thr, 10_001), A._draws_torch(seed, thr, 10_001, "cpu"))


def _x_clear(shape, seed=0):
    """Values where the SILU and RELU branches differ clearly (|x| >= 0.05), so the branch is readable."""
    g = gen(seed)
    x = torch.rand(shape, generator=g) * 4 + 0.05
    return torch.where(torch.rand(shape, generator=g) < 0.5, -x, x)


def _branch_is_silu(y, x):
    return (y - F.silu(x)).abs() < (y - F.relu(x)).abs()


@needs_kernel
@pytest.mark.parametrize("mode", ["neg", "full"])
@pytest.mark.parametrize("gran", ["element", "token", "tensor"])
def test_kernel_matches_torch_path(monkeypatch, mode, gran):
    x = _x_clear((6, 7, 33))
    g = torch.randn(6, 7, 33, generator=gen(9))

    def run(kernel: bool):
        if not kernel:
            monkeypatch.setattr(A, "_kernel_for", lambda t: None)
        xx = x.clone().requires_grad_()
        y = stochastic_activation(xx, 0.6, mode, gran, generator=gen(11))
        y.backward(g)
        monkeypatch.undo()
        return y.detach(), xx.grad

    yk, gk = run(True)
    yt, gt = run(False)
    assert torch.equal(_branch_is_silu(yk, x), _branch_is_silu(yt, x))  # the same draws, exactly
    torch.testing.assert_close(yk, yt, rtol=1e-6, atol=1e-7)  # own exp(): a few ulp, not bitwise
    torch.testing.assert_close(gk, gt, rtol=1e-6, atol=1e-7)
    relu_pos = (x > 0) & (~_branch_is_silu(yk, x) if mode == "full" else True)
    assert torch.equal(yk[relu_pos], x[relu_pos])  # RELU's positive side is exactly the identity
    # and the draws are the ones draw_mask gives from the same generator state
    sel = draw_mask(x, 0.6, gran, gen(11))
    expect = sel.expand_as(x) if mode == "full" else sel.expand_as(x) & (x < 0)
    assert torch.equal(_branch_is_silu(yk, x), expect)


@needs_kernel
def test_kernel_bf16_matches_torch_path(monkeypatch):
    x = _x_clear((4, 64), seed=3).bfloat16().requires_grad_()
    yk = stochastic_activation(x, 0.5, generator=gen(2))
    yk.sum().backward()
    gk, x.grad = x.grad, None
    monkeypatch.setattr(A, "_kernel_for", lambda t: None)
    yt = stochastic_activation(x, 0.5, generator=gen(2))
    yt.sum().backward()
    assert yk.dtype == torch.bfloat16 and gk.dtype == torch.bfloat16
    torch.testing.assert_close(yk, yt, rtol=1e-2, atol=1e-3)  # one bf16 rounding apart at most
    torch.testing.assert_close(gk, x.grad, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.7])
@pytest.mark.parametrize("path", ["kernel", "torch"])
def test_rate_within_4_se_both_paths(monkeypatch, p, path):
    if path == "kernel" and not A.kernel_available():
        pytest.skip(f"kernel not built: {A.kernel_error()}")
    if path == "torch":
        monkeypatch.setattr(A, "_kernel_for", lambda t: None)
    n = 10**6
    x = -torch.rand(n, generator=gen(4)) - 0.1
    rate = (stochastic_activation(x, p, generator=gen(5)) != 0).double().mean().item()
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_token_granularity_draws_per_row_at_rate():
    x = -torch.rand(4000, 16, generator=gen(6)) - 0.1
    y = stochastic_activation(x, 0.3, granularity="token", generator=gen(8))
    nz = y != 0
    assert torch.all(nz.all(-1) | (~nz).all(-1))  # whole rows
    rate = nz.all(-1).double().mean().item()
    assert abs(rate - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 4000)


def test_one_seed_per_call_from_the_generator():
    g = gen(21)
    x = torch.randn(100)
    stochastic_activation(x, 0.5, generator=g)
    expected = torch.Generator().manual_seed(21)
    torch.randint(0, 2**62, (1,), generator=expected)
    assert torch.equal(g.get_state(), expected.get_state())
    stochastic_activation(x, 0.0, generator=g)  # p = 0 or 1: nothing random, the generator is untouched
    stochastic_activation(x, 1.0, generator=g)
    assert torch.equal(g.get_state(), expected.get_state())


def test_noncontiguous_input_uses_the_same_draws():
    x = _x_clear((8, 10)).t()  # (10, 8), not contiguous: the PyTorch path
    a = stochastic_activation(x, 0.5, generator=gen(1))
    b = stochastic_activation(x.contiguous(), 0.5, generator=gen(1))
    assert torch.equal(_branch_is_silu(a, x), _branch_is_silu(b, x))
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_kernel_switch_off_runs_the_torch_path():
    code = ("import torch; from models import activations as A; "
            "x = torch.randn(50, requires_grad=True); y = A.stochastic_activation(x, 0.5, "
            "generator=torch.Generator().manual_seed(0)); y.sum().backward(); "
            "print(A.kernel_error(), int(x.grad.shape[0]))")
    env = {**os.environ, "SPARSEBENCH_KERNEL": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=str(pathlib.Path(__file__).parents[1]))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "disabled by SPARSEBENCH_KERNEL=0 50"


@needs_kernel
def test_kernel_threads_do_not_change_the_result():
    x = _x_clear((300, 700)).requires_grad_()  # 210k elements: several chunks per thread
    out = []
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            y = stochastic_activation(x, 0.5, "full", generator=gen(3))
            y.backward(torch.ones_like(y))
            out.append((y.detach(), x.grad))
            x.grad = None
    finally:
        torch.set_num_threads(old)
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
