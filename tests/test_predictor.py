"""Neuron predictors: the predicted path computes the FFN over the predicted neurons, on both of its
paths; training reaches its recall; the eval and the command line wire it in (never by default)."""

import pytest
import torch

from harness.__main__ import main
from harness.profiling import predictor as P
from harness.results import read_result, result_path
from models import sparse as sp
from models.config import ModelConfig
from models.llama import Transformer
from models.sparse_predictor import NeuronPredictor, load_predictors, save_predictors


def _model():
    torch.manual_seed(0)
    cfg = ModelConfig(dim=64, n_layers=2, n_heads=2, ffn_dim=160, vocab_size=64, max_seq_len=32)
    return Transformer(cfg, "relu").eval()


def _with_threshold(t):
    preds = [NeuronPredictor(64, 160, 4) for _ in range(2)]
    for p in preds:
        p.threshold.fill_(t)
    return preds


@pytest.mark.parametrize("kernel", [True, False])
def test_predicting_every_neuron_is_the_exact_ffn_and_none_is_zero(kernel, monkeypatch):
    if kernel and not sp.kernel_available():
        pytest.skip(sp.kernel_error())
    if not kernel:
        monkeypatch.setattr(sp, "load_kernel", lambda build=True: None)
    m = _model()
    ff = m.layers[0].feed_forward
    x = torch.randn(1, 1, 64)
    with torch.no_grad():
        dense = ff(x)
        sp.enable_sparse(m, predictor=_with_threshold(-1e9))
        torch.testing.assert_close(ff(x), dense, atol=1e-5, rtol=1e-4)
        assert sp.sparse_decisions(m)[0]["path"] == "predictor"
        sp.enable_sparse(m, predictor=_with_threshold(1e9))
        assert torch.equal(ff(x), torch.zeros_like(x))
    sp.enable_sparse(m, False)
    assert "predictor" not in ff.__dict__


def test_batch_one_and_batched_paths_agree():
    """Batch 1 reads only the predicted rows (kernel); a batch masks the dense gate: the same function."""
    m = _model()
    preds = [NeuronPredictor(64, 160, 4) for _ in range(2)]  # random: it drops some firing neurons
    sp.enable_sparse(m, predictor=preds)
    ff = m.layers[0].feed_forward
    x = torch.randn(3, 1, 64)
    with torch.no_grad():
        batched = ff(x)
        single = torch.cat([ff(x[i:i + 1]) for i in range(3)])
        sp.enable_sparse(m, policy="always")
        exact = ff(x)
    torch.testing.assert_close(single, batched, atol=1e-5, rtol=1e-4)
    assert (batched - exact).abs().max() > 1e-4  # and it is an approximation


def test_training_reaches_its_recall_on_a_learnable_pattern():
    torch.manual_seed(0)
    x = torch.randn(4000, 16)
    w = torch.randn(40, 16)
    y = (x @ w.t()) > 1.0  # firing is a linear function of x: a rank-16 predictor can learn it
    p = P.train_one(x[:3000], y[:3000], rank=16, recall=0.99, steps=300)
    s = P.score(p, x[3000:], y[3000:])
    assert s["recall"] > 0.95 and s["fp_rate"] < 0.3 and s["predicted_density"] < 0.6
    assert s["true_density"] == pytest.approx(y[3000:].float().mean().item())


def test_save_load_and_a_damaged_file(tmp_path):
    preds = _with_threshold(0.25)
    save_predictors(preds, tmp_path / "p.pt", {"rank": 4})
    back, meta = load_predictors(tmp_path / "p.pt")
    assert meta == {"rank": 4} and float(back[1].threshold) == 0.25
    torch.testing.assert_close(back[0].up.weight, preds[0].up.weight)
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="corrupt predictor file"):
        load_predictors(tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="1 predictors for 2 FFNs"):
        sp.enable_sparse(_model(), predictor=preds[:1])


def test_bench_predicted_fields():
    r = P.bench_predicted(d=64, sparsity=0.9, predicted_density=0.15, recall=0.99, rank=4, repeats=1, min_bytes=1e5)
    assert {"speedup_vs_dense", "speedup_vs_exact", "exact_speedup", "bound", "exact_bound", "llc_bytes"} <= set(r)
    kept = 0.99 * 0.1 * 170  # firing neurons the set keeps: their W3 and W2ᵀ rows are read
    assert r["bound"] == pytest.approx(3 * 64 * 170 / (64 * round(0.15 * 170) + 2 * 64 * kept + (64 + 170) * 4))


def test_command_then_eval_with_the_predictor(out_dir, capsys):
    from harness.train.config import TrainConfig
    from harness.train.trainer import train

    train(TrainConfig.create("tiny", "relu", steps=8), progress=False)
    assert main(["predictor", "--model", "relu", "--scale", "tiny", "--rank", "4", "--steps", "20",
                 "--no-bench"]) == 0
    out = capsys.readouterr().out
    assert "recall" in out and "--predictor" in out
    res = read_result(result_path("tiny", "relu", 0, "predictor"))
    assert res["kind"] == "predictor" and 0 < res["layers"][0]["recall"] <= 1
    assert main(["eval", "--model", "relu", "--scale", "tiny", "--suites", "syn_choice", "--limit", "4",
                 "--predictor", "--no-train"]) == 0
    ev = read_result(result_path("tiny", "relu", 0, "syn_choice").with_name("syn_choice.pred.json"))
    assert ev["run"]["predictor"]["rank"] == 4 and ev["run"]["eval_act_default"] is False
    train(TrainConfig.create("tiny", "silu", steps=8), progress=False)
    capsys.readouterr()
    assert main(["predictor", "--model", "silu", "--scale", "tiny", "--no-bench"]) == 2  # no zeros to predict
    assert "no exact zeros to predict" in capsys.readouterr().err
    assert main(["eval", "--model", "silu", "--scale", "tiny", "--suites", "syn_choice", "--predictor"]) == 2
    assert "no neuron predictor" in capsys.readouterr().err
