"""Sparsity profile of a trained variant, and dense vs sparse decode speed → a "profile" result.

    python -m harness profile --model swi-ft-a0.1 --scale tiny           # trains first if needed
    python -m harness profile --model stocha-p0.7-a0.05 [--scale small] [--seed 0] [--force]
    make profile MODEL=swi-ft-a0.1 SCALE=tiny

What it measures and where it goes: ``harness.profiling.profile_run``.
"""

from __future__ import annotations

from harness.profiling.settings import WIDTHS
from harness.results import read_result

HELP = "FFN sparsity per layer and dense vs sparse decode speed"


def add_arguments(p) -> None:
    p.add_argument("--model", required=True, help="variant name, e.g. swi-ft-a0.1 or stocha-p0.7-a0.05")
    p.add_argument("--scale", default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="recompute a finished profile")
    p.add_argument("--act", help="profile with this activation swapped in (e.g. relu on a SILU checkpoint: "
                                 "zero-shot relufication) → profile.act-ACT.json")
    g = p.add_argument_group("sizes")
    g.add_argument("--n-seqs", type=int, default=32, help="held-out sequences profiled")
    g.add_argument("--seq-len", type=int, default=None, help="tokens per sequence (default: model max, ≤ 256)")
    g.add_argument("--decode-tokens", type=int, default=64, help="tokens decoded per timing run")
    g.add_argument("--widths", default=",".join(map(str, WIDTHS)),
                   help="widths for the synthetic FFN/layer benchmark ('' to skip)")
    g.add_argument("--threads", type=int, default=1, help="torch threads for the timings")


def run(args) -> int:
    from harness.profiling.profile_run import run_profile

    widths = [int(w) for w in args.widths.split(",") if w.strip()]
    if any(w < 8 for w in widths):
        raise ValueError(f"widths must be >= 8, got {args.widths}")
    p = run_profile(args.scale, args.model, args.seed, args.force, n_seqs=args.n_seqs, seq_len=args.seq_len,
                    decode_tokens=args.decode_tokens, widths=widths, threads=args.threads, act=args.act)
    res = read_result(p)
    get = {(m["name"], m.get("layer"), m.get("width")): m["value"] for m in res["metrics"]}
    print(f"{res['run']['model']} ({res['run']['scale']}): sparsity {get[('sparsity', None, None)]:.3f}, "
          f"dead {get[('dead_frac', None, None)]:.3f}, FFN FLOPs ratio {get[('flops_ratio', None, None)]:.3f}")
    dec = res.get("decode")
    if dec and "path" in dec:
        print(f"  decode (trained model): {dec['path']} path, speed-up {dec['speedup']:.2f}x "
              f"(sparse kernel forced: {dec['speedup_kernel']:.2f}x)\n    why: {dec['reason']}")
    for w in res.get("widths") or []:
        print(f"  d={w['d']}: FFN {w['speedup']:.2f}x, layer {w['layer_speedup']:.2f}x (ideal {w['ideal']:.2f}x)")
    print(f"wrote {p}")
    return 0
