"""Train a neuron predictor per FFN of a RELU run (Deja Vu-style, approximate, opt-in) and measure it.

    python -m harness predictor --model relu --scale small [--seed 0] [--rank 32] [--recall 0.99]
    python -m harness eval --model relu --scale small --predictor          # quality with the predictor

What it trains and measures: ``harness.profiling.predictor``; what a predictor is: ``models.sparse_predictor``.
"""

from __future__ import annotations

HELP = "train a neuron predictor (skips most of the gate; approximate) and measure recall and speed"


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, help="a variant with RELU at inference, e.g. relu or swi-ft-a0.1")
    p.add_argument("--scale", default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rank", type=int, default=32, help="rank of each FFN's predictor (d → rank → F)")
    p.add_argument("--recall", type=float, default=0.99,
                   help="fraction of firing neurons the threshold keeps on the training tokens")
    p.add_argument("--steps", type=int, default=400, help="training steps per FFN")
    p.add_argument("--no-bench", action="store_true", help="skip the FFN speed measurement at d = 2048")
    p.add_argument("--threads", type=int, default=1)


def run(args) -> int:
    from harness.profiling.predictor import run_predictor
    from harness.results import read_result

    res_path, ppath = run_predictor(args.scale, args.model, args.seed, rank=args.rank, recall=args.recall,
                                    steps=args.steps, bench=not args.no_bench, threads=args.threads)
    res = read_result(res_path)
    get = {m["name"]: m["value"] for m in res["metrics"] if "layer" not in m and "width" not in m}
    print(f"{args.model} ({args.scale}, seed {args.seed}), rank {args.rank}: recall {get['recall']:.3f}, "
          f"false positives {get['fp_rate']:.3f}, predicted density {get['predicted_density']:.3f} "
          f"(true {get['true_density']:.3f})")
    sp = res.get("speed")
    if sp:
        print(f"  FFN at d=2048, s=0.9, predicted density {sp['predicted_density']:.3f}: "
              f"{sp['speedup_vs_dense']:.2f}x vs torch dense (exact path {sp['exact_speedup']:.2f}x; "
              f"byte bound {sp['bound']:.2f}x)")
    print(f"wrote {ppath} and {res_path}\nquality: python -m harness eval --model {args.model} --scale "
          f"{args.scale} --seed {args.seed} --predictor")
    return 0
