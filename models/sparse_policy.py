"""Whether the sparse FFN path beats the dense one for a model's FFN shape, measured once per machine.

Skipping zero neurons pays only when the bytes it saves outweigh its fixed costs (the active-set search,
the kernel call, a few small tensor ops). For the paper's widths it wins by 2× and more; for the tiny
FFNs trained here (d = 128, F = 344: 0.5 MB per layer, in cache) it loses 5–15%. ``enable_sparse(model,
policy="auto")`` asks :func:`decide` per distinct FFN shape and installs the sparse path only where it wins:

    >>> import torch
    >>> from models.registry import build_model
    >>> from models.sparse import enable_sparse, sparse_decisions
    >>> m = build_model("tiny", "relu").eval()
    >>> _ = enable_sparse(m, policy="auto", sparsity=0.9)
    >>> sorted(sparse_decisions(m)[0])          # doctest: +NORMALIZE_WHITESPACE
    ['cached', 'd', 'dense_ms', 'dtype', 'ffn_dim', 'ffns', 'path', 'ratio', 'reason', 'sparsity', 'threads']

**The measurement** runs the model's own FFNs (every FFN of that shape, in layer order: the working set
decoding streams) dense and sparse, interleaved, batch 1, with the activation replaced for the duration by
RELU masked to a random ``1 − sparsity`` of the neurons (a fresh mask per call, so the sparse path reads
other rows each time as in decoding). Both paths go through exactly the code decoding runs. The sparse
path is chosen when its median time is at most ``MARGIN`` (90%) of the dense one: a tie goes to dense,
so noise cannot make decoding slower.

**The cache** (``$SPARSEBENCH_POLICY_FILE``, else ``$SPARSEBENCH_KERNEL_DIR/sparse_policy.json``, default
``~/.cache/sparsebench``) keys each decision by CPU (model and flags, as the kernel build does), torch
version, whether the C++ kernel loaded, d, F, gated, dtype, threads, the number of FFNs of that shape and
the sparsity rounded to 0.05. Delete the file to measure again.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import statistics
import tempfile
import time

import torch

from models.kernels import cpu_tag, kernel_dir

MARGIN = 0.9  # sparse must take at most this fraction of the dense time to be chosen
_BUCKET = 0.05  # sparsity resolution of a cached decision


def cache_path() -> pathlib.Path:
    """``$SPARSEBENCH_POLICY_FILE``, else ``sparse_policy.json`` beside the compiled kernels."""
    return pathlib.Path(os.environ.get("SPARSEBENCH_POLICY_FILE") or kernel_dir() / "sparse_policy.json")


class MaskedRelu(torch.nn.Module):
    """RELU kept on a random ``density`` of the neurons (a new mask each call): exact zeros everywhere
    else, so the sparse path meets the requested sparsity whatever the weights. Measurement only."""

    def __init__(self, spec, ffn_dim: int, density: float, seed: int = 0, n_masks: int = 16):
        super().__init__()
        self.spec = spec  # the replaced activation's spec: FeedForward checks ``spec.sparse``
        g = torch.Generator().manual_seed(seed)
        k = max(1, round(density * ffn_dim)) if density > 0 else 0
        self.masks = []
        for _ in range(n_masks):
            m = torch.zeros(ffn_dim)
            m[torch.randperm(ffn_dim, generator=g)[:k]] = 1.0
            self.masks.append(m)
        self.i = 0

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        self.i = (self.i + 1) % len(self.masks)
        return (g.abs() + 1e-3) * self.masks[self.i].to(g.dtype)


def _key(ffs: list, sparsity: float, threads: int, kernel: bool) -> str:
    ff = ffs[0]
    w = ff.w1.weight
    bucket = round(round(sparsity / _BUCKET) * _BUCKET, 2)
    # The CPU as the kernel build keys it (model name and flags), hashed to keep the cache file readable.
    cpu = hashlib.sha256(cpu_tag().encode()).hexdigest()[:16]
    return json.dumps([cpu, torch.__version__, kernel, w.shape[1], w.shape[0], ff.gated, str(w.dtype)[6:],
                       threads, len(ffs), bucket])


def _load_cache() -> dict:
    try:
        return json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}  # absent or unreadable: measure again


def _store(key: str, rec: dict) -> None:
    """Add one decision to the machine's cache (atomic replace; a lost race only costs a re-measure)."""
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _load_cache()
        data[key] = rec
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sparse_policy.")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache dir: the decision still holds for this process


