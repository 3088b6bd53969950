"""Exact sparse FFN inference: skip the neurons whose activation is exactly zero.

For a gated FFN ``y = W2 (act(W1 x) ⊙ W3 x)`` with a RELU-type activation, the gate ``W1 x`` is computed
densely (it decides which neurons are zero); then only the active rows of ``W3`` and the active rows of
``W2ᵀ`` are read: ``y = Σ_{j active} act_j · <W3[j], x> · W2ᵀ[j]``. Bytes per token drop from ``3·d·F`` to
``d·F·(1 + 2(1−s))`` at sparsity s — an ideal speed-up of ``3 / (1 + 2(1−s))`` (2.5× at s = 0.9).

One switch makes the same model decode dense or sparse; outputs agree within float tolerance:

    >>> import torch
    >>> from models.registry import build_model
    >>> from models.sparse import enable_sparse
    >>> m = build_model("tiny", "relu").eval()
    >>> tok = torch.randint(0, 264, (1, 16))
    >>> with torch.no_grad():
    ...     dense = m(tok)
    ...     _ = enable_sparse(m, policy="always")  # every FeedForward uses sparse_ffn (no_grad, RELU only)
    ...     sparse = m(tok)
    >>> torch.allclose(dense, sparse, atol=1e-5)
    True

``enable_sparse(m)`` alone (``policy="auto"``) switches only the FFN shapes where the sparse path is
measured to win on this machine (:mod:`models.sparse_policy`), so decoding is never slower than dense;
``sparse_decisions(m)`` says which path each shape got and why.

Paths (chosen per call):

- **kernel** (CPU): ``sparse_kernel.cpp``, built lazily with the system C++ compiler on first use into
  ``$SPARSEBENCH_KERNEL_DIR`` (default ``~/.cache/sparsebench``) and loaded with ctypes — one fused pass
  that finds the active neurons, streams each active W3 row and W2ᵀ row once, and accumulates in fp32,
  for any small batch (the union of the rows' active neurons). Its own thread pool never waits for a
  thread the OS has not scheduled (see the .cpp). ``SPARSEBENCH_KERNEL=0`` disables it.
- **torch** (CUDA, or no compiler): ``index_select`` of active W3 rows + ``mv`` + ``embedding_bag`` over
  contiguous W2ᵀ rows (the fastest plain-PyTorch formulation measured here; ``python -m harness bench ffn``
  reports it as ``speedup_torch_path``).
- **dense**: when the union of active neurons over a batch exceeds ``max_density`` the gather costs more
  than it saves (more rows than the dense read could skip); the ordinary dense product runs, reusing the
  activation already computed.

The activation module ``ff.act`` is always called on the gate, so profiler hooks keep firing. W2ᵀ is kept
as a cached contiguous copy per FFN, rebuilt when the weight changes (its version counter, storage,
dtype or device).
"""

from __future__ import annotations

import ctypes
import pathlib

import torch
import torch.nn.functional as F

from models.kernels import CFLAGS, Kernel, kernel_dir  # noqa: F401 (kernel_dir: API)

_SRC = pathlib.Path(__file__).with_name("sparse_kernel.cpp")
_CFLAGS = CFLAGS
# Batch > 1 shares one read of each active row; once the union of active neurons exceeds this fraction
# the sparse read (gate + 2·union) no longer beats the dense one by enough (measured with
# `python -m harness bench ffn --batch B`). Batch 1 gathers whenever anything is zero (by the byte count).
MAX_DENSITY_UNION = 0.35
MAX_DENSITY_SINGLE = 0.9

_VP, _I64, _I32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int  # kernel ABI types
_KERNEL = Kernel(_SRC, "sparse_kernel", {
    "sb_gather_ffn": ([_VP, _VP, _I64, _I64, _I64, _VP, _VP, _I32, _VP, _I32], _I64),
    "sb_gemv": ([_VP, _I64, _I64, _I64, _VP, _I32, _VP, _I32], None),
    "sb_dense_ffn": ([_VP, _I64, _I64, _I64, _VP, _VP, _VP, _I32, _VP, _VP, _I32], None),
    "sb_rows_gemv": ([_VP, _I64, _VP, _I64, _VP, _I32, _VP, _I32], None),
    "sb_version": ([], _I32),
}, fallback="the PyTorch sparse path", cflags=_CFLAGS)


