"""Profiler: exact statistics on hand-built activations, and the profile result schema."""

import pytest
import torch

from harness import results as R
from harness.infer import sparsity
from harness.profiling import decode, profile_run
from models.registry import build_model, get_variant


def test_layer_stats_on_hand_built_activations():
    s = sparsity._LayerStats(4)
    a = torch.tensor([[0.0, 1.0, 0.0, 5e-3],    # 2 zeros of 4
                      [0.0, 2.0, 0.0, 0.0],     # 3 zeros
                      [0.0, 0.5, 0.0, 2.0]])    # 2 zeros
    s.add(a, None)
    out = s.summary(0)
    assert out["tokens"] == 3
    assert out["sparsity"] == pytest.approx(7 / 12)
    assert out["token_sparsity_min"] == 0.5 and out["token_sparsity_max"] == 0.75
    assert out["dead_frac"] == 0.5            # neurons 0 and 2 never fire
    assert out["always_active_frac"] == 0.25  # neuron 1 always fires
    assert out["neuron_rates"] == [0.0, 1.0, 0.0, pytest.approx(2 / 3)]
    assert out["near_zero_frac"]["0.001"] == pytest.approx(7 / 12)
    assert out["near_zero_frac"]["0.01"] == pytest.approx(8 / 12)
    assert out["near_zero_frac"]["0.1"] == pytest.approx(8 / 12)


def test_layer_stats_respects_valid_mask():
    s = sparsity._LayerStats(2)
    s.add(torch.tensor([[[0.0, 1.0], [0.0, 0.0]]]), torch.tensor([[True, False]]))
    assert s.summary(0)["sparsity"] == 0.5 and s.summary(0)["tokens"] == 1


