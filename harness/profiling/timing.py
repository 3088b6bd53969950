"""Timing on a shared CPU: interleaved runs, medians and p10/p90, the read bandwidth measured in the same
run, and what the machine was doing (CPU model, threads, load average, whether the C++ kernel loaded).
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from harness.provenance import cpu_model
from models import sparse as sp


def machine_info(threads: int) -> dict:
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {"cpu": cpu_model(), "threads": threads, "load_avg": load, "torch": torch.__version__,
            "kernel": sp.kernel_available(), "kernel_error": sp.kernel_error()}


def read_bandwidth(nbytes: int = 512 << 20, repeats: int = 5) -> float:
    """Read bandwidth in GB/s: median time of ``sum`` over an fp32 tensor far larger than the cache."""
    t = torch.ones(nbytes // 4)
    t.sum()
    ts = []
    for _ in range(repeats):
        a = time.perf_counter()
        t.sum()
        ts.append(time.perf_counter() - a)
    return nbytes / statistics.median(ts) / 1e9


def time_stats(ts: list[float]) -> dict:
    s = sorted(ts)
    q = lambda f: s[min(len(s) - 1, int(f * len(s)))]  # noqa: E731
    return {"median_ms": statistics.median(s) * 1e3, "p10_ms": q(0.1) * 1e3, "p90_ms": q(0.9) * 1e3,
            "n": len(s)}


def interleaved(fns: dict, n_items: int, repeats: int, warmup: int = 2) -> dict:
    """Time ``fns[name](i)`` for every item i, alternating the order of the functions each pass."""
    names = list(fns)
    times = {k: [] for k in names}
    for r in range(warmup + repeats):
        order = names if r % 2 == 0 else names[::-1]
        for i in range(n_items):
            for k in order:
                a = time.perf_counter()
                fns[k](i)
                dt = time.perf_counter() - a
                if r >= warmup:
                    times[k].append(dt)
    return {k: time_stats(v) for k, v in times.items()}




def spread(dense: dict, sparse: dict) -> dict:
    """Range of the ratio implied by the p10/p90 of both timings (a pessimistic band around the median)."""
    return {"speedup_low": dense["p10_ms"] / sparse["p90_ms"], "speedup_high": dense["p90_ms"] / sparse["p10_ms"]}
