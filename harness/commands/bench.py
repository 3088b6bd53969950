"""Micro-benchmarks: sparse vs dense FFN and decoder layer at batch 1, activation cost, and `make bench`.

    python -m harness bench ffn --d 2048 --sparsity 0.9 [--dtype fp32|bf16] [--threads 1] [--batch 1] [--runs 3] [--json]
    python -m harness bench decode --shape 1.5b --sparsity 0.9 --threads 1 [--dtype bf16] [--json]
    python -m harness bench act [--json]          # stochastic activation fwd+bwd vs SILU, training shapes
    python -m harness bench all --json            # what `make bench` runs; also writes out/bench/*.json

How the numbers are measured: ``harness.profiling.ffn`` (FFN and layer), ``harness.profiling.decode_bench``
(whole-model decoding), ``harness.profiling.act``, ``harness.profiling.benchmarks`` (all).
"""

from __future__ import annotations

import json

from harness.profiling.settings import DTYPES, MIN_STREAM_BYTES

HELP = "micro-benchmarks: sparse FFN, trainer throughput, activation cost"


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    f = sub.add_parser("ffn", help="dense vs sparse FFN and decoder layer at one width and sparsity")
    f.add_argument("--d", type=int, default=2048, help="model width (FFN hidden = 8/3·d, rounded)")
    f.add_argument("--ffn-dim", type=int, default=None, help="FFN hidden width (default: 8/3·d)")
    f.add_argument("--sparsity", type=float, default=0.9, help="fraction of exact zeros after RELU")
    f.add_argument("--dtype", choices=list(DTYPES), default="fp32")
    f.add_argument("--threads", type=int, default=1)
    f.add_argument("--batch", type=int, default=1, help="rows decoded together (union path when > 1)")
    f.add_argument("--repeats", type=int, default=30, help="passes over the weight copies")
    f.add_argument("--no-layer", action="store_true", help="skip the decoder-layer benchmark")
    f.add_argument("--stream-mb", type=float, default=None,
                   help=f"weights cycled through per pass (default: the larger of {MIN_STREAM_BYTES / 1e6:.0f} MB "
                        "and twice the last-level cache)")
    f.add_argument("--kv-len", type=int, default=256, help="KV-cache length of the layer benchmark")
    f.add_argument("--runs", type=int, default=1,
                   help="independent measurements (fresh weight copies each); the JSON gives their spread")
    f.add_argument("--json", action="store_true", help="print JSON (and write out/bench/ffn_*.json)")
    dc = sub.add_parser("decode", help="whole-model greedy decoding, dense vs sparse vs transformers")
    dc.add_argument("--shape", default="1.5b",
                    help="small | smollm2-135m | 1.5b | 3b (random weights), or a trained run SCALE/MODEL[/sSEED]")
    src = dc.add_mutually_exclusive_group()
    src.add_argument("--sparsity", type=float, default=None, help="FFN sparsity of the random weights (default 0.9)")
    src.add_argument("--profile", help="a profile result (profile.json): its per-neuron firing rates")
    dc.add_argument("--threads", type=int, default=1)
    dc.add_argument("--dtype", choices=list(DTYPES), default="fp32")
    dc.add_argument("--prompt-len", type=int, default=256)
    dc.add_argument("--new-tokens", type=int, default=128)
    dc.add_argument("--repeats", type=int, default=3, help="interleaved decodings per path")
    dc.add_argument("--no-hf", action="store_true", help="skip transformers' generate")
    dc.add_argument("--act", help="a run only: decode with this activation instead of the recipe's (e.g. relu "
                                  "on an imported SILU checkpoint: zero-shot relufication)")
    dc.add_argument("--json", action="store_true", help="print JSON (and write out/bench/decode_*.json)")
    a = sub.add_parser("act", help="stochastic activation fwd+bwd vs SILU at training shapes")
    a.add_argument("--shape", default="32,256,344", help="B,T,F of the FFN activation (small scale)")
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--repeats", type=int, default=20)
    a.add_argument("--json", action="store_true")
    al = sub.add_parser("all", help="everything `make bench` reports")
    al.add_argument("--json", action="store_true")
    al.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, numbers meaningless)")


