"""Decode speed of a trained model, dense vs sparse FFN (``models.sparse.enable_sparse``): the same
process, the same prompt, interleaved runs, medians.
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


def decode_benchmark(model, prompt: torch.Tensor, n_new: int = 64, repeats: int = 7) -> dict:
    """Tokens/s dense vs sparse for the same model, interleaved (order alternating), medians."""
    n_new = min(n_new, model.cfg.max_seq_len - prompt.shape[1])
    if n_new < 1:
        raise ValueError("prompt leaves no room to decode within max_seq_len")
    times = {"dense": [], "sparse": []}
    with torch.no_grad():
        for on in (False, True):  # warm-up (and builds the kernel and W2ᵀ copies)
            sp.enable_sparse(model, on)
            _decode_once(model, prompt, min(4, n_new))
        for r in range(repeats):
            for name in (("dense", "sparse") if r % 2 == 0 else ("sparse", "dense")):
                sp.enable_sparse(model, name == "sparse")
                times[name].append(_decode_once(model, prompt, n_new))
    sp.enable_sparse(model, False)
    tps = {k: n_new / statistics.median(v) for k, v in times.items()}
    return {"tokens": n_new, "repeats": repeats, "prompt_len": prompt.shape[1],
            "tokens_per_s_dense": tps["dense"], "tokens_per_s_sparse": tps["sparse"],
            "speedup": tps["sparse"] / tps["dense"],
            "ms_per_token": {k: [1e3 * t / n_new for t in v] for k, v in times.items()}}