def test_profile_model_dead_neurons_and_flops():
    m = build_model("tiny", "relu", seed=0).eval()
    m.set_activation("relu")
    F = m.cfg.ffn_dim
    with torch.no_grad():
        for layer in m.layers:
            layer.feed_forward.w1.weight[: F // 2].zero_()  # half the neurons can never fire
    tok = torch.randint(0, 264, (3, 20), generator=torch.Generator().manual_seed(0))
    prof = sparsity.profile_model(m, tok, batch_size=2)
    assert prof["tokens"] == 60 and len(prof["layers"]) == 2
    for L in prof["layers"]:
        assert L["dead_frac"] >= 0.5 and L["sparsity"] >= 0.5
        assert L["token_sparsity_quantiles"]["p05"] >= 0.5
        assert L["always_active_frac"] <= 0.5
    fl = prof["flops"]
    s = [L["sparsity"] for L in prof["layers"]]
    d = m.cfg.dim
    assert fl["ffn_dense"] == 2 * 2 * d * F * 3
    assert fl["ffn_sparse"] == pytest.approx(sum(2 * d * F * (1 + 2 * (1 - x)) for x in s))
    assert 0 < fl["ffn_ratio"] < 1 and fl["model_ratio"] > fl["ffn_ratio"]
    assert not any(h for layer in m.layers for h in layer.feed_forward.act._forward_hooks.values())


def test_silu_has_no_exact_zeros_but_near_zeros():
    m = build_model("tiny", "silu").eval()
    prof = sparsity.profile_model(m, torch.randint(0, 264, (2, 16)))
    assert prof["sparsity"] == 0.0 and prof["dead_frac"] == 0.0
    nz = prof["near_zero_frac"]
    assert 0 < nz["0.001"] <= nz["0.01"] <= nz["0.1"] <= 1


@pytest.mark.parametrize("wins", [False, True])
def test_decode_benchmark_reports_the_chosen_path(monkeypatch, wins):
    """The sparse figure is what enable_sparse chose: the forced kernel where it wins, exactly the dense
    decoding (1.0, same code) where it kept dense; the forced kernel is reported either way."""
    from models import sparse_policy

    monkeypatch.setattr(sparse_policy, "measure", lambda ffs, s, fwd: (1.0, 0.5 if wins else 1.2))
    m = build_model("tiny", "relu").eval()
    m.set_activation("relu")
    r = decode.decode_benchmark(m, torch.randint(0, 264, (1, 8)), n_new=4, repeats=1, sparsity=0.9)
    assert r["tokens"] == 4 and r["tokens_per_s_dense"] > 0 and r["tokens_per_s_kernel"] > 0
    assert r["path"] == ("sparse" if wins else "dense") and "sparsity 0.90" in r["reason"]
    assert r["speedup_kernel"] == pytest.approx(r["tokens_per_s_kernel"] / r["tokens_per_s_dense"])
    if wins:
        assert r["tokens_per_s_sparse"] == r["tokens_per_s_kernel"]
    else:
        assert r["speedup"] == 1.0 and "does not win" in r["reason"]
    assert not any(layer.feed_forward.sparse_forward for layer in m.layers)  # left dense afterwards


@pytest.fixture
def fake_trainer(monkeypatch, tmp_path):
    """Stand-ins for the trainer's modules: a tiny untrained model as the 'checkpoint'."""
    calls = {"train": 0}

    def ensure_trained(scale, model, seed=0, steps=None):
        calls["train"] += 1
        return tmp_path / "run"

    def load_for_inference(run_dir, device="cpu"):
        var = get_variant("swi-ft-a0.1")
        m = build_model("tiny", var, seed=0).eval()
        m.set_activation(var.inference_act)
        return m, {"variant": var, "scale": "tiny", "seed": 0, "step": 60, "checkpoint": str(run_dir / "ckpt"),
                   "config": m.cfg.to_dict(), "tokenizer": {}}

    def validation_tokens(n_seqs, seq_len, seed=0, tokenizer=None):
        return torch.randint(0, 256, (n_seqs, seq_len), generator=torch.Generator().manual_seed(seed))

    for name, fake in {"ensure_trained": ensure_trained, "load_for_inference": load_for_inference,
                       "final_checkpoint": lambda run_dir: None, "sidecar_sha256": lambda path: None,
                       "validation_tokens": validation_tokens}.items():
        monkeypatch.setattr(profile_run, name, fake)
    return calls


def test_run_profile_writes_a_result_and_skips_when_done(out_dir, fake_trainer):
    kw = dict(n_seqs=4, seq_len=32, decode_tokens=4, widths=(64,),
              bench_kw=dict(min_bytes=1e5, kv_len=8, bandwidth_bytes=1 << 20))
    path = profile_run.run_profile("tiny", "swi-ft-a0.1", seed=0, **kw)
    assert path == R.result_path("tiny", "swi-ft-a0.1", 0, "profile")
    res = R.read_result(path)
    assert res["kind"] == "profile" and res["suite"]["name"] == "profile" and R.is_complete(res)
    assert res["run"]["model"] == "swi-ft-a0.1" and res["run"]["eval_act"] == "relu"
    names = {m["name"] for m in res["metrics"]}
    assert {"sparsity", "dead_frac", "always_active_frac", "flops_ratio", "decode_speedup", "decode_speedup_kernel",
            "ffn_speedup",
            "near_zero_frac", "token_sparsity"} <= names
    per_layer = [m for m in res["metrics"] if m["name"] == "sparsity" and "layer" in m]
    overall = next(m for m in res["metrics"] if m["name"] == "sparsity" and "layer" not in m)
    assert [m["layer"] for m in per_layer] == [0, 1]
    assert overall["value"] == pytest.approx(sum(m["value"] for m in per_layer) / 2)
    assert 0 < overall["value"] < 1 and res["widths"][0]["d"] == 64
    assert res["provenance"]["threads"] == 1 and res["provenance"]["cpu"]
    mtime = path.stat().st_mtime_ns
    assert profile_run.run_profile("tiny", "swi-ft-a0.1", seed=0, **kw) == path and path.stat().st_mtime_ns == mtime
    assert fake_trainer["train"] == 1  # done: not even the checkpoint is looked at again
    profile_run.run_profile("tiny", "swi-ft-a0.1", seed=0, force=True, **kw)
    assert path.stat().st_mtime_ns != mtime


def test_cli_rejects_unknown_model(capsys):
    from harness.__main__ import main

    assert main(["profile", "--model", "nope"]) == 2
    assert "unknown model" in capsys.readouterr().err
