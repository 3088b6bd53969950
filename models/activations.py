"""FFN activations: RELU, SILU, GELU and the stochastic SILU/RELU mix of "Stochastic activations".

The stochastic activation (arXiv 2509.22358, Figure 1) draws, for each element (or token, or tensor),
a Bernoulli ω ~ B(p) and uses SILU where ω = 1, RELU where ω = 0. **p is the probability of the SILU
branch** (the paper's convention). Two modes:

- ``neg`` (default): the draw only matters for x < 0; x ≥ 0 passes through (RELU's positive side):
  ``y = relu(x) + ω · silu(min(x, 0))``
- ``full``: ``y = ω · silu(x) + (1 − ω) · relu(x)``

The gradient is the gradient of the drawn branch. Memory: the autograd function saves only its input
(which the preceding linear layer saves anyway) and the boolean draw, so the extra memory is one
mask-sized tensor (1 byte per element at ``element`` granularity, far less for ``token``/``tensor``).

An :class:`Activation` module holds an :class:`ActSpec` that can be swapped at run time
(``module.spec = ActSpec.parse("relu")``) — the trainer's schedule and the inference modes use this; the
model is never rebuilt. Its output is the FFN's post-activation tensor, the one the profiler hooks.

    >>> import torch
    >>> act = Activation(ActSpec.parse("stocha:p=0.7"), generator=torch.Generator().manual_seed(0))
    >>> act(torch.randn(2, 8)).shape
    torch.Size([2, 8])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

KINDS = ("relu", "silu", "gelu", "stocha")
MODES = ("neg", "full")
GRANULARITIES = ("element", "token", "tensor")


@dataclass(frozen=True)
class ActSpec:
    """Which non-linearity an FFN applies. ``p``/``mode``/``granularity`` matter only for ``stocha``."""

    kind: str = "silu"
    p: float = 0.5
    mode: str = "neg"
    granularity: str = "element"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown activation {self.kind!r}; valid: {', '.join(KINDS)}")
        if not isinstance(self.p, (int, float)) or not 0.0 <= float(self.p) <= 1.0:
            raise ValueError(f"p must be in [0, 1] (probability of the SILU branch), got {self.p!r}")
        if self.mode not in MODES:
            raise ValueError(f"unknown stochastic mode {self.mode!r}; valid: {', '.join(MODES)}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"unknown granularity {self.granularity!r}; valid: {', '.join(GRANULARITIES)}"
            )

    @property
    def sparse(self) -> bool:
        """True when the output has exact zeros by construction (RELU, or stochastic with p = 0)."""
        return self.kind == "relu" or (self.kind == "stocha" and self.p == 0.0)

    def __str__(self) -> str:
        if self.kind != "stocha":
            return self.kind
        s = f"stocha:p={self.p:g}"
        if self.mode != "neg":
            s += f",mode={self.mode}"
        if self.granularity != "element":
            s += f",gran={self.granularity}"
        return s

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ActSpec:
        return cls(**d)

    @classmethod
    def parse(cls, text: str) -> ActSpec:
        """Parse ``relu``, ``silu``, ``gelu`` or ``stocha:p=0.7[,mode=full][,gran=token]``."""
        text = text.strip()
        kind, _, rest = text.partition(":")
        if kind not in KINDS:
            raise ValueError(
                f"unknown activation {text!r}; valid: relu, silu, gelu, stocha:p=P[,mode=neg|full]"
                f"[,gran=element|token|tensor]"
            )
        if kind != "stocha":
            if rest:
                raise ValueError(f"activation {kind!r} takes no parameters, got {text!r}")
            return cls(kind)
        kw: dict = {}
        keys = {"p": "p", "mode": "mode", "gran": "granularity", "granularity": "granularity"}
        for part in filter(None, rest.split(",")):
            key, eq, val = part.partition("=")
            if not eq or key not in keys:
                raise ValueError(f"bad stochastic activation parameter {part!r} in {text!r}; "
                                 f"valid keys: p, mode, gran")
            if key == "p":
                try:
                    kw["p"] = float(val)
                except ValueError:
                    raise ValueError(f"p must be a number, got {val!r}") from None
            else:
                kw[keys[key]] = val
        if "p" not in kw:
            raise ValueError(f"stochastic activation needs p, e.g. stocha:p=0.7 (got {text!r})")
        return cls("stocha", **kw)


def draw_shape(shape: torch.Size, granularity: str) -> tuple[int, ...]:
    """Shape of the Bernoulli draw: one per element, per token (last dim shared), or one per tensor."""
    if granularity == "element":
        return tuple(shape)
    if granularity == "token":
        return tuple(shape[:-1]) + (1,)
    if granularity == "tensor":
        return (1,) * len(shape)
    raise ValueError(f"unknown granularity {granularity!r}; valid: {', '.join(GRANULARITIES)}")


def draw_mask(x: torch.Tensor, p: float, granularity: str, generator: torch.Generator | None):
    """Boolean draw, True where the SILU branch is selected (probability p)."""
    shape = draw_shape(x.shape, granularity)
    if p >= 1.0:
        return torch.ones(shape, dtype=torch.bool, device=x.device)
    if p <= 0.0:
        return torch.zeros(shape, dtype=torch.bool, device=x.device)
    # Uniform draws in the activation's dtype would quantise p (bf16 has 8 bits); float32 is exact enough.
    return torch.rand(shape, generator=generator, device=x.device, dtype=torch.float32) < p


class _StochasticAct(torch.autograd.Function):
    """y = where(sel, silu(x), relu(x)) with sel = mask (full) or mask & (x < 0) (neg).

    Saves x and the boolean mask only; the backward recomputes the branch derivatives.
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
    """Functional stochastic activation. Pass ``mask`` to reuse a draw (tests), else one is drawn."""
    ActSpec("stocha", p, mode, granularity)  # validates
    if mask is None:
        mask = draw_mask(x, p, granularity, generator)
    return _StochasticAct.apply(x, mask, mode == "full")


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
