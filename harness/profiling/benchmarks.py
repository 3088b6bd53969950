"""``make bench``: every micro-benchmark in one record (FFN at 1 and 2 threads, the stochastic activation,
trainer throughput, decoding against transformers), and the ``out/bench/<name>.json`` files.

    python -m harness bench all --json
"""

from __future__ import annotations

import sys

from harness.profiling.act import bench_act
from harness.profiling.ffn import bench_ffn
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
    out = {"ffn_t1": bench_ffn(sparsity=0.9, threads=1, **kw),
           "ffn_t2": bench_ffn(sparsity=0.9, threads=2, **kw),
           "act": bench_act(act_shape, repeats=3 if quick else 20)}
    if not quick:
        out["train_throughput"] = _part(measure_throughput)
        out["generate_vs_hf"] = _part(bench_vs_hf)
    return out


def write_bench(name: str, rec: dict) -> str:
    path = out_root() / "bench" / f"{name}.json"
    atomic_write_json(path, {"written_at": now_iso(), "argv": list(sys.argv), **rec})
    return str(path)
