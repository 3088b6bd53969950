"""Evaluate a model variant on the suites; trains it first if it has no checkpoint.

    python -m harness eval --model stocha-p0.7-a0.05                    # scale small, default suites
    python -m harness eval --model silu --scale tiny --limit 5          # a quick, partial run
    python -m harness eval --model relu --suites syn_code,humaneval --n-samples 10   # pass@1 and pass@10
    python -m harness eval --model stocha-p0.7-a0.05 --eval-act stocha:p=0.7 --seed 1 # keep StochA at inference
    python -m harness eval --model silu --suites lm_eval:arc_easy       # any lm-eval task (needs its data)
    python -m harness eval --model silu --scale hf-smollm2-135m-instruct --eval-act relu   # zero-shot RELU
    python -m harness eval --model silu --scale hf-NAME --suites humaneval --prompt-form chat
    python -m harness eval --model silu --scale hf-NAME --items 200   # smaller generated suites, whole results
    python -m harness eval --model silu --isolation namespaces          # refuse to run code without them
    make eval MODEL=silu SCALE=tiny LIMIT=5

How suites run, resume and are skipped when done: ``harness.evaluation.evaluate``.
"""

from __future__ import annotations

from harness.commands.isolation_args import add_isolation_argument
from harness.results import results_dir

HELP = "evaluate a variant on suites (trains first if needed)"


def add_arguments(p) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--model", required=True, help="variant name, e.g. silu, relu, swi-ft-a0.1, stocha-p0.7-a0.05")
    g.add_argument("--scale", default="small", help="model scale (default: small)")
    g.add_argument("--seed", type=int, default=0, help="training seed of the run, also seeds sampling")
    g = p.add_argument_group("suites")
    g.add_argument("--suites", default=None,
                   help="comma-separated suites (default: all embedded + humaneval + gsm8k_100); lm_eval:TASK too")
    g.add_argument("--limit", type=int, default=None, help="only the first N items of each suite (partial result)")
    g.add_argument("--items", type=int, default=None,
                   help="items in each generated suite (syn_code, syn_reason, syn_choice; default 600): a whole "
                        "result at that size, unlike --limit")
    g.add_argument("--n-samples", type=int, default=None, help="samples per code task (>1: sampling, pass@k)")
    g.add_argument("--eval-act", default=None,
                   help="inference activation: relu | silu | stocha:p=P (default: the recipe's); relu on an "
                        "imported SILU checkpoint is zero-shot relufication")
    g.add_argument("--prompt-form", choices=("plain", "chat"), default=None,
                   help="code suites (syn_code, humaneval): plain completion (default) or through the "
                        "checkpoint's chat template, as evalplus asks chat models (→ <suite>.chat.json)")
    g.add_argument("--predictor", action="store_true",
                   help="decode with the run's neuron predictor (python -m harness predictor): approximate; "
                        "results go to <suite>.pred.json, rows '+ predictor'")
    g = p.add_argument_group("execution")
    g.add_argument("--force", action="store_true", help="redo suites that are already done")
    g.add_argument("--rescore", action="store_true", help="score the existing samples files again (no model)")
    g.add_argument("--batch-size", type=int, default=16, help="generation / scoring batch size")
    g.add_argument("--no-profile", action="store_true", help="skip the profiler after the default suites")
    g.add_argument("--no-train", action="store_true", help="fail instead of training a missing checkpoint")
    add_isolation_argument(g)


def run(args) -> int:
    from harness.evaluation.evaluate import run_eval
    from harness.evaluation.table import print_table

    paths = run_eval(args.scale, args.model, seed=args.seed,
                     suites=args.suites.split(",") if args.suites else None, limit=args.limit, force=args.force,
                     eval_act=args.eval_act, rescore=args.rescore, batch_size=args.batch_size,
                     n_samples=args.n_samples, profile=not args.no_profile, train=not args.no_train,
                     predictor=args.predictor, prompt_form=args.prompt_form, isolation=args.isolation,
                     items=args.items)
    print_table(args.scale, current=(args.model, args.seed))
    print(f"\n{len(paths)} result files under {results_dir(args.scale, args.model, args.seed)}")
    return 0
