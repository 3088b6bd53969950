"""Hugging Face interop, import side: relufying a (tiny, random, offline) Llama checkpoint with its own BPE
tokenizer, and the rest of the harness (eval, profile, sparse decode, export) on the resulting run.

Tolerance for logits of our converted model vs transformers on the same weights: max |Δ| ≤ 1e-4 (fp32).
"""

import json
import os
import shutil

import pytest
import torch
from hf_tiny import make_tiny_llama
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.__main__ import main
from harness.interop.finetune import FT_ALPHA, FinetuneConfig, default_name, finetune, resolve_recipe
from harness.paths import lock_path, run_dir, run_lock
from harness.results import read_result, result_path
from harness.verify.crash import Stopped, stopped_at

ATOL = 1e-4
SMALL = ["--batch-size", "4", "--seq-len", "64", "--lr", "3e-3", "--mix", "synth_code=1", "--synth-docs", "200",
         "--eval-seqs", "4", "--no-progress"]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("hf") / "Tiny-Llama")


def test_recipe_shorthands_and_schedules():
    assert resolve_recipe("swi-ft").name == "relu"  # Swi+FT's SILU phase is the checkpoint: all RELU
    v = resolve_recipe("stocha-p0.7")
    assert v.name == f"stocha-p0.7-a{FT_ALPHA:g}" == "stocha-p0.7-a0.2"
    assert [str(v.act_at(k, 20)) for k in (0, 15, 16, 19)] == ["stocha:p=0.7", "stocha:p=0.7", "relu", "relu"]
    assert resolve_recipe("stocha-p0.5-full-tok").name == "stocha-p0.5-a0.2-full-tok"
    assert resolve_recipe("swi-ft-a0.1").name == "swi-ft-a0.1"  # a full name keeps its own schedule
    assert str(resolve_recipe("silu").act_at(9, 10)) == "silu"
    with pytest.raises(ValueError, match="unknown recipe 'stocha'"):
        resolve_recipe("stocha")
    assert default_name("/x/models--HuggingFaceTB--SmolLM2-135M/snapshots/abc123") == "huggingfacetb--smollm2-135m"
    assert default_name("/models/Llama 3.2 (1B)/") == "llama-3.2-1b"


def test_import_gives_transformers_logits_and_tokens(tiny_llama):
    from harness.interop.hf import load_hf_checkpoint

    ours, tok, info = load_hf_checkpoint(tiny_llama)
    hf = AutoModelForCausalLM.from_pretrained(str(tiny_llama), local_files_only=True).eval()
    hf_tok = AutoTokenizer.from_pretrained(str(tiny_llama), local_files_only=True)
    text = "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n"
    assert tok.bos_id == 1 and tok.encode(text, bos=True) == hf_tok(text)["input_ids"]  # not byte ids
    x = torch.tensor([tok.encode(text, bos=True)] * 2)
    with torch.no_grad():
        a, b = ours(x), hf(x).logits
    assert a.abs().max() > 1.0 and (a - b).abs().max() <= ATOL
    assert ours.cfg.n_kv_heads == 2 and ours.cfg.tie_embeddings and ours.cfg.rope_theta == 50000.0
    assert str(ours.activation) == "silu" and info["hidden_act"] == "silu"


