"""``make bench``: every benchmark in one record (FFN at 1 thread over 3 runs and at 2 threads, the
stochastic activation, whole-model decoding at the SmolLM2-135M and 1.5B shapes, trainer throughput,
decoding against transformers), and the ``out/bench/<name>.json`` files. About 20 minutes on 2 cores.

    python -m harness bench all --json
"""

from __future__ import annotations

import sys

from harness.profiling.act import bench_act
from harness.profiling.decode_bench import bench_decode
from harness.profiling.ffn import bench_ffn, bench_ffn_runs
from harness.profiling.throughput import measure_throughput
from harness.profiling.vs_hf import bench_vs_hf
from harness.results import atomic_write_json, now_iso, out_root


def _part(fn, **kwargs) -> dict:
    """One benchmark of ``make bench``; a failing one is reported, not raised, so the rest is kept."""
    try:
        return {"status": "ok", **fn(**kwargs)}
    except Exception as e:
        return {"status": "error", "reason": f"{type(e).__name__}: {e}"}


def bench_all(quick: bool = False) -> dict:
    """Everything `make bench` reports; ``quick``: tiny sizes (a smoke test, numbers meaningless)."""
    if quick:
        kw = dict(d=64, repeats=2, min_bytes=1e5, kv_len=8, bandwidth_bytes=1 << 20)
        act_shape = (2, 8, 32)
    else:
        kw = dict(d=2048)
        act_shape = (32, 256, 344)
    out = {"ffn_t1": bench_ffn_runs(1 if quick else 3, sparsity=0.9, threads=1, **kw),
           "ffn_t2": bench_ffn(sparsity=0.9, threads=2, **kw),
           "act": bench_act(act_shape, repeats=3 if quick else 20)}
    if quick:
        out["decode_small"] = bench_decode("small", 0.9, prompt_len=8, new_tokens=4, repeats=1, hf=False)
        return out
    # Whole-model decoding at a real model's shape and at the paper's 1.5B (about 2 and 8 minutes).
    out["decode_smollm2_135m"] = _part(bench_decode, shape="smollm2-135m", sparsity=0.9)
    out["decode_1.5b"] = _part(bench_decode, shape="1.5b", sparsity=0.9)
    out["decode_1.5b_t2"] = _part(bench_decode, shape="1.5b", sparsity=0.9, threads=2, repeats=2, hf=False)
    out["train_throughput"] = _part(measure_throughput)
    out["generate_vs_hf"] = _part(bench_vs_hf)
    return out


def write_bench(name: str, rec: dict) -> str:
    path = out_root() / "bench" / f"{name}.json"
    atomic_write_json(path, {"written_at": now_iso(), "argv": list(sys.argv), **rec})
    return str(path)
