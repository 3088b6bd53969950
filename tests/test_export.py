"""Hugging Face interop, export side: the conversion both ways, the byte tokenizer for transformers, the
export command, and lm-eval's own `hf` model scoring an exported checkpoint as our lm-eval model does.

Tolerance: logits of our model and of transformers' LlamaForCausalLM on the same weights agree to
max |Δ| ≤ 1e-4 in fp32 (measured ~2e-6; the weights are scaled up so logits span several units).
"""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig

from harness.__main__ import main
from harness.data.tokenizer import ByteTokenizer, HFTokenizer, byte_hf_tokenizer
from harness.infer.lm_model import SparseBenchLM
from harness.interop.hf import config_from_hf, from_hf_llama, to_hf_llama
from harness.paths import run_dir
from harness.train import checkpoint
from models.registry import build_model, get_variant

ATOL = 1e-4
TEXTS = ["", "def f(x):\n    return x + 1\n", "héllo wörld 😀 λ\t\r\n", "<s> not a special token </s><pad>"]


def _scaled(model, factor=6.0):
    """N(0, 0.02) init gives near-uniform logits; larger weights make a wrong mapping show."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(factor)
    return model.eval()


@pytest.mark.parametrize("over", [
    {},
    {"n_kv_heads": 2, "tie_embeddings": True, "rope_theta": 5e5},
    {"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 32}},
    {"rope_scaling": {"rope_type": "linear", "factor": 4.0}},
], ids=["plain", "gqa-tied-theta", "llama3-rope", "linear-rope"])
def test_conversion_both_ways_same_logits(over):
    torch.manual_seed(0)
    ours = _scaled(build_model("tiny", "relu", act="relu", **over))
    hf = to_hf_llama(ours)
    assert hf.config.hidden_act == "relu"
    back = from_hf_llama(hf)
    assert back.cfg == ours.cfg and str(back.activation) == "relu"
    x = torch.randint(0, 256, (2, 100), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b, c = ours(x), hf(x).logits, back(x)
    assert a.abs().max() > 1.0  # the comparison is not between near-zero logits
    assert (a - b).abs().max() <= ATOL
    assert torch.equal(a, c)  # the inverse permutation restores the exact weights
    for k, v in ours.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    assert (back.output.weight is back.tok_embeddings.weight) == ours.cfg.tie_embeddings


def test_config_from_hf_refuses_what_it_cannot_run():
    base = dict(vocab_size=264, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4)
    cfg, act = config_from_hf(LlamaConfig(**base, hidden_act="silu", max_position_embeddings=4096), max_seq_len=512)
    assert act == "silu" and cfg.max_seq_len == 512 and cfg.n_kv_heads is None
    bad = [({"attention_bias": True}, "biases"), ({"mlp_bias": True}, "biases"),
           ({"hidden_act": "gelu_new"}, "unsupported hidden_act"),
           ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}},
            "unsupported RoPE scaling 'yarn'"),
           ({"head_dim": 32}, "head_dim 32")]
    for kw, msg in bad:
        with pytest.raises(ValueError, match=msg):
            config_from_hf(LlamaConfig(**{**base, **kw}))
    other = LlamaConfig(**base)
    other.model_type = "mistral"
    with pytest.raises(ValueError, match="only Llama-family"):
        config_from_hf(other)


def test_byte_tokenizer_for_transformers_has_our_ids(tmp_path):
    ours = ByteTokenizer()
    byte_hf_tokenizer().save_pretrained(str(tmp_path))
    hf = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)  # as a user loads it
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id, len(hf)) == (256, 257, 258, 264)
    wrapped = HFTokenizer(hf)
    for t in TEXTS:
        assert hf(t)["input_ids"] == ours.encode(t, bos=True)  # BOS by default, like our prompts
        assert hf.encode(t, add_special_tokens=False) == ours.encode(t)
        assert wrapped.encode(t, bos=True, eos=True) == ours.encode(t, bos=True, eos=True)
        assert hf.decode(ours.encode(t, bos=True, eos=True), skip_special_tokens=True) == t
        assert wrapped.decode(ours.encode(t, bos=True)) == ours.decode(ours.encode(t, bos=True)) == t


def _fake_run(name: str, seed: int = 0, **over):
    """A finished tiny run without training: a scaled random model saved as its final checkpoint."""
    var = get_variant(name)
    torch.manual_seed(seed)
    m = _scaled(build_model("tiny", var, seed=seed, act=var.inference_act, **over))
    rd = run_dir("tiny", var.name, seed)
    checkpoint.save(rd, {"step": 1, "model": m.state_dict(), "variant": var.to_dict(), "scale": "tiny",
                         "model_config": m.cfg.to_dict(), "train_config": {"seed": seed},
                         "tokenizer": ByteTokenizer().to_dict()}, final=True)
    return m


def test_export_command_writes_a_checkpoint_transformers_loads(out_dir, tmp_path, capsys):
    ours = _fake_run("swi-ft-a0.1")
    dest = tmp_path / "export"
    assert main(["export", "--model", "swi-ft-a0.1", "--scale", "tiny", "--format", "hf", str(dest)]) == 0
    assert "tokens equal" in capsys.readouterr().out
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "sparsebench.json"} <= {p.name for p in dest.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dir left behind
    assert json.loads((dest / "config.json").read_text())["hidden_act"] == "relu"  # Swi+FT's inference act
    meta = json.loads((dest / "sparsebench.json").read_text())
    assert meta["run"]["model"] == "swi-ft-a0.1" and meta["check"]["ok"] and meta["check"]["max_abs_logit_diff"] <= ATOL

    hf = AutoModelForCausalLM.from_pretrained(str(dest), local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(str(dest), local_files_only=True)
    ids = tok(TEXTS[1] + TEXTS[2], return_tensors="pt")["input_ids"]
    assert ids[0].tolist() == ByteTokenizer().encode(TEXTS[1] + TEXTS[2], bos=True)
    with torch.no_grad():
        assert (hf(ids).logits - ours(ids)).abs().max() <= ATOL

    # No silent overwrite; a stochastic activation has no transformers equivalent; --act overrides.
    assert main(["export", "--model", "swi-ft-a0.1", "--scale", "tiny", "--format", "hf", str(dest)]) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    assert main(["export", "--model", "swi-ft-a0.1", "--scale", "tiny", "--format", "hf", str(tmp_path / "s"),
                 "--act", "stocha:p=0.7"]) == 2
    assert "no stochastic activation" in capsys.readouterr().err and not (tmp_path / "s").exists()
    assert main(["export", "--model", "swi-ft-a0.1", "--scale", "tiny", "--format", "hf", str(dest), "--act", "silu",
                 "--force"]) == 0
    assert json.loads((dest / "config.json").read_text())["hidden_act"] == "silu"
    assert main(["export", "--model", "relu", "--scale", "tiny", "--format", "hf", str(tmp_path / "r")]) == 2
    assert "no finished run" in capsys.readouterr().err


def _task_scores(suite, lm, workdir, limit=None):
    from suites import EvalContext

    ctx = EvalContext(seed=0, lm=lm, workdir=workdir, progress=False)
    metrics, records = suite.score(suite.generate(ctx, limit), ctx)
    return metrics, records


def test_lm_eval_hf_model_scores_the_export_like_our_lm_eval_model(out_dir, tmp_path):
    """lm-eval's own `hf` model on the exported directory vs SparseBenchLM on our model, local tasks.

    - loglikelihood (syn_choice, acc): HFLM as is (the byte tokenizer adds BOS by default, as our contexts
      start). Same accuracies; per item the log-likelihoods differ by one constant, the trailing "\\n" of the
      context that lm-eval moves into every continuation (see harness.infer.lm_model); with that move applied
      on our side too they are equal.
    - loglikelihood_rolling (stdlib_bpb): HFLM needs add_bos_token=False — it prefixes BOS itself, and
      with the tokenizer's default BOS it would score a second one. Same bits per byte.
    """
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from suites import get_suite

    ours = _fake_run("relu", max_seq_len=512)  # every item fits: no left truncation to tell apart
    dest = tmp_path / "export"
    assert main(["export", "--model", "relu", "--scale", "tiny", "--format", "hf", str(dest)]) == 0
    mine = SparseBenchLM(model=ours, batch_size=4, progress=False)
    theirs = HFLM(pretrained=str(dest), batch_size=4, device="cpu")

    suite = get_suite("syn_choice", n_items=12)
    m_ours, r_ours = _task_scores(suite, mine, tmp_path / "t1")
    m_hf, r_hf = _task_scores(suite, theirs, tmp_path / "t2")
    assert [(m["value"], m.get("family")) for m in m_ours] == [(m["value"], m.get("family")) for m in m_hf]
    for a, b in zip(r_ours, r_hf):
        d = [y - x for x, y in zip(a["loglikelihoods"], b["loglikelihoods"])]
        assert max(d) - min(d) <= 1e-3  # one constant per item: the same ranking of the choices

    pairs = [(r["context"], c) for r in suite.rows() for c in r["choices"]]
    assert any(c != c.rstrip() for c, _ in pairs)  # these items do exercise lm-eval's whitespace move
    reqs = [Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)]
    moved = [Instance("loglikelihood", {}, (c.rstrip(), c[len(c.rstrip()):] + x), i) for i, (c, x) in enumerate(pairs)]
    for (a, ga), (b, gb) in zip(mine.loglikelihood(moved), theirs.loglikelihood(reqs, disable_tqdm=True)):
        assert a == pytest.approx(b, abs=1e-3) and ga == gb

    bpb = get_suite("stdlib_bpb", max_bytes=600)
    b_ours, r1 = _task_scores(bpb, mine, tmp_path / "t3", limit=3)
    b_hf, r2 = _task_scores(bpb, HFLM(pretrained=str(dest), batch_size=4, device="cpu", add_bos_token=False),
                            tmp_path / "t4", limit=3)
    assert b_ours[0]["value"] == pytest.approx(b_hf[0]["value"], rel=1e-6)
    assert [r["loglikelihood"] for r in r1] == pytest.approx([r["loglikelihood"] for r in r2], abs=1e-2)
