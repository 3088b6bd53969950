"""Timing on a shared CPU: interleaved runs, medians and p10/p90, the read bandwidth measured in the same
run, and what the machine was doing (CPU model, threads, load average, last-level cache, whether the C++
kernel loaded).
"""

from __future__ import annotations

import os
import pathlib
import statistics
import time

import torch

from harness.provenance import cpu_model
from models import sparse as sp


def llc_bytes() -> int | None:
    """Size of the largest CPU cache (the last level) from sysfs, or None where it is not readable."""
    sizes = []
    for f in pathlib.Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            txt = f.read_text().strip().upper()
        except OSError:
            continue
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(txt[-1:], 1)
        digits = txt.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * mult)
    return max(sizes) if sizes else None


def stream_bytes(minimum: float) -> float:
    """Weights a benchmark pass must cycle through: ``minimum`` and at least twice the last-level cache, so
    each copy has left the cache before it is read again (a 300 MiB L3 would hold a 160 MB working set)."""
    llc = llc_bytes()
    return max(minimum, 2 * llc) if llc else minimum


def machine_info(threads: int) -> dict:
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {"cpu": cpu_model(), "threads": threads, "load_avg": load, "torch": torch.__version__,
            "kernel": sp.kernel_available(), "kernel_error": sp.kernel_error(), "llc_bytes": llc_bytes()}


def read_bandwidth(nbytes: int | None = None, repeats: int = 5, threads: int | None = None) -> float:
    """Read bandwidth in GB/s that the FFN kernels can reach: the kernel's own row-streaming GEMV over an
    fp32 matrix of ``nbytes`` (default: 256 MB or twice the last-level cache, whichever is larger), median
    of ``repeats``, at ``threads``. The same loop the dense gate runs, so "fraction of bandwidth" compares
    like with like (``torch.sum`` read slower than torch's own GEMV on some CPUs, giving fractions > 1).
    Without the kernel: ``torch.mv`` over the same matrix."""
    nbytes = int(stream_bytes(256e6) if nbytes is None else nbytes)
    d = 4096
    w = torch.ones(max(1, nbytes // (4 * d)), d)
    x = torch.ones(1, d)
    lib = sp.load_kernel()
    threads = threads or torch.get_num_threads()
    run = (lambda: sp.kernel_gemv(lib, x, w, threads)) if lib is not None else (lambda: torch.mv(w, x[0]))
    run()
    ts = []
    for _ in range(repeats):
        a = time.perf_counter()
        run()
        ts.append(time.perf_counter() - a)
    return w.numel() * 4 / statistics.median(ts) / 1e9


def time_stats(ts: list[float]) -> dict:
    s = sorted(ts)
    q = lambda f: s[min(len(s) - 1, int(f * len(s)))]  # noqa: E731
    return {"median_ms": statistics.median(s) * 1e3, "p10_ms": q(0.1) * 1e3, "p90_ms": q(0.9) * 1e3,
            "n": len(s)}


def interleaved(fns: dict, n_items: int, repeats: int, warmup: int = 2) -> dict:
    """Time ``fns[name](i)`` for every item i, alternating the order of the functions each pass.

    At each step the k-th function gets item ``(i + k·n/len(fns)) mod n``: functions run back to back never
    touch the same weight copy, so none reads what the one before it left in the cache; over a pass each
    still sees every item once."""
    names = list(fns)
    times = {k: [] for k in names}
    offset = {k: j * n_items // len(names) for j, k in enumerate(names)}
    for r in range(warmup + repeats):
        order = names if r % 2 == 0 else names[::-1]
        for i in range(n_items):
            for k in order:
                a = time.perf_counter()
                fns[k]((i + offset[k]) % n_items)
                dt = time.perf_counter() - a
                if r >= warmup:
                    times[k].append(dt)
    return {k: time_stats(v) for k, v in times.items()}




def spread(dense: dict, sparse: dict) -> dict:
    """Range of the ratio implied by the p10/p90 of both timings (a pessimistic band around the median)."""
    return {"speedup_low": dense["p10_ms"] / sparse["p90_ms"], "speedup_high": dense["p90_ms"] / sparse["p10_ms"]}
