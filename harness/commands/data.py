"""The training corpus: a mixture of token files, and batches that are a pure function of the step.

    python -m harness data --stats                              # documents and tokens per source
    python -m harness data --stats --mix synth_code=0.5,synth_reason=0.5
    python -m harness data --stats --data ~/my_corpus.jsonl     # tokenize your own corpus once
    make data                                                   # = data --fetch --stats, online

The corpus itself: ``harness.data.corpus``. ``--fetch`` downloads the benchmark data no package ships
(evalplus HumanEval+/MBPP+, lm-eval's gsm8k) into the local caches the suites read offline.
"""

from __future__ import annotations

import json
import sys

from harness.commands.data_args import add_data_arguments, config_from_args

HELP = "build / describe the training corpus"


def add_arguments(p) -> None:
    p.add_argument("--stats", action="store_true", help="print documents and tokens per source (builds the "
                   "token files if needed)")
    add_data_arguments(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--fetch", action="store_true",
                   help="download the benchmark data that is not shipped (evalplus HumanEval+/MBPP+, lm-eval's "
                        "gsm8k) into the local caches the suites read offline; needs the network")


def fetch_benchmarks() -> list[str]:
    """Fetch the datasets that no package ships; returns the failures (one line each)."""
    from suites.evalplus_suites import fetch

    failures = []
    for suite in ("humaneval_plus", "mbpp_plus"):
        try:
            print(f"{suite}: {fetch(suite)}")
        except OSError as e:
            failures.append(f"{suite}: could not download ({e}); are you online?")
    try:
        import datasets

        datasets.load_dataset("openai/gsm8k", "main")  # what lm-eval's gsm8k task reads
        print("lm_eval:gsm8k: cached under $HF_HOME")
    except Exception as e:  # noqa: BLE001 — datasets raises many kinds offline; report, don't crash
        failures.append(f"lm_eval:gsm8k: could not download ({type(e).__name__}); are you online?")
    return failures


def run(args) -> int:
    from harness.data.corpus import stats

    if args.fetch:
        failures = fetch_benchmarks()
        for f in failures:
            print(f"error: {f}", file=sys.stderr)
        if failures:
            return 1
    cfg = config_from_args(args)
    rows = stats(cfg)
    if args.json:
        print(json.dumps({"config": cfg.to_dict(), "sources": rows}, indent=2))
        return 0
    print(f"{'split':<6} {'source':<13} {'weight':>6} {'docs':>8} {'tokens':>11}  file")
    for r in rows:
        print(f"{r['split']:<6} {r['name']:<13} {r['weight']:>6.2f} {r['docs']:>8} {r['tokens']:>11}  {r['file']}")
    return 0
