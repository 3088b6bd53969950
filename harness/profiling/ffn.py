"""Micro-benchmarks: sparse vs dense FFN and decoder layer at batch 1, activation cost, and `make bench`.

    python -m harness bench ffn --d 2048 --sparsity 0.9 [--dtype fp32|bf16] [--threads 1] [--batch 1] [--json]
    python -m harness bench act [--json]          # stochastic activation fwd+bwd vs SILU, training shapes
    python -m harness bench all --json            # what `make bench` runs; also writes out/bench/*.json

How the FFN numbers are measured (so they mean something on a shared, cache-rich CPU):
- weights stream from DRAM: the benchmark cycles through enough FFN (or layer) copies to read at least
  160 MB and twice the last-level cache (read from sysfs, recorded as ``llc_bytes``), and functions timed
  back to back run on copies half the ring apart, so neither reads what the other left in the cache;
- sparsity is exact and random per token: the gate gets a bias column (``x[-1] = 1``) set so that each
  neuron fires with the requested probability (or with per-neuron rates taken from a trained model);
- dense and sparse run interleaved in one process (order alternating), medians and p10/p90 are reported,
  with the read bandwidth the kernels can reach (the kernel's own GEMV streaming a matrix larger than the
  cache, at the same thread count) measured before and after, threads, dtype, CPU model and load
  average; ``--runs N`` repeats the whole measurement and reports the spread across runs. Run it alone:
  `flock /tmp/heavy.lock python -m harness bench ...`.

``speedup`` compares the model's own dense FFN (torch ``F.linear``) with the sparse path (``enable_sparse``):
what a user gets from the switch. Part of it can come from the kernel's GEMV streaming the gate faster
than torch's; ``speedup_same_gemv`` compares against a dense FFN built from that same GEMV, the part due
to sparsity alone, which the byte count bounds by ``ideal`` = 3 / (1 + 2(1−s)).
"""

from __future__ import annotations

import math
import statistics

import torch
import torch.nn.functional as F

from harness.profiling.settings import MIN_STREAM_BYTES
from harness.profiling.timing import interleaved, machine_info, read_bandwidth, spread, stream_bytes
from models import sparse as sp
from models.activations import Activation
from models.config import ModelConfig
from models.llama import FeedForward, KVCache, TransformerBlock, rope_tables

# Largest relative difference between the sparse and dense FFN outputs a benchmark accepts: fp32 sums in
# another order; bf16 weights are summed in fp32 by the kernel but in bf16 by torch's dense path.
EXACT_TOL = {torch.float32: 1e-5, torch.bfloat16: 3e-2}

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


# ---- synthetic FFNs with exact, controlled sparsity ------------------------------------------------
def default_ffn_dim(d: int) -> int:
    return int(8 * d / 3)


def firing_quantile(rates: torch.Tensor) -> torch.Tensor:
    """z_j with P(N(0, 1) > z_j) = rates[j]: a gate with standard deviation σ_j fires with probability
    rates[j] when shifted by −z_j·σ_j."""
    return torch.special.ndtri((1 - rates.double()).clamp(1e-6, 1 - 1e-6)).float()


def _set_gate_bias(w1: torch.Tensor, rates: torch.Tensor, std: float):
    """Make neuron j fire with probability rates[j] for x ~ N(0, 1) with x[-1] = 1 (the bias column)."""
    w1[:, -1] = -firing_quantile(rates) * std * math.sqrt(w1.shape[1] - 1)


def neuron_rates(ffn_dim: int, sparsity: float, profile_rates: list[float] | None = None,
                 seed: int = 0) -> torch.Tensor:
    """Per-neuron firing probabilities: all 1−s, or resampled from a trained model's per-neuron rates
    and rescaled so their mean is 1−s."""
    if not profile_rates:
        return torch.full((ffn_dim,), 1.0 - sparsity)
    g = torch.Generator().manual_seed(seed)
    src = torch.tensor(profile_rates, dtype=torch.float64)
    r = src[torch.randint(len(src), (ffn_dim,), generator=g)]
    if r.mean() > 0:
        r = (r * (1 - sparsity) / r.mean()).clamp(0, 1)
    return r.float()