def test_relufy_then_eval_profile_sparse_decode_export(tiny_llama, out_dir, tmp_path, capsys):
    from harness.data.tokenizer import HFTokenizer
    from harness.evaluation.evaluate import run_eval
    from harness.infer.generate import generate
    from harness.infer.load import load_for_inference
    from harness.profiling.profile_run import run_profile
    from models.sparse import enable_sparse

    argv = ["finetune", "--from-hf", str(tiny_llama), "--recipe", "stocha-p0.7", "--steps", "10", "--eval-every",
            "5", "--log-every", "1", *SMALL]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "recipe stocha-p0.7 = stocha-p0.7-a0.2" in out and "--scale hf-tiny-llama" in out
    scale, model = "hf-tiny-llama", "stocha-p0.7-a0.2"
    rd = run_dir(scale, model, 0)
    assert (rd / "ckpt" / "final.pt").is_file() and (rd / "tokenizer" / "tokenizer.json").is_file()
    # The schedule over the 10 steps: StochA for 8, RELU for the last 2.
    acts = [json.loads(line)["act"] for line in (rd / "metrics.jsonl").read_text().splitlines()]
    assert acts == ["stocha:p=0.7"] * 8 + ["relu"] * 2

    res = read_result(result_path(scale, model, 0, "train"))
    m = {x["name"]: x["value"] for x in res["metrics"]}
    assert res["kind"] == "train" and res["run"]["eval_act"] == "relu" and res["switch_step"] == 8
    assert m["val_loss"] < m["val_loss_before_infer"] - 0.2  # fine-tuning lowered the RELU model's loss
    assert 0 < m["ffn_sparsity_before"] < 1 and 0 < m["ffn_sparsity_after"] < 1
    assert m["val_bpb"] == pytest.approx(m["val_loss"] * m["val_bpb_before_infer"] / m["val_loss_before_infer"])
    mtime = (rd / "ckpt" / "final.pt").stat().st_mtime_ns
    assert main(argv) == 0 and "already fine-tuned" in capsys.readouterr().out
    assert (rd / "ckpt" / "final.pt").stat().st_mtime_ns == mtime  # resume never recomputes

    # The run loads like any other, with its own tokenizer.
    net, info = load_for_inference(rd)
    assert isinstance(info["tok"], HFTokenizer) and info["tok"].bos_id == 1 and str(net.activation) == "relu"
    ids = torch.tensor([info["tok"].encode("def f(x):\n    return x * 2\n", bos=True)])
    with torch.no_grad():
        dense = net(ids)
        enable_sparse(net, policy="always")  # the sparse FFN decode path on the imported architecture
        sparse = net(ids)
        texts = generate(net, ["def f(x):\n"], max_new_tokens=12, tokenizer=info["tok"])
        enable_sparse(net, False)
    assert (dense - sparse).abs().max() <= ATOL
    assert texts == generate(net, ["def f(x):\n"], max_new_tokens=12, tokenizer=info["tok"])

    paths = run_eval(scale, model, suites=["syn_choice", "syn_code"], limit=3, profile=False, progress=False,
                     log=lambda *a: None)
    assert [read_result(p)["status"] for p in paths] == ["ok", "ok"]
    assert read_result(paths[0])["run"]["scale"] == scale

    prof = read_result(run_profile(scale, model, n_seqs=4, seq_len=32, decode_tokens=4, widths=()))
    pm = {(x["name"], x.get("layer")): x["value"] for x in prof["metrics"]}
    assert 0 < pm[("sparsity", None)] < 1 and pm[("decode_speedup", None)] > 0 and ("sparsity", 1) in pm

    dest = tmp_path / "relufied"
    assert main(["export", "--model", model, "--scale", scale, "--format", "hf", str(dest)]) == 0
    hf = AutoModelForCausalLM.from_pretrained(str(dest), local_files_only=True).eval()
    assert hf.config.hidden_act == "relu" and hf.config.bos_token_id == 1
    hf_tok = AutoTokenizer.from_pretrained(str(dest), local_files_only=True)
    assert hf_tok("def f(x):\n    return x * 2\n")["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        assert (hf(ids).logits - dense).abs().max() <= ATOL


def test_resume_continues_exactly(tiny_llama, out_dir):
    kw = dict(steps=6, batch_size=4, seq_len=32, lr=3e-3, eval_seqs=2, eval_every=3, ckpt_every=3,
              data={"mix": {"synth_code": 1.0}, "synth_docs": 200})
    whole = finetune(FinetuneConfig.create(tiny_llama, "stocha-p0.5-a0.5", name="whole", **kw), progress=False)
    cfg = FinetuneConfig.create(tiny_llama, "stocha-p0.5-a0.5", name="cut", **kw)
    with pytest.raises(Stopped), stopped_at("train.step", 4):  # killed after step 4; the checkpoint of step 3 remains
        finetune(cfg, progress=False)
    with pytest.raises(RuntimeError, match="--resume"):
        finetune(cfg, progress=False)
    cut = finetune(cfg, resume=True, progress=False)
    a = torch.load(whole / "ckpt" / "final.pt", weights_only=True)
    b = torch.load(cut / "ckpt" / "final.pt", weights_only=True)
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
    assert a["before"] == b["before"]


def test_bad_input_is_one_line_and_writes_nothing(tiny_llama, out_dir, tmp_path, capsys):
    base = ["finetune", "--recipe", "swi-ft", "--steps", "2", *SMALL]
    cases = [(["--from-hf", str(tmp_path / "nope")], "not a local Hugging Face checkpoint"),
             (["--from-hf", str(tiny_llama), "--recipe", "tanh"], "unknown recipe 'tanh'"),
             (["--from-hf", str(tiny_llama), "--seq-len", "512"], "exceeds the checkpoint's context of 128")]
    biased = tmp_path / "biased"
    shutil.copytree(tiny_llama, biased)
    cfg = json.loads((biased / "config.json").read_text())
    (biased / "config.json").write_text(json.dumps({**cfg, "attention_bias": True}))
    cases.append((["--from-hf", str(biased)], "attention or MLP biases"))
    for extra, msg in cases:
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and msg in err[0], err
    assert not (out_dir / "runs").exists()


def test_second_start_of_the_same_run_refuses_naming_the_first(tiny_llama, out_dir, capsys):
    # The test process plays the first run (a fine-tune or a train of the same run directory): it holds the
    # run's lock while the CLI starts the same fine-tune.
    lock = lock_path("train", "hf-tiny-llama", "relu", 0)
    with run_lock(lock, "training of hf-tiny-llama/relu/s0"):
        assert main(["finetune", "--from-hf", str(tiny_llama), "--recipe", "swi-ft", "--steps", "2", *SMALL]) == 2
    assert capsys.readouterr().err == (f"error: fine-tuning of hf-tiny-llama/relu/s0 is already running in pid "
                                       f"{os.getpid()} (lock {lock}); wait for it to finish or stop that process\n")
    assert not (out_dir / "runs").exists()  # refused before anything was written