# ---- the compiled kernel ----------------------------------------------------------------------------
def load_kernel(build: bool = True):
    """The compiled kernel library (ctypes), building it on first use; None if it cannot be built.

    ``kernel_error()`` then says why. Set ``SPARSEBENCH_KERNEL=0`` to use the plain-PyTorch path.
    """
    return _KERNEL.load(build)


def kernel_error() -> str | None:
    return _KERNEL.error


def kernel_available() -> bool:
    return load_kernel() is not None


# ---- W2ᵀ cache --------------------------------------------------------------------------------------
def w2_transposed(ff) -> torch.Tensor:
    """Contiguous W2ᵀ (F, d) of a FeedForward, cached until the weight changes.

    The key holds the parameter's version counter (bumped by every in-place update: optimizer steps,
    ``load_state_dict``), its storage pointer, dtype and device, so a stale copy is never used.
    """
    w = ff.w2.weight
    key = (w.data_ptr(), w._version, w.dtype, w.device, tuple(w.shape))
    cached = ff.__dict__.get("_sparse_w2t")
    if cached is None or cached[0] != key:
        with torch.no_grad():
            cached = (key, w.detach().t().contiguous())
        ff.__dict__["_sparse_w2t"] = cached  # plain attribute: not a buffer, never in the state dict
    return cached[1]


# ---- the sparse forward -----------------------------------------------------------------------------
def kernel_gemv(lib, x2: torch.Tensor, w: torch.Tensor, threads: int) -> torch.Tensor:
    """(N, d) @ w(F, d)ᵀ → (N, F) fp32 with the kernel's row-streaming GEMV (fp32 or bf16 weights)."""
    N, d = x2.shape
    xf = x2.float().contiguous()
    out = torch.empty(N, w.shape[0], dtype=torch.float32)
    lib.sb_gemv(xf.data_ptr(), N, d, w.shape[0], w.data_ptr(), int(w.dtype == torch.bfloat16),
                out.data_ptr(), threads)
    return out


def kernel_gather(lib, x2: torch.Tensor, h2: torch.Tensor, w3, w2t: torch.Tensor, threads: int) -> torch.Tensor:
    """(N, d) fp32 = Σ over the neurons nonzero in any row of ``h2`` (N, F) of h·<W3_j, x>·W2ᵀ_j (the
    kernel finds them itself); ``w3`` None for a plain FFN."""
    N, Fdim = h2.shape
    xf = x2.float().contiguous()
    hf = h2.float().contiguous()
    y = torch.empty(N, x2.shape[1], dtype=torch.float32)
    lib.sb_gather_ffn(xf.data_ptr(), hf.data_ptr(), N, x2.shape[1], Fdim, 0 if w3 is None else w3.data_ptr(),
                      w2t.data_ptr(), int(w2t.dtype == torch.bfloat16), y.data_ptr(), threads)
    return y


def kernel_rows_gemv(lib, x: torch.Tensor, w: torch.Tensor, rows: torch.Tensor, threads: int) -> torch.Tensor:
    """``w[rows] @ x`` → (K,) fp32 for one token ``x`` (d,), reading only those rows of ``w`` (F, d)."""
    xf = x.float().contiguous()
    idx = rows.to(torch.int64).contiguous()
    out = torch.empty(idx.numel(), dtype=torch.float32)
    lib.sb_rows_gemv(xf.data_ptr(), xf.numel(), idx.data_ptr(), idx.numel(), w.data_ptr(),
                     int(w.dtype == torch.bfloat16), out.data_ptr(), threads)
    return out


def kernel_dense_ffn(lib, ff, x2: torch.Tensor, threads: int) -> torch.Tensor:
    """The dense gated RELU FFN in one kernel call through the sparse path's own loops, no neuron skipped:
    the same-kernel baseline that isolates the gain from sparsity (bounded by :func:`ideal_speedup`)."""
    N, d = x2.shape
    w1, w3, w2t = ff.w1.weight, ff.w3.weight, w2_transposed(ff)
    if not ff.gated or len({w1.dtype, w3.dtype, w2t.dtype}) != 1:
        raise ValueError("kernel_dense_ffn needs a gated FFN whose three weights share one dtype")
    xf = x2.float().contiguous()
    h = torch.empty(N, w1.shape[0], dtype=torch.float32)
    y = torch.empty(N, d, dtype=torch.float32)
    lib.sb_dense_ffn(xf.data_ptr(), N, d, w1.shape[0], w1.data_ptr(), w3.data_ptr(), w2t.data_ptr(),
                     int(w1.dtype == torch.bfloat16), h.data_ptr(), y.data_ptr(), threads)
    return y