def ffn_config(d: int, ffn_dim: int | None = None) -> ModelConfig:
    heads = max(1, d // 128) if d >= 128 else 1
    return ModelConfig(dim=d, n_layers=1, n_heads=heads, ffn_dim=ffn_dim or default_ffn_dim(d),
                       max_seq_len=512)


def make_blocks(cfg: ModelConfig, rates: torch.Tensor, dtype, n: int, seed: int = 0,
                ffn_only: bool = True) -> list:
    """``n`` FeedForward modules (or whole TransformerBlocks) with the gate bias set, in ``dtype``."""
    torch.manual_seed(seed)
    out = []
    std = 0.02
    for _ in range(n):
        mod = FeedForward(cfg, Activation("relu")) if ffn_only else TransformerBlock(0, cfg, Activation("relu"))
        with torch.no_grad():
            for p in mod.parameters():
                if p.dim() == 2:
                    p.normal_(0.0, std)
            ff = mod if ffn_only else mod.feed_forward
            _set_gate_bias(ff.w1.weight, rates, std)
        out.append(mod.to(dtype).eval())
    return out


def _copies(bytes_each: int, min_bytes: float, functions: int = 2) -> int:
    """Weight copies to cycle through: enough bytes, and at least one per timed function, so functions
    run back to back always get different copies (``timing.interleaved`` staggers them)."""
    return max(functions, math.ceil(min_bytes / bytes_each))


def gate_inputs(n: int, batch: int, d: int, dtype, seed: int = 1) -> list[torch.Tensor]:
    """``n`` random (batch, 1, d) FFN inputs whose last entry is 1: the column the gate bias sits in."""
    g = torch.Generator().manual_seed(seed)
    xs = []
    for _ in range(n):
        x = torch.randn(batch, 1, d, generator=g)
        x[..., -1] = 1.0  # the bias column of the gate
        xs.append(x.to(dtype))
    return xs


def _dense_kernel_ffn(lib, ff, x2: torch.Tensor, threads: int):
    """The same-kernel dense baseline: one fused call through the sparse path's own loops, every neuron
    visited (``models.sparse.kernel_dense_ffn``), so the ratio to it is the gain from sparsity alone and
    stays under the byte bound. (Three separate GEMV calls plus torch ops added overhead the sparse call
    does not pay, which let "sparsity only" exceed the bound.)"""
    return sp.kernel_dense_ffn(lib, ff, x2, threads)


def _torch_sparse_ffn(ff, x2: torch.Tensor):
    """The plain-PyTorch sparse path (index_select + mv + embedding_bag), for comparison."""
    h = F.relu(F.linear(x2, ff.w1.weight))
    active = (h != 0).any(0).nonzero().squeeze(1)
    return sp.gather_torch(x2, h, ff.w3.weight, sp.w2_transposed(ff), active)


# ---- bench ffn ---------------------------------------------------------------------------------------
def bench_ffn(d: int = 2048, sparsity: float = 0.9, dtype: str = "fp32", threads: int = 1, batch: int = 1,
              repeats: int = 30, layer: bool = True, ffn_dim: int | None = None,
              min_bytes: float | None = None, kv_len: int = 256, bandwidth_bytes: int | None = None,
              profile_rates: list[float] | None = None, check: bool = True) -> dict:
    """Dense vs sparse FFN (and decoder layer) timings at batch ``batch``; returns the JSON record.

    ``min_bytes``: weights cycled through per pass (default: 160 MB or twice the last-level cache);
    ``bandwidth_bytes``: the reference read's matrix (default: 256 MB or twice the last-level cache)."""
    min_bytes = stream_bytes(MIN_STREAM_BYTES) if min_bytes is None else min_bytes
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if d < 8 or threads < 1 or batch < 1 or repeats < 1:
        raise ValueError("need d >= 8, threads >= 1, batch >= 1, repeats >= 1")
    tdt = DTYPES[dtype]
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        cfg = ffn_config(d, ffn_dim)
        rates = neuron_rates(cfg.ffn_dim, sparsity, profile_rates)
        rec = {"bench": "ffn", "d": d, "ffn_dim": cfg.ffn_dim, "sparsity": sparsity, "dtype": dtype,
               "threads": threads, "batch": batch, "repeats": repeats,
               **_time_ffns(cfg, rates, tdt, threads=threads, batch=batch, repeats=repeats, min_bytes=min_bytes,
                            bandwidth_bytes=bandwidth_bytes, check=check)}
        rec["layer_speedup"] = None
        if layer:
            rec.update(_bench_layer(cfg, rates, tdt, threads, batch, repeats, min_bytes, kv_len))
        return rec
    finally:
        torch.set_num_threads(old_threads)


# The figures whose spread over independent runs ``bench_ffn_runs`` reports.
RUN_FIGURES = ("speedup", "speedup_same_gemv", "layer_speedup", "read_bandwidth_gbs", "bandwidth_fraction_sparse")


def bench_ffn_runs(runs: int = 1, **kw) -> dict:
    """``bench_ffn`` ``runs`` times, each with fresh weight copies: the first run's record, with its headline
    figures replaced by their medians over the runs and ``across_runs`` giving each one's min, median, max
    and values (one run on a shared machine is an anecdote: report the spread)."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    recs = [bench_ffn(**kw) for _ in range(runs)]
    rec = dict(recs[0], runs=runs)
    across = {}
    for k in RUN_FIGURES:
        vals = [r[k] for r in recs if r.get(k) is not None]
        if vals:
            across[k] = {"min": min(vals), "median": statistics.median(vals), "max": max(vals), "values": vals}
            rec[k] = across[k]["median"]
    rec["across_runs"] = across
    return rec


def _time_ffns(cfg: ModelConfig, rates: torch.Tensor, tdt, *, threads: int, batch: int, repeats: int,
               min_bytes: float, bandwidth_bytes: int, check: bool) -> dict:
    """Dense, sparse, plain-PyTorch sparse and same-kernel dense FFNs over enough copies to stream from DRAM,
    interleaved; the measured sparsity, the bandwidth they reach and the speed-ups."""
    d, Fd = cfg.dim, cfg.ffn_dim
    isz = torch.finfo(tdt).bits // 8
    dense_bytes = 3 * d * Fd * isz
    n = _copies(dense_bytes, min_bytes, functions=4)  # dense, sparse, torch sparse, same-GEMV dense
    ffs = make_blocks(cfg, rates, tdt, n)
    xs = gate_inputs(n, batch, d, tdt)
    lib = sp.load_kernel()
    rec = {"copies": n, "stream_bytes": n * dense_bytes, "min_stream_bytes": min_bytes, **machine_info(threads)}
    with torch.inference_mode():
        rec.update(_measured(ffs, xs, batch, check))
        for ff in ffs:
            sp.w2_transposed(ff)  # build the W2ᵀ copies outside the timed region

        def dense(i):
            ffs[i].sparse_forward = None
            ffs[i](xs[i])

        def sparse(i):
            ffs[i].sparse_forward = sp.sparse_ffn
            ffs[i](xs[i])

        fns = {"dense": dense, "sparse": sparse}
        if batch == 1 or rec["union_density"] <= sp.MAX_DENSITY_UNION:
            fns["torch_sparse"] = lambda i: _torch_sparse_ffn(ffs[i], xs[i].reshape(batch, d))
        if lib is not None:
            fns["dense_same_gemv"] = lambda i: _dense_kernel_ffn(lib, ffs[i], xs[i].reshape(batch, d), threads)
        bw = read_bandwidth(bandwidth_bytes, threads=threads)
        t = interleaved(fns, n, repeats)
        bw = (bw + read_bandwidth(bandwidth_bytes, threads=threads)) / 2  # before and after: the machine may change
    sparse_bytes = d * Fd * isz * (1 + 2 * rec["union_density"])
    rec.update(read_bandwidth_gbs=bw, times=t,
               dense_ms=t["dense"]["median_ms"], sparse_ms=t["sparse"]["median_ms"],
               speedup=t["dense"]["median_ms"] / t["sparse"]["median_ms"],
               spread=spread(t["dense"], t["sparse"]),
               gbs_dense=dense_bytes / t["dense"]["median_ms"] / 1e6,
               gbs_sparse=sparse_bytes / t["sparse"]["median_ms"] / 1e6)
    rec["bandwidth_fraction_dense"] = rec["gbs_dense"] / bw
    rec["bandwidth_fraction_sparse"] = rec["gbs_sparse"] / bw
    if "torch_sparse" in t:
        rec["speedup_torch_path"] = t["dense"]["median_ms"] / t["torch_sparse"]["median_ms"]
    if "dense_same_gemv" in t:
        rec["speedup_same_gemv"] = t["dense_same_gemv"]["median_ms"] / t["sparse"]["median_ms"]
    return rec  # the FFN copies go with this frame, before the layer copies are built


def _measured(ffs: list, xs: list, batch: int, check: bool) -> dict:
    """The sparsity these inputs give, the union density the batch path sees, its ideal speed-up, and (with
    ``check``) that the timed sparse path computes what the dense one does."""
    d = xs[0].shape[-1]
    hs = [F.relu(F.linear(x.reshape(batch, d).float(), ff.w1.weight.float())) for ff, x in zip(ffs, xs)]
    s_meas = statistics.mean(float((h == 0).float().mean()) for h in hs)
    union = statistics.mean(float((h != 0).any(0).float().mean()) for h in hs)
    # The bound counts the rows the sparse path reads: for a batch, the union of its active neurons (at
    # batch 1 that is 1 − sparsity).
    out = {"measured_sparsity": s_meas, "union_density": union, "ideal": sp.ideal_speedup(1.0 - union)}
    if check:  # the benchmark times the exact path: confirm it computes the same thing, or stop
        ff, x = ffs[0], xs[0]
        ff.sparse_forward = None
        ref = ff(x).float()
        ff.sparse_forward = sp.sparse_ffn
        err = (ff(x).float() - ref).abs().max().item() / max(ref.abs().max().item(), 1e-12)
        out["max_rel_err"] = err
        tol = EXACT_TOL[ffs[0].w1.weight.dtype]
        if not err <= tol:
            raise RuntimeError(f"the sparse FFN differs from the dense one: max relative error {err:.2e} > {tol:g} "
                               f"({ffs[0].w1.weight.dtype}); the timings would compare different computations")
    return out


def _bench_layer(cfg, rates, tdt, threads, batch, repeats, min_bytes, kv_len) -> dict:
    """One decoder layer (attention over a kv_len-token KV cache + FFN), dense vs sparse FFN."""
    d = cfg.dim
    isz = torch.finfo(tdt).bits // 8
    layer_bytes = (4 * d * d + 3 * d * cfg.ffn_dim) * isz
    n = _copies(layer_bytes, min_bytes)
    blocks = make_blocks(cfg, rates, tdt, n, ffn_only=False)
    xs = gate_inputs(n, batch, d, tdt, seed=2)
    caches = []
    for _ in range(n):
        c = KVCache(cfg, batch, max_len=kv_len + 1, dtype=tdt)
        for k, v in zip(c.k, c.v):
            k.normal_()
            v.normal_()
        c.length = kv_len
        caches.append(c)
    cos, sin = rope_tables(cfg.head_dim, kv_len + 1, cfg.rope_theta)
    cos, sin = cos[kv_len:kv_len + 1][None, None], sin[kv_len:kv_len + 1][None, None]
    mask = torch.ones(batch, 1, 1, kv_len + 1, dtype=torch.bool)
    with torch.inference_mode():
        for b in blocks:
            sp.w2_transposed(b.feed_forward)

        def run(i, on):
            blocks[i].feed_forward.sparse_forward = sp.sparse_ffn if on else None
            blocks[i](xs[i], cos, sin, caches[i], mask)  # cache.length stays kv_len: same work every call

        t = interleaved({"dense": lambda i: run(i, False), "sparse": lambda i: run(i, True)}, n, repeats)
    return {"layer_dense_ms": t["dense"]["median_ms"], "layer_sparse_ms": t["sparse"]["median_ms"],
            "layer_speedup": t["dense"]["median_ms"] / t["sparse"]["median_ms"],
            "layer_spread": spread(t["dense"], t["sparse"]), "layer_times": t, "kv_len": kv_len,
            "layer_copies": n}
