"""The sparse FFN path computes what the dense one does (kernel and PyTorch paths, fp32 and bf16)."""

import pytest
import torch

from harness.profiling.ffn import ffn_config, make_blocks, neuron_rates
from models import sparse as sp
from models.llama import KVCache, ModelConfig, Transformer
from models.registry import DEFAULT_VARIANTS, build_model, get_variant

PATHS = ["kernel", "torch"]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    if request.param == "kernel":
        if not sp.kernel_available():
            pytest.skip(f"kernel not built here: {sp.kernel_error()}")
    else:
        monkeypatch.setattr(sp, "load_kernel", lambda build=True: None)
    return request.param


def _ffn(d=96, sparsity=0.9, dtype=torch.float32, seed=0, ffn=None):
    cfg = ffn_config(d, ffn or 3 * d)
    return make_blocks(cfg, neuron_rates(cfg.ffn_dim, sparsity), dtype, 1, seed=seed)[0]


def _x(batch, d, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, d, generator=g)
    x[..., -1] = 1.0  # the gate's bias column (see harness.profiling.ffn)
    return x.to(dtype)


def _dense(ff, x):
    ff.sparse_forward = None
    with torch.no_grad():
        return ff(x)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 3e-2)])
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("d,ffn", [(96, None), (1032, 3097)])  # past 1024, ragged tails, odd FFN width
def test_sparse_equals_dense(path, dtype, tol, batch, d, ffn):
    ff = _ffn(d=d, dtype=dtype, ffn=ffn)
    x = _x(batch, d, dtype)
    with torch.no_grad():
        h = torch.relu(torch.nn.functional.linear(x.float(), ff.w1.weight.float()))
        union = (h.reshape(batch, -1) != 0).any(0).float().mean().item()
        assert union <= sp.MAX_DENSITY_UNION  # the union path really runs (not the dense fallback)
        assert (h == 0).float().mean() > 0.8
        ref = _dense(ff, x).float()
        out = sp.sparse_ffn(ff, x)
    assert out.dtype == dtype and out.shape == x.shape
    scale = ref.abs().max()
    assert (out.float() - ref).abs().max() <= tol * scale


def _reference(ff, x):
    """The gated RELU FFN in fp32 from the weights themselves (works for mixed weight dtypes too)."""
    x2 = x.reshape(-1, x.shape[-1]).float()
    h = torch.relu(x2 @ ff.w1.weight.float().t()) * (x2 @ ff.w3.weight.float().t())
    return h @ ff.w2.weight.float().t()


def test_mixed_weight_dtypes_fail_loudly(path):
    """The kernel reads all weights with one element size: a W2 of another dtype than W1/W3 used to be read
    as if it had theirs (only W1 and W3 were checked), a silently wrong output. Now such an FFN never
    reaches the kernel, and the PyTorch path refuses mixed dtypes as torch's dense FFN does."""
    ff = _ffn(d=96)
    ff.w2.weight.data = ff.w2.weight.data.to(torch.bfloat16)
    with torch.no_grad(), pytest.raises(RuntimeError):
        sp.sparse_ffn(ff, _x(1, 96, torch.float32))


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 1e-2)])
@pytest.mark.parametrize("d,batch", [(96, 1), (1032, 1), (1032, 3)])
def test_fused_dense_baseline_is_exact(dtype, tol, d, batch):
    """The benchmarks' same-kernel dense baseline computes the dense FFN (every neuron, one call)."""
    lib = sp.load_kernel()
    if lib is None:
        pytest.skip(f"kernel not built here: {sp.kernel_error()}")
    ff = _ffn(d=d, dtype=dtype, sparsity=0.5, ffn=3 * d + 1)
    x = _x(batch, d, dtype).reshape(batch, d)
    with torch.no_grad():
        ref = _reference(ff, x)
        out = sp.kernel_dense_ffn(lib, ff, x, 2)
    assert out.shape == (batch, d) and (out - ref).abs().max() <= tol * ref.abs().max()