def _kernel_ok(lib, x: torch.Tensor, *weights) -> bool:
    return (lib is not None and x.device.type == "cpu" and x.dtype in (torch.float32, torch.bfloat16)
            and all(w is None or (w.dtype == x.dtype and w.is_contiguous() and w.device.type == "cpu")
                    for w in weights))


def gather_torch(x2: torch.Tensor, h2: torch.Tensor, w3, w2t: torch.Tensor, active: torch.Tensor):
    """PyTorch path over the active (union) neuron indices ``active`` (K,)."""
    if active.numel() == 0:  # nothing fires: the output is exactly zero
        return torch.zeros(x2.shape[0], w2t.shape[1], dtype=x2.dtype, device=x2.device)
    if x2.shape[0] == 1:
        hv = h2[0].index_select(0, active)
        if w3 is not None:
            hv = hv * torch.mv(w3.index_select(0, active), x2[0])
        return F.embedding_bag(active[None], w2t, per_sample_weights=hv[None], mode="sum")
    hv = h2.index_select(1, active)  # (N, K)
    if w3 is not None:
        hv = hv * (x2 @ w3.index_select(0, active).t())
    return hv @ w2t.index_select(0, active)  # (N, d)


def sparse_ffn(ff, x: torch.Tensor) -> torch.Tensor:
    """Same output as ``FeedForward.forward`` (RELU-type activation), skipping zero neurons.

    Installed as ``ff.sparse_forward`` by :func:`enable_sparse`; callable directly as well.
    """
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])  # (N, D)
    w1 = ff.w1.weight
    w3 = ff.w3.weight if ff.gated else None
    lib = load_kernel() if x.device.type == "cpu" else None
    use_kernel = _kernel_ok(lib, x2, w1, w3, ff.w2.weight)  # one element size for every weight
    threads = torch.get_num_threads()
    # The gate: the kernel's GEMV streams W1 faster than torch's on the CPUs measured (bench reports both).
    b1 = ff.w1.bias  # None in every model here; the decode benchmark's random models set it (sparsity control)
    if use_kernel:
        g = kernel_gemv(lib, x2, w1, threads).to(x.dtype)
        g = g + b1 if b1 is not None else g
    else:
        g = F.linear(x2, w1, b1)
    h2 = ff.act(g)  # (N, F): the hooked post-activation tensor
    N, Fdim = h2.shape
    if N == 1:
        limit = MAX_DENSITY_SINGLE
        dense = not use_kernel and bool((h2 != 0).sum() > limit * Fdim)
    else:
        limit = MAX_DENSITY_UNION
        dense = bool((h2 != 0).any(0).sum() > limit * Fdim)
    if dense:  # the gather would read about as much as the dense product: run that instead
        h = h2 * F.linear(x2, w3) if w3 is not None else h2
        return F.linear(h, ff.w2.weight).reshape(shape)
    w2t = w2_transposed(ff)
    if use_kernel:
        return kernel_gather(lib, x2, h2, w3, w2t, threads).to(x.dtype).reshape(shape)
    active = (h2 != 0).any(0).nonzero().squeeze(1)
    return gather_torch(x2, h2, w3, w2t, active).reshape(shape)


def predicted_ffn(ff, x: torch.Tensor) -> torch.Tensor:
    """The FFN output over the neurons ``ff.predictor`` predicts (``models.sparse_predictor``): approximate,
    opt-in through ``enable_sparse(model, predictor=...)``."""
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    pred = ff.predictor.predict(x2)  # (N, F)
    w1, w3 = ff.w1.weight, ff.w3.weight if ff.gated else None
    lib = load_kernel() if x.device.type == "cpu" else None
    if x2.shape[0] == 1 and _kernel_ok(lib, x2, w1, w3, ff.w2.weight) and ff.w1.bias is None:
        rows = pred[0].nonzero().squeeze(1)
        h = torch.zeros(1, w1.shape[0], dtype=x.dtype)
        h[0, rows] = kernel_rows_gemv(lib, x2[0], w1, rows, torch.get_num_threads()).to(x.dtype)
        h = ff.act(h)  # the hook point, as on the other paths; unpredicted neurons are exactly 0
        y = kernel_gather(lib, x2, h, w3, w2_transposed(ff), torch.get_num_threads())
        return y.to(x.dtype).reshape(shape)
    h = ff.act(F.linear(x2, w1, ff.w1.bias)) * pred.to(x.dtype)  # same function, computed densely
    if w3 is not None:
        h = h * F.linear(x2, w3)
    return F.linear(h, ff.w2.weight).reshape(shape)


