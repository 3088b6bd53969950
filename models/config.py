"""What a model is, as data: the FFN activation spec and the decoder's shape. No torch here, so the
registry and the command line (``python -m harness ls``) can name, check and count models without loading it.

    >>> str(ActSpec.parse("stocha:p=0.7,mode=full"))
    'stocha:p=0.7,mode=full'
    >>> ModelConfig(dim=64, n_layers=2, n_heads=4, ffn_dim=172, vocab_size=264).num_params()
    132928

``models.activations`` turns an :class:`ActSpec` into a module, ``models.llama`` a :class:`ModelConfig`
into a decoder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

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


@dataclass(frozen=True)
class ModelConfig:
    dim: int = 128
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int | None = None  # None → n_heads (plain multi-head attention)
    vocab_size: int = 264
    ffn_dim: int = 344  # hidden width of the FFN (LLaMA: 2/3 · 4 · dim, rounded)
    ffn_type: str = "gated"  # "gated": w2(act(w1 x) * w3 x); "plain": w2(act(w1 x))
    max_seq_len: int = 256
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_embeddings: bool = False
    # RoPE frequency scaling of imported checkpoints (harness.interop.hf): None, {"rope_type": "linear", "factor"}
    # or Llama 3's {"rope_type": "llama3", "factor", "low_freq_factor", "high_freq_factor",
    # "original_max_position_embeddings"}. Left out of to_dict() when None, so configs written before it
    # existed still compare equal (resume checks).
    rope_scaling: dict | None = None

    def __post_init__(self):
        if self.ffn_type not in ("gated", "plain"):
            raise ValueError(f"unknown ffn_type {self.ffn_type!r}; valid: gated, plain")
        kind = (self.rope_scaling or {}).get("rope_type", "default")
        if kind not in ("default", "linear", "llama3"):
            raise ValueError(f"unsupported RoPE scaling {kind!r}; supported: linear, llama3")
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} is not divisible by n_heads {self.n_heads}")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.kv_heads}")

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["rope_scaling"] is None:
            del d["rope_scaling"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)

    def num_params(self) -> int:
        """Parameter count from the shapes alone (equals ``sum(p.numel())`` of the built model)."""
        d, f, hd = self.dim, self.ffn_dim, self.head_dim
        attn = d * self.n_heads * hd * 2 + d * self.kv_heads * hd * 2
        ffn = d * f * (3 if self.ffn_type == "gated" else 2)
        per_layer = attn + ffn + 2 * d
        emb = self.vocab_size * d * (1 if self.tie_embeddings else 2)
        return self.n_layers * per_layer + emb + d
