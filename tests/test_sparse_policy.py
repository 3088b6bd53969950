"""enable_sparse's auto policy: the sparse path only where it is measured to win, cached per machine."""

import json

import pytest
import torch

from models import sparse as sp
from models import sparse_policy as pol
from models.activations import Activation
from models.config import ModelConfig
from models.llama import FeedForward, Transformer
from models.registry import build_model


def _model(dim=32, layers=2):
    torch.manual_seed(0)
    cfg = ModelConfig(dim=dim, n_layers=layers, n_heads=2, ffn_dim=3 * dim, vocab_size=64, max_seq_len=32)
    return Transformer(cfg, "relu").eval()


def _fake_measure(monkeypatch, dense_ms, sparse_ms):
    calls = []
    monkeypatch.setattr(pol, "measure", lambda ffs, s, fwd: (calls.append((len(ffs), s)), (dense_ms, sparse_ms))[1])
    return calls


@pytest.mark.parametrize("sparse_ms,path", [(0.95, "dense"), (0.91, "dense"), (0.89, "sparse"), (0.5, "sparse")])
def test_sparse_only_when_it_wins_by_the_margin(monkeypatch, sparse_ms, path):
    m = _model()
    calls = _fake_measure(monkeypatch, 1.0, sparse_ms)
    sp.enable_sparse(m, sparsity=0.9)
    (d,) = sp.sparse_decisions(m)  # one FFN shape, one decision for both layers
    assert calls == [(2, 0.9)] and d["path"] == path and d["ffns"] == 2 and not d["cached"]
    assert all((lay.feed_forward.sparse_forward is sp.sparse_ffn) == (path == "sparse") for lay in m.layers)
    assert sp.sparse_enabled(m) == (path == "sparse")
    assert f"{1 / sparse_ms:.2f}x dense speed" in d["reason"] and "sparsity 0.90" in d["reason"]


def test_decision_is_cached_per_shape_threads_and_sparsity(monkeypatch, tmp_path):
    m = _model()
    calls = _fake_measure(monkeypatch, 1.0, 0.5)
    sp.enable_sparse(m, sparsity=0.9)
    sp.enable_sparse(m, sparsity=0.91)  # same 0.05 bucket: from the cache
    assert len(calls) == 1 and sp.sparse_decisions(m)[0]["cached"]
    assert "cached:" in sp.sparse_decisions(m)[0]["reason"]
    sp.enable_sparse(m, sparsity=0.6)  # another bucket
    sp.enable_sparse(m, sparsity=0.9, threads=2)  # another thread count
    sp.enable_sparse(_model(dim=48), sparsity=0.9)  # another shape
    assert len(calls) == 4
    data = json.loads(pol.cache_path().read_text())
    assert len(data) == 4 and all(v["path"] == "sparse" for v in data.values())
    pol.cache_path().write_text("{not json")  # a corrupt cache is measured again, never an error
    sp.enable_sparse(m, sparsity=0.9)
    assert len(calls) == 5 and not sp.sparse_decisions(m)[0]["cached"]


def test_always_off_and_bad_policy():
    m = _model()
    sp.enable_sparse(m, policy="always")
    assert sp.sparse_enabled(m) and sp.sparse_decisions(m)[0]["reason"] == "policy 'always'"
    with torch.no_grad():
        m(torch.zeros(1, 1, dtype=torch.long))  # one token: the gather runs and builds the W2ᵀ copies
    ff = m.layers[0].feed_forward
    sp.enable_sparse(m, False, release=False)  # a benchmark switching back and forth keeps them
    assert not sp.sparse_enabled(m) and "_sparse_w2t" in ff.__dict__
    sp.enable_sparse(m, False)
    assert not sp.sparse_enabled(m) and sp.sparse_decisions(m) == [] and "_sparse_w2t" not in ff.__dict__
    with pytest.raises(ValueError, match="unknown policy 'fast'; valid: auto, always"):
        sp.enable_sparse(m, policy="fast")
    with pytest.raises(ValueError, match=r"sparsity must be in \[0, 1\]"):
        sp.enable_sparse(m, sparsity=1.5)


def test_silu_model_is_left_dense_without_measuring(monkeypatch):
    m = build_model("tiny", "silu").eval()
    calls = _fake_measure(monkeypatch, 1.0, 0.1)
    sp.enable_sparse(m)
    assert calls == [] and "no exact zeros" in sp.sparse_decisions(m)[0]["reason"]


def test_masked_relu_has_exact_density():
    act = pol.MaskedRelu(Activation("relu").spec, 200, 0.1)
    g = torch.randn(1, 200)
    outs = [act(g) for _ in range(3)]
    assert all(int((o != 0).sum()) == 20 for o in outs)
    assert not torch.equal(outs[0] != 0, outs[1] != 0)  # a new pattern each call, as in decoding


def test_real_measurement_restores_the_ffns():
    m = _model(dim=64)
    ffs = [lay.feed_forward for lay in m.layers]
    acts = [ff.act for ff in ffs]
    dense_ms, sparse_ms = pol.measure(ffs, 0.9, sp.sparse_ffn, repeats=2, min_s=0.0)
    assert dense_ms > 0 and sparse_ms > 0
    assert [ff.act for ff in ffs] == acts and all(ff.sparse_forward is None for ff in ffs)
    d = pol.decide(ffs, 0.9, sp.sparse_ffn, sp.kernel_available())  # a real decision, written to the (per-test) cache
    assert d["path"] in ("dense", "sparse") and pol.cache_path().is_file()


def test_sample_sparsity_of_a_relu_and_a_silu_model():
    assert pol.sample_sparsity(build_model("tiny", "silu").eval()) == 0.0
    s = pol.sample_sparsity(_model())
    assert 0.3 < s < 0.7  # random weights: about half the gate is negative


def test_gate_bias_is_honoured_by_the_sparse_path():
    """The decode benchmark's random models steer sparsity with a gate bias: both paths must add it."""
    cfg = ModelConfig(dim=64, n_layers=1, n_heads=2, ffn_dim=160)
    torch.manual_seed(0)
    ff = FeedForward(cfg, Activation("relu"))
    ff.w1 = torch.nn.Linear(64, 160, bias=True)
    with torch.no_grad():
        ff.w1.bias.fill_(-1.0)
        x = torch.randn(1, 1, 64)
        dense = ff(x)
        ff.sparse_forward = sp.sparse_ffn
        sparse = ff(x)
        assert 0.8 < (ff.act(ff.w1(x)) == 0).float().mean() < 1  # the bias made it sparse, not empty
    torch.testing.assert_close(sparse, dense, atol=1e-5, rtol=1e-4)


def test_auto_on_a_bare_ffn_needs_the_sparsity(monkeypatch):
    ff = _model().layers[0].feed_forward
    with pytest.raises(ValueError, match="needs sparsity="):
        sp.enable_sparse(ff)
    calls = _fake_measure(monkeypatch, 1.0, 0.5)
    sp.enable_sparse(ff, sparsity=0.9)
    assert calls == [(1, 0.9)] and ff.sparse_forward is sp.sparse_ffn