def enable_sparse(model: torch.nn.Module, on: bool = True, *, policy: str = "auto",
                  sparsity: float | None = None, threads: int | None = None,
                  release: bool = True, predictor=None) -> torch.nn.Module:
    """Switch the FeedForwards of ``model`` to the sparse path (``on=False``: all back to dense).

    ``policy="auto"`` (default) installs the sparse path only on the FFN shapes where it is measured to win
    on this machine at ``sparsity`` and ``threads`` (:mod:`models.sparse_policy`: a one-off measurement,
    cached per machine); ``sparsity=None`` takes the model's own on random tokens. ``policy="always"``
    installs it everywhere (tests of exactness, benchmarks of the kernel). :func:`sparse_decisions` tells
    which path each shape got and why.

    The sparse path runs only under ``torch.no_grad()`` and when the activation has exact zeros (RELU);
    otherwise FeedForward falls back to its dense forward by itself. ``predictor`` (one
    ``models.sparse_predictor.NeuronPredictor`` per FFN, in order) installs the approximate
    :func:`predicted_ffn` everywhere instead: never the default. ``on=False`` frees the W2ᵀ copies
    unless ``release=False`` (benchmarks switching back and forth: rebuilding them costs a transpose of
    every W2 on the next sparse token). Returns the model.
    """
    from models.llama import FeedForward

    if policy not in ("auto", "always"):
        raise ValueError(f"unknown policy {policy!r}; valid: auto, always")
    ffs = [m for m in model.modules() if isinstance(m, FeedForward)]
    if not ffs:
        raise ValueError("enable_sparse: the model has no FeedForward modules")
    for ff in ffs:
        ff.sparse_forward = None
        ff.__dict__.pop("sparse_decision", None)
        ff.__dict__.pop("predictor", None)
        if not on and release:
            ff.__dict__.pop("_sparse_w2t", None)  # free the W2ᵀ copy
    if not on:
        return model
    if predictor is not None:
        from models.sparse_predictor import attach

        decision = {"path": "predictor", "reason": "a neuron predictor was given (approximate, opt-in)"}
        for ff in attach(model, predictor):
            ff.__dict__["sparse_decision"] = decision
            ff.sparse_forward = predicted_ffn
        return model
    groups: dict[tuple, list] = {}
    for ff in ffs:
        w = ff.w1.weight
        groups.setdefault((tuple(w.shape), ff.gated, w.dtype, w.device.type), []).append(ff)
    if policy == "auto" and sparsity is None and ffs[0].act.spec.sparse:
        from models.sparse_policy import sample_sparsity
        sparsity = sample_sparsity(model)
    for group in groups.values():
        if policy == "always" or not group[0].act.spec.sparse:
            decision = {"path": "sparse", "reason": "policy 'always'" if policy == "always"
                        else "the activation has no exact zeros: the dense forward runs by itself"}
        else:
            from models.sparse_policy import decide
            decision = decide(group, sparsity, sparse_ffn, kernel_available(), threads)
        for ff in group:
            ff.__dict__["sparse_decision"] = decision  # plain attribute, never in the state dict
            ff.sparse_forward = sparse_ffn if decision["path"] == "sparse" else None
    return model


def sparse_decisions(model: torch.nn.Module) -> list[dict]:
    """The decisions of the last :func:`enable_sparse`, one per FFN shape (empty when it was switched off)."""
    seen, out = set(), []
    for m in model.modules():
        d = m.__dict__.get("sparse_decision")
        if d is not None and id(d) not in seen:
            seen.add(id(d))
            out.append(d)
    return out


def sparse_enabled(model: torch.nn.Module) -> bool:
    from models.llama import FeedForward

    return any(isinstance(m, FeedForward) and m.sparse_forward is not None for m in model.modules())


def ffn_bytes(d: int, ffn_dim: int, sparsity: float, gated: bool = True, itemsize: int = 4) -> tuple[int, int]:
    """(dense, sparse) weight bytes read per token by one FFN."""
    mats = 3 if gated else 2
    dense = mats * d * ffn_dim * itemsize
    sparse = d * ffn_dim * itemsize * (1 + (mats - 1) * (1 - sparsity))
    return dense, int(sparse)


def ideal_speedup(sparsity: float, gated: bool = True) -> float:
    """Byte-count limit of the FFN speed-up with a dense gate: 3 / (1 + 2(1−s)) (gated)."""
    mats = 3 if gated else 2
    return mats / (1 + (mats - 1) * (1 - sparsity))
