"""FFN activations: RELU, SILU, GELU and the stochastic SILU/RELU mix of "Stochastic activations".

The stochastic activation (arXiv 2509.22358, Figure 1) draws, for each element (or token, or tensor),
a Bernoulli ω ~ B(p) and uses SILU where ω = 1, RELU where ω = 0. **p is the probability of the SILU
branch** (the paper's convention). Two modes:

- ``neg`` (default): the draw only matters for x < 0; x ≥ 0 passes through (RELU's positive side):
  ``y = relu(x) + ω · silu(min(x, 0))``
- ``full``: ``y = ω · silu(x) + (1 − ω) · relu(x)``

The gradient is the gradient of the drawn branch.

**Draws** are counter-based: each call takes ONE 62-bit seed from the model's ``torch.Generator`` (so the
draws follow from the seed and the generator state that checkpoints save), and the draw for index i is
``hash(seed, i) < p·2³²``, where ``hash`` is the low (i even) or high (i odd) half of splitmix64's
finaliser of ``seed + (i >> 1)·0x9E3779B97F4A7C15`` (one 64-bit hash feeds two draws). The index i is the flat element index (``element``), the row index
(``token``: one draw per position, shared along the last dimension) or 0 (``tensor``). The same hash is
computed by the fused C++ kernel (``stochastic_kernel.cpp``) and with int64 tensor ops (the PyTorch
path, CPU or CUDA); the draws are bitwise identical.

**Paths** (chosen per call): contiguous fp32/bf16 CPU tensors use the fused kernel, built on first use
by :mod:`models.kernels` — one pass forward, one pass backward that recomputes the draws from
``(seed, i, x)``, so nothing but the input (which the preceding linear layer saves anyway) is kept: no
extra memory. Anything else (CUDA, other dtypes, strided tensors, no compiler, ``SPARSEBENCH_KERNEL=0``)
uses PyTorch ops and keeps the boolean draw (one byte per draw) for the backward. The kernel's SILU
agrees with PyTorch's to a few ulp (its own vectorised exp), the branch choices exactly.

An :class:`Activation` module holds an :class:`ActSpec` that can be swapped at run time
(``module.spec = ActSpec.parse("relu")``) — the trainer's schedule and the inference modes use this; the
model is never rebuilt. Its output is the FFN's post-activation tensor, the one the profiler hooks.

    >>> import torch
    >>> act = Activation(ActSpec.parse("stocha:p=0.7"), generator=torch.Generator().manual_seed(0))
    >>> act(torch.randn(2, 8)).shape
    torch.Size([2, 8])
"""

from __future__ import annotations

import ctypes
import pathlib

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from models.config import GRANULARITIES, ActSpec
from models.kernels import Kernel


def draw_shape(shape: torch.Size, granularity: str) -> tuple[int, ...]:
    """Shape of the Bernoulli draw: one per element, per token (last dim shared), or one per tensor."""
    if granularity == "element":
        return tuple(shape)
    if granularity == "token":
        return tuple(shape[:-1]) + (1,)
    if granularity == "tensor":
        return (1,) * len(shape)
    raise ValueError(f"unknown granularity {granularity!r}; valid: {', '.join(GRANULARITIES)}")


# ---- counter-based draws --------------------------------------------------------------------------
SEED_BOUND = 2**62
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_GRAN_CODE = {"element": 0, "token": 1, "tensor": 2}


def _i64(c: int) -> int:
    """The int64 with the same 64 bits as the unsigned constant ``c`` (tensor ops are signed)."""
    return c - (1 << 64) if c >= 1 << 63 else c


def _lsr(z: torch.Tensor, k: int) -> torch.Tensor:
    """Logical right shift of int64 bits (torch's ``>>`` is arithmetic: mask off the copied sign bits)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def draw_threshold(p: float) -> int:
    """SILU is drawn where the 32-bit hash is below this: floor(p·2³²), exact for every float p."""
    return 1 << 32 if p >= 1.0 else max(0, int(float(p) * 4294967296.0))


def draw_seed(generator: torch.Generator | None, device=None) -> int:
    """One 62-bit seed from ``generator`` (the global generator when None): all the randomness of a call."""
    dev = generator.device if generator is not None else (device or "cpu")
    return int(torch.randint(0, SEED_BOUND, (1,), generator=generator, device=dev).item())


def mix64(z: torch.Tensor) -> torch.Tensor:
    """splitmix64's finaliser on int64 bits (int64 multiply wraps mod 2⁶⁴ on CPU and CUDA, which is
    exactly the kernel's unsigned arithmetic)."""
    z = (z ^ _lsr(z, 30)) * _i64(_MIX1)
    z = (z ^ _lsr(z, 27)) * _i64(_MIX2)
    return z ^ _lsr(z, 31)


