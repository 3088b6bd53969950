"""Generation diversity: the stochastic activation kept on at inference vs temperature and top-p sampling.

    python -m harness diversity --model stocha-p0.7-a0.05                      # scale small, k = 10
    python -m harness diversity --model stocha-p0.7-a0.05 --scale tiny --prompts 8 --k 4
    python -m harness diversity --model silu --suites syn_code,humaneval --methods greedy,temperature,top_p
    python -m harness diversity --model stocha-p0.7-a0.05 --rescore           # re-score, never regenerate
    make diversity MODEL=stocha-p0.7-a0.05 SCALE=small

The study, its settings and its files: ``harness.diversity.study``.
"""

from __future__ import annotations

import time

from harness.commands.isolation_args import add_isolation_argument
from harness.diversity.settings import (
    DEFAULT_ACT_PS,
    DEFAULT_COMBO,
    DEFAULT_K,
    DEFAULT_PROMPTS,
    DEFAULT_SUITES,
    DEFAULT_TEMPERATURES,
    DEFAULT_TOP_PS,
    METHODS,
    build_settings,
)

HELP = "generation diversity: stochastic activation vs sampling"


def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated numbers, got {text!r}") from None


def _combo(text: str) -> tuple[tuple[float, float], ...]:
    out = []
    for part in filter(None, (x.strip() for x in text.split(","))):
        p, colon, t = part.partition(":")
        if not colon:
            raise ValueError(f"--combo: expected P:T pairs like 0.3:0.6, got {part!r}")
        out.append((_floats(p, "--combo")[0], _floats(t, "--combo")[0]))
    return tuple(out)


def add_arguments(p) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--model", required=True, help="variant name, e.g. stocha-p0.7-a0.05")
    g.add_argument("--scale", default="small", help="model scale (default: small)")
    g.add_argument("--seed", type=int, default=0, help="training seed of the run; also seeds the samples")
    g = p.add_argument_group("study")
    g.add_argument("--suites", default=",".join(DEFAULT_SUITES),
                   help="comma-separated code / reasoning suites (default: syn_code,syn_reason)")
    g.add_argument("--k", type=int, default=DEFAULT_K, help=f"samples per prompt (default: {DEFAULT_K})")
    g.add_argument("--prompts", type=int, default=None,
                   help=f"first N items of each suite (default: {DEFAULT_PROMPTS}; 10 at tiny)")
    g.add_argument("--methods", default=",".join(METHODS), help=f"subset of {','.join(METHODS)}")
    g.add_argument("--act-ps", default=",".join(f"{x:g}" for x in DEFAULT_ACT_PS),
                   help="p' grid of the stochastic activation (probability of SILU)")
    g.add_argument("--temperatures", default=",".join(f"{x:g}" for x in DEFAULT_TEMPERATURES),
                   help="temperature grid")
    g.add_argument("--top-ps", default=",".join(f"{x:g}" for x in DEFAULT_TOP_PS), help="top-p grid (at T = 1)")
    g.add_argument("--combo", default=",".join(f"{p:g}:{t:g}" for p, t in DEFAULT_COMBO),
                   help="(p', T) pairs of stochastic activation + temperature, e.g. 0.3:0.6,0.5:0.6")
    g = p.add_argument_group("execution")
    g.add_argument("--batch-size", type=int, default=64, help="generation batch size (default: 64)")
    g.add_argument("--force", action="store_true", help="regenerate and re-score every setting")
    g.add_argument("--rescore", action="store_true", help="score the existing samples again (no model)")
    g.add_argument("--no-train", action="store_true", help="fail instead of training a missing checkpoint")
    add_isolation_argument(g)


def run(args) -> int:
    from harness.diversity.study import run_diversity, summary_lines

    settings = build_settings([m.strip() for m in args.methods.split(",") if m.strip()],
                              _floats(args.act_ps, "--act-ps"), _floats(args.temperatures, "--temperatures"),
                              _floats(args.top_ps, "--top-ps"), _combo(args.combo))
    t0 = time.perf_counter()
    paths = run_diversity(args.scale, args.model, seed=args.seed,
                          suites=[s for s in args.suites.split(",") if s.strip()], k=args.k,
                          n_prompts=args.prompts, settings=settings, batch_size=args.batch_size, force=args.force,
                          rescore=args.rescore, train=not args.no_train, isolation=args.isolation)
    print("\n".join(summary_lines(paths)))
    print(f"\n{len(paths)} diversity results under {paths[0].parent} ({time.perf_counter() - t0:.0f} s); "
          "plot and table: python -m reports all")
    return 0