def _summary_ffn(r: dict) -> str:
    lay = f", layer {r['layer_speedup']:.2f}x" if r.get("layer_speedup") else ""
    extra = ""
    if "speedup_same_gemv" in r:
        extra = f" (vs same-GEMV dense {r['speedup_same_gemv']:.2f}x)"
    return (f"ffn d={r['d']} s={r['measured_sparsity']:.3f} {r['dtype']} threads={r['threads']} "
            f"batch={r['batch']}: dense {r['dense_ms']:.3f} ms, sparse {r['sparse_ms']:.3f} ms, "
            f"speedup {r['speedup']:.2f}x{extra} [{r['spread']['speedup_low']:.2f}-"
            f"{r['spread']['speedup_high']:.2f}], ideal {r['ideal']:.2f}x{lay}; sparse "
            f"{r['gbs_sparse']:.1f} GB/s = {r['bandwidth_fraction_sparse']:.0%} of {r['read_bandwidth_gbs']:.1f} GB/s"
            f"; load {r['load_avg']}" + _across(r))


def _across(r: dict) -> str:
    a = r.get("across_runs") or {}
    if r.get("runs", 1) < 2 or "speedup" not in a:
        return ""
    parts = [f"{k} {a[k]['min']:.2f}-{a[k]['max']:.2f}" for k in ("speedup", "speedup_same_gemv", "layer_speedup")
             if k in a]
    return f"\n  over {r['runs']} runs (medians above): " + ", ".join(parts)


def run(args) -> int:
    from harness.profiling.act import bench_act
    from harness.profiling.benchmarks import bench_all, write_bench
    from harness.profiling.ffn import bench_ffn_runs

    if args.what == "decode":
        from harness.profiling.decode_bench import bench_decode, summary

        r = bench_decode(args.shape, args.sparsity, profile=args.profile, threads=args.threads, dtype=args.dtype,
                         prompt_len=args.prompt_len, new_tokens=args.new_tokens, repeats=args.repeats,
                         hf=False if args.no_hf else None, act=args.act)
        tag = args.shape.replace("/", "_") + (f"_act-{r['act']}" if args.act else "")
        r["path"] = write_bench(f"decode_{tag}_s{r['sparsity_requested']}_{args.dtype}_t{args.threads}", r)
        print(json.dumps(r, indent=2) if args.json else summary(r))
        return 0
    if args.what == "ffn":
        r = bench_ffn_runs(args.runs, d=args.d, sparsity=args.sparsity, dtype=args.dtype, threads=args.threads,
                           batch=args.batch, repeats=args.repeats, layer=not args.no_layer, ffn_dim=args.ffn_dim,
                           min_bytes=args.stream_mb * 1e6 if args.stream_mb else None, kv_len=args.kv_len)
        if args.json:
            r["path"] = write_bench(f"ffn_d{args.d}_s{args.sparsity:g}_{args.dtype}_t{args.threads}_b{args.batch}", r)
            print(json.dumps(r, indent=2))
        else:
            print(_summary_ffn(r))
        return 0
    if args.what == "act":
        shape = tuple(int(v) for v in args.shape.split(","))
        r = bench_act(shape, args.threads, args.repeats)
        if args.json:
            r["path"] = write_bench("act", r)
            print(json.dumps(r, indent=2))
        else:
            print(f"activation fwd+bwd {shape}: silu {r['silu_ms']:.2f} ms, stochastic {r['stochastic_ms']:.2f} ms"
                  f" = {r['ratio_vs_silu']:.2f}x (target <= 1.5x)")
        return 0
    r = bench_all(quick=args.quick)
    r["path"] = write_bench("all_quick" if args.quick else "all", r)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        for k in ("ffn_t1", "ffn_t2"):
            print(_summary_ffn(r[k]))
        print(f"activation: stochastic/silu = {r['act']['ratio_vs_silu']:.2f}x")
        from harness.profiling.decode_bench import summary

        for k in ("decode_smollm2_135m", "decode_1.5b", "decode_1.5b_t2", "decode_small"):
            if k in r:
                print(summary(r[k]) if r[k].get("status", "ok") == "ok" else f"{k}: error {r[k]['reason']}")
        for k in ("train_throughput", "generate_vs_hf"):
            if k in r:
                print(f"{k}: {r[k].get('status')} {r[k].get('reason', '')}")
    return 0