def test_dense_fallback_when_union_is_wide(path):
    ff = _ffn(sparsity=0.3)
    x = _x(8, 96, torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(sp.sparse_ffn(ff, x), _dense(ff, x), atol=1e-5, rtol=1e-4)


def test_plain_ffn_and_all_zero_activation(path):
    cfg = ModelConfig(dim=32, n_layers=1, n_heads=2, ffn_dim=80, ffn_type="plain")
    torch.manual_seed(0)
    m = Transformer(cfg, "relu").eval()
    ff = m.layers[0].feed_forward
    x = torch.randn(1, 1, 32)
    with torch.no_grad():
        torch.testing.assert_close(sp.sparse_ffn(ff, x), _dense(ff, x), atol=1e-5, rtol=1e-4)
        ff.w1.weight.zero_()  # every activation exactly 0 → output exactly 0
        assert torch.equal(sp.sparse_ffn(ff, x), torch.zeros_like(x))


def test_w2t_cache_follows_weight_updates(path):
    ff = _ffn()
    x = _x(1, 96, torch.float32)
    with torch.no_grad():
        before = sp.sparse_ffn(ff, x)
        ff.w2.weight.mul_(2.0)  # in place: same storage, bumped version counter
        after = sp.sparse_ffn(ff, x)
    torch.testing.assert_close(after, 2 * before, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(after, _dense(ff, x), atol=1e-5, rtol=1e-4)


def test_act_hook_fires_and_grad_mode_uses_dense():
    m = build_model("tiny", "relu").eval()
    sp.enable_sparse(m, policy="always")
    seen = []
    m.layers[0].feed_forward.act.register_forward_hook(lambda mod, i, o: seen.append(o.shape))
    calls = []
    real = sp.sparse_ffn
    for layer in m.layers:
        layer.feed_forward.sparse_forward = lambda ff, x: (calls.append(1), real(ff, x))[1]
    tok = torch.randint(0, 264, (1, 5))
    with torch.no_grad():
        m(tok)
    assert seen == [(5, 172)] and len(calls) == 2  # hooked through the sparse path, once per layer
    m(tok).sum().backward()  # grad enabled: the dense path runs (and gradients flow)
    assert len(calls) == 2 and m.layers[0].feed_forward.w2.weight.grad is not None
    sp.enable_sparse(m, False)
    assert not sp.sparse_enabled(m)


@pytest.mark.parametrize("name", [n for n in DEFAULT_VARIANTS if get_variant(n).inference_act.sparse])
def test_every_relu_inference_recipe_decodes_the_same(name):
    var = get_variant(name)
    m = build_model("tiny", var, seed=1).eval()
    m.set_activation(var.inference_act)
    tok = torch.randint(0, 264, (2, 12), generator=torch.Generator().manual_seed(0))
    outs = []
    for on in (False, True):
        sp.enable_sparse(m, on, policy="always")
        with torch.no_grad():
            cache = KVCache(m.cfg, batch=1)
            steps = [m(tok[:1, :4], cache=cache)] + [m(tok[:1, t:t + 1], cache=cache) for t in range(4, 12)]
            outs.append((torch.cat(steps, 1), m(tok)))
    torch.testing.assert_close(outs[1][0], outs[0][0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(outs[1][1], outs[0][1], atol=1e-5, rtol=1e-4)


def test_ideal_and_bytes():
    assert sp.ideal_speedup(0.9) == pytest.approx(2.5)
    assert sp.ideal_speedup(0.5) == pytest.approx(1.5)
    dense, sparse = sp.ffn_bytes(10, 20, 0.9)
    assert dense == 3 * 10 * 20 * 4 and sparse == int(10 * 20 * 4 * 1.2)


def test_enable_sparse_rejects_a_model_without_ffn():
    with pytest.raises(ValueError, match="no FeedForward"):
        sp.enable_sparse(torch.nn.Linear(2, 2))


def test_kernel_thread_pool_matches_single_thread():
    if not sp.kernel_available():
        pytest.skip(f"kernel not built here: {sp.kernel_error()}")
    cfg = ffn_config(64, 1024)
    ff = make_blocks(cfg, neuron_rates(1024, 0.5), torch.float32, 1)[0]  # ~512 active: several chunks
    x = _x(1, 64, torch.float32)
    with torch.no_grad():
        one = sp.sparse_ffn(ff, x)
        torch.set_num_threads(2)
        try:
            two = [sp.sparse_ffn(ff, x) for _ in range(20)]  # the pool is reused across calls
        finally:
            torch.set_num_threads(1)
    for t in two:
        torch.testing.assert_close(t, one, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(one, _dense(ff, x), atol=1e-5, rtol=1e-4)