def measure(ffs: list, sparsity: float, sparse_forward, repeats: int = 7,
            min_s: float = 0.3) -> tuple[float, float]:
    """(dense, sparse) median ms for one pass over ``ffs`` at batch 1, activation masked to 1 − sparsity;
    ``sparse_forward`` is the path to time (``models.sparse.sparse_ffn``, which imports this module)."""
    d = ffs[0].w1.weight.shape[1]
    dtype = ffs[0].w1.weight.dtype
    saved = [(ff.act, ff.sparse_forward) for ff in ffs]
    xs = [torch.randn(1, 1, d, generator=torch.Generator().manual_seed(i)).to(dtype) for i in range(len(ffs))]
    times = {"dense": [], "sparse": []}
    try:
        for i, ff in enumerate(ffs):
            ff.act = MaskedRelu(ff.act.spec, ff.w1.weight.shape[0], 1.0 - sparsity, seed=i)

        def one_pass(path):
            t = time.perf_counter()
            for ff, x in zip(ffs, xs):
                ff.sparse_forward = sparse_forward if path == "sparse" else None
                ff(x)
            return time.perf_counter() - t

        with torch.no_grad():
            one_pass("dense"), one_pass("sparse")  # warm-up: kernel load, W2ᵀ copies, first touch
            r = 0
            while r < repeats or (sum(times["dense"]) + sum(times["sparse"]) < min_s and r < 200):
                for path in (("dense", "sparse") if r % 2 == 0 else ("sparse", "dense")):
                    times[path].append(one_pass(path))
                r += 1
    finally:
        for ff, (act, fwd) in zip(ffs, saved):
            ff.act, ff.sparse_forward = act, fwd
    return statistics.median(times["dense"]) * 1e3, statistics.median(times["sparse"]) * 1e3


def decide(ffs: list, sparsity: float, sparse_forward, kernel: bool, threads: int | None = None,
           use_cache: bool = True) -> dict:
    """Whether ``ffs`` (FFNs of one shape and dtype, in layer order) should run ``sparse_forward`` at this
    sparsity; ``kernel``: whether the compiled kernel loaded (part of the cache key)."""
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    threads = threads or torch.get_num_threads()
    w = ffs[0].w1.weight
    kernel = w.device.type == "cpu" and kernel
    key = _key(ffs, sparsity, threads, kernel)
    rec = _load_cache().get(key) if use_cache else None
    cached = rec is not None
    if rec is None:
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            dense_ms, sparse_ms = measure(ffs, sparsity, sparse_forward)
        finally:
            torch.set_num_threads(old)
        rec = {"dense_ms": dense_ms, "sparse_ms": sparse_ms, "ratio": dense_ms / sparse_ms,
               "path": "sparse" if sparse_ms <= MARGIN * dense_ms else "dense"}
        if use_cache:
            _store(key, rec)
    shape = f"{len(ffs)} FFN(s) d={w.shape[1]} F={w.shape[0]} {str(w.dtype)[6:]}, {threads} thread(s)"
    verdict = "wins" if rec["path"] == "sparse" else f"does not win by {1 / MARGIN:.2f}x"
    reason = (f"{'cached' if cached else 'measured'}: at sparsity {sparsity:.2f} the sparse FFN path runs "
              f"{rec['ratio']:.2f}x dense speed on {shape}; it {verdict}")
    return {"path": rec["path"], "reason": reason, "dense_ms": rec["dense_ms"], "ratio": rec["ratio"],
            "cached": cached, "d": int(w.shape[1]), "ffn_dim": int(w.shape[0]), "dtype": str(w.dtype)[6:],
            "threads": threads, "ffns": len(ffs), "sparsity": sparsity}


@torch.no_grad()
def sample_sparsity(model, n_tokens: int = 64, seed: int = 0) -> float:
    """Fraction of exact zeros of the FFN activations on random tokens: a stand-in when the caller does not
    know the model's sparsity (the profiler passes the one it measured on held-out text)."""
    from models.llama import FeedForward

    if not hasattr(model, "cfg"):
        raise ValueError("enable_sparse(policy='auto') needs sparsity=... for a model that is not a Transformer")
    zeros, total = [0], [0]

    def hook(mod, inp, out):
        zeros[0] += int((out == 0).sum())
        total[0] += out.numel()

    hooks = [m.act.register_forward_hook(hook) for m in model.modules() if isinstance(m, FeedForward)]
    try:
        vocab = model.cfg.vocab_size
        n = min(n_tokens, model.cfg.max_seq_len)
        model(torch.randint(0, vocab, (1, n), generator=torch.Generator().manual_seed(seed)))
    finally:
        for h in hooks:
            h.remove()
    return zeros[0] / max(total[0], 1)

