"""Decode speed of a trained model, dense vs sparse FFN (``models.sparse.enable_sparse``): the same
process, the same prompt, interleaved runs, medians.

Two sparse figures, because they answer two questions:

- ``speedup``: what a user gets from ``enable_sparse(model)`` (``policy="auto"``), which keeps the dense
  path on FFN shapes where the sparse one does not win on this machine (``models.sparse_policy``). When it
  keeps dense everywhere the two decodings run the same code, so the figure is 1.0 by construction, not a
  second noisy measurement; ``path`` and ``reason`` say which path ran and why.
- ``speedup_kernel``: the sparse kernel forced on every FFN (``policy="always"``), measured whatever the
  decision: what skipping zeros costs or gains at this shape (at ``small`` it loses: d = 128 is too small).
"""

from __future__ import annotations

import statistics
import time

import torch

from models import sparse as sp


def _decode_once(model, prompt: torch.Tensor, n_new: int) -> float:
    """Seconds for n_new greedy decode steps after the prompt (prefill not timed)."""
    from models.llama import KVCache

    cache = KVCache(model.cfg, prompt.shape[0], max_len=prompt.shape[1] + n_new)
    logits = model(prompt, cache=cache)
    tok = logits[:, -1:].argmax(-1)
    t0 = time.perf_counter()
    for _ in range(n_new):
        tok = model(tok, cache=cache)[:, -1:].argmax(-1)
    return time.perf_counter() - t0


def decode_benchmark(model, prompt: torch.Tensor, n_new: int = 64, repeats: int = 7,
                     sparsity: float | None = None) -> dict:
    """Tokens/s dense vs sparse for the same model, interleaved (order alternating), medians.

    ``sparsity``: the model's FFN sparsity, for the auto decision (None: measured on random tokens).
    """
    n_new = min(n_new, model.cfg.max_seq_len - prompt.shape[1])
    if n_new < 1:
        raise ValueError("prompt leaves no room to decode within max_seq_len")
    with torch.no_grad():
        sp.enable_sparse(model, policy="auto", sparsity=sparsity)
        decisions = sp.sparse_decisions(model)
        path = "sparse" if sp.sparse_enabled(model) else "dense"
        times = {"dense": [], "kernel": []}
        for name in times:  # warm-up (and builds the kernel and W2ᵀ copies)
            sp.enable_sparse(model, name == "kernel", policy="always", release=False)
            _decode_once(model, prompt, min(4, n_new))
        for r in range(repeats):
            for name in (("dense", "kernel") if r % 2 == 0 else ("kernel", "dense")):
                sp.enable_sparse(model, name == "kernel", policy="always", release=False)
                times[name].append(_decode_once(model, prompt, n_new))
    sp.enable_sparse(model, False)
    tps = {k: n_new / statistics.median(v) for k, v in times.items()}
    # auto chose the sparse path on every FFN shape of these models (one shape each), so it ran what
    # "kernel" measured; or it kept dense everywhere, and ran exactly the dense code.
    tps["sparse"] = tps["kernel"] if path == "sparse" else tps["dense"]
    return {"tokens": n_new, "repeats": repeats, "prompt_len": prompt.shape[1],
            "path": path, "reason": "; ".join(d["reason"] for d in decisions), "decisions": decisions,
            "tokens_per_s_dense": tps["dense"], "tokens_per_s_sparse": tps["sparse"],
            "tokens_per_s_kernel": tps["kernel"],
            "speedup": tps["sparse"] / tps["dense"], "speedup_kernel": tps["kernel"] / tps["dense"],
            "ms_per_token": {k: [1e3 * t / n_new for t in v] for k, v in times.items()}}