def hash_draws(seed: int, n: int, device=None) -> torch.Tensor:
    """The 32-bit hashes (as int64 in [0, 2³²)) of draw indices 0..n-1, with int64 tensor ops only.

    Draw i is the low (i even) or high (i odd) half of ``mix64(seed + (i >> 1)·golden)``: one 64-bit
    hash feeds two draws, as in the kernel.
    """
    j = torch.arange((n + 1) // 2, dtype=torch.int64, device=device)
    z = mix64(j * _i64(_GOLDEN) + _i64(seed))
    return torch.stack((z & 0xFFFFFFFF, _lsr(z, 32)), -1).reshape(-1)[:n]


def _n_draws(x: torch.Tensor, granularity: str) -> tuple[int, int]:
    """(number of draws, row length) for ``x`` at ``granularity``."""
    rowlen = x.shape[-1] if x.dim() > 0 else 1
    if granularity == "element":
        return x.numel(), rowlen
    if granularity == "token":
        return (x.numel() // rowlen if rowlen else 0), rowlen
    return 1, rowlen


def _draws_torch(seed: int, thr: int, n: int, device) -> torch.Tensor:
    return hash_draws(seed, n, device) < thr


def _draws_kernel(lib, seed: int, thr: int, n: int) -> torch.Tensor:
    out = torch.empty(n, dtype=torch.uint8)
    lib.sa_draws(out.data_ptr(), n, seed, thr)
    return out.view(torch.bool)


def draw_mask(x: torch.Tensor, p: float, granularity: str, generator: torch.Generator | None):
    """Boolean draw, True where the SILU branch is selected (probability p).

    Takes the same seed from ``generator`` as :func:`stochastic_activation` would, so from the same
    generator state both select the same branches.
    """
    shape = draw_shape(x.shape, granularity)
    if p >= 1.0:
        return torch.ones(shape, dtype=torch.bool, device=x.device)
    if p <= 0.0:
        return torch.zeros(shape, dtype=torch.bool, device=x.device)
    seed, thr = draw_seed(generator, x.device), draw_threshold(p)
    n, _ = _n_draws(x, granularity)
    lib = load_kernel() if x.device.type == "cpu" else None
    draws = _draws_kernel(lib, seed, thr, n) if lib is not None else _draws_torch(seed, thr, n, x.device)
    return draws.reshape(shape)


# ---- the fused kernel ------------------------------------------------------------------------------
_VP, _I64, _U64, _I32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int  # kernel ABI types
_KERNEL = Kernel(pathlib.Path(__file__).with_name("stochastic_kernel.cpp"), "stochastic_kernel", {
    "sa_forward": ([_VP, _VP, _I64, _I64, _U64, _U64, _I32, _I32, _I32, _I32], None),
    "sa_backward": ([_VP, _VP, _VP, _I64, _I64, _U64, _U64, _I32, _I32, _I32, _I32], None),
    "sa_draws": ([_VP, _I64, _U64, _U64], None),
    "sa_version": ([], _I32),
}, fallback="the PyTorch path")


def load_kernel(build: bool = True):
    """The compiled ``stochastic_kernel.cpp`` (ctypes), built on first use; None if unavailable.

    ``kernel_error()`` then says why. ``SPARSEBENCH_KERNEL=0`` disables it (the PyTorch path runs).
    """
    return _KERNEL.load(build)


def kernel_error() -> str | None:
    return _KERNEL.error


def kernel_available() -> bool:
    return load_kernel() is not None


def _kernel_for(x: torch.Tensor):
    """The kernel library when it can run on ``x`` (contiguous fp32/bf16 on the CPU), else None."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.bfloat16) or not x.is_contiguous():
        return None
    if x.numel() == 0:
        return None
    return load_kernel()


class _FusedStochasticAct(torch.autograd.Function):
    """The kernel path: saves x only; the backward recomputes the draws from (seed, index)."""

    @staticmethod
    def forward(ctx, x, lib, seed: int, thr: int, gran: int, full: bool):
        y = torch.empty_like(x, memory_format=torch.contiguous_format)
        _, rowlen = _n_draws(x, "token")
        lib.sa_forward(x.data_ptr(), y.data_ptr(), x.numel(), rowlen, seed, thr, gran, int(full),
                       int(x.dtype == torch.bfloat16), torch.get_num_threads())
        ctx.save_for_backward(x)
        ctx.args = (lib, seed, thr, gran, full, rowlen)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        lib, seed, thr, gran, full, rowlen = ctx.args
        g = grad.to(x.dtype).contiguous()  # e.g. the stride-0 gradient of .sum()
        dx = torch.empty_like(x, memory_format=torch.contiguous_format)
        lib.sa_backward(x.data_ptr(), g.data_ptr(), dx.data_ptr(), x.numel(), rowlen, seed, thr, gran,
                        int(full), int(x.dtype == torch.bfloat16), torch.get_num_threads())
        return dx, None, None, None, None, None


class _StochasticAct(torch.autograd.Function):
    """y = where(sel, silu(x), relu(x)) with sel = mask (full) or mask & (x < 0) (neg).

    The PyTorch path. Saves x and the boolean mask only; the backward recomputes the branch derivatives.
    """

    @staticmethod
    def forward(ctx, x, mask, full: bool):
        sel = mask if full else mask & (x < 0)
        y = torch.where(sel, F.silu(x), F.relu(x))
        ctx.save_for_backward(x, mask)
        ctx.full = full
        return y

    @staticmethod
    def backward(ctx, grad):
        x, mask = ctx.saved_tensors
        sel = mask if ctx.full else mask & (x < 0)
        sig = torch.sigmoid(x)
        dsilu = sig * (1 + x * (1 - sig))
        d = torch.where(sel, dsilu, (x > 0).to(x.dtype))
        return grad * d, None, None


def stochastic_activation(x, p: float, mode: str = "neg", granularity: str = "element",
                          generator: torch.Generator | None = None, mask: torch.Tensor | None = None):
    """Functional stochastic activation. Pass ``mask`` to reuse a draw (tests), else one is drawn.

    Without ``mask`` one seed is taken from ``generator`` (none when p is 0 or 1: nothing is random).
    """
    ActSpec("stocha", p, mode, granularity)  # validates
    full = mode == "full"
    if mask is not None:
        return _StochasticAct.apply(x, mask, full)
    if 0.0 < p < 1.0:
        seed, thr = draw_seed(generator, x.device), draw_threshold(p)
    else:  # one constant draw for the whole tensor
        seed, thr, granularity = 0, draw_threshold(p), "tensor"
    lib = _kernel_for(x)
    if lib is not None:
        return _FusedStochasticAct.apply(x, lib, seed, thr, _GRAN_CODE[granularity], full)
    n, _ = _n_draws(x, granularity)
    draws = _draws_torch(seed, thr, n, x.device).reshape(draw_shape(x.shape, granularity))
    return _StochasticAct.apply(x, draws, full)


class Activation(torch.nn.Module):
    """The FFN non-linearity, switchable at run time through ``.spec``.

    ``generator`` feeds the stochastic draws; the model shares one generator between all its layers
    so a single seed (and a single state in the checkpoint) makes every draw reproducible.
    """

    def __init__(self, spec: ActSpec | str = "silu", generator: torch.Generator | None = None):
        super().__init__()
        self.spec = ActSpec.parse(spec) if isinstance(spec, str) else spec
        self.generator = generator

    def forward(self, x):
        s = self.spec
        if s.kind == "relu":
            return F.relu(x)
        if s.kind == "silu":
            return F.silu(x)
        if s.kind == "gelu":
            return F.gelu(x)
        return stochastic_activation(x, s.p, s.mode, s.granularity, self.generator)

    def extra_repr(self) -> str:
        return str(self.spec)
