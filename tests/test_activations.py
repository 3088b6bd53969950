import math

import pytest
import torch
import torch.nn.functional as F

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
