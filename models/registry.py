"""Registry of model variants: scales × activation recipes, parsed from names so any grid point works.

Recipes (the FFN activation during training, and at inference):

=====================  =========================================  ==================  ==============
name                   training                                   last α of steps     inference
=====================  =========================================  ==================  ==============
``relu``               RELU                                       RELU                RELU (sparse)
``silu``               SILU                                       SILU                SILU (dense)
``gelu``               GELU                                       GELU                GELU (dense)
``swi-ft-a{α}``        SILU                                       RELU                RELU (sparse)
``stocha-p{p}-a{α}``   stochastic: SILU w.p. p on x<0, else RELU  RELU                RELU (sparse)
=====================  =========================================  ==================  ==============

``stocha`` names take optional suffixes: ``-full`` (draw applies to x ≥ 0 too) and ``-tok`` / ``-tensor``
(one draw per token / per tensor instead of per element), e.g. ``stocha-p0.5-a0.1-full-tok``.
p ∈ [0, 1] (probability of SILU), α ∈ [0, 1) (fraction of steps fine-tuned with RELU at the end).

    >>> get_variant("stocha-p0.7-a0.05").switch_step(1000)
    950
    >>> str(get_variant("swi-ft-a0.1").act_at(10, 1000)), str(get_variant("swi-ft-a0.1").act_at(900, 1000))
    ('silu', 'relu')
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from models.config import ActSpec, ModelConfig

if TYPE_CHECKING:
    from models.llama import Transformer

# Byte-level vocabulary: 256 bytes + BOS, EOS, PAD, padded to a multiple of 8 (harness.data.tokenizer).
BYTE_VOCAB = 264
LLAMA3_VOCAB = 128256

VALID_FORMS = (
    "relu, silu, gelu, swi-ft-a{alpha}, stocha-p{p}-a{alpha}[-full][-tok|-tensor] "
    "(p in [0, 1] = probability of SILU; alpha in [0, 1) = final fraction of steps with RELU), "
    "e.g. swi-ft-a0.1, stocha-p0.7-a0.05"
)

_NUM = r"(\d+(?:\.\d+)?|\.\d+)"
_PATTERNS = {
    "swi-ft": re.compile(rf"^swi-ft-a{_NUM}$"),
    "stocha": re.compile(rf"^stocha-p{_NUM}-a{_NUM}(?P<mode>-full|-neg)?(?P<gran>-tok|-tensor|-element)?$"),
}


@dataclass(frozen=True)
class Variant:
    """An activation recipe: what the FFN applies in each training phase and at inference."""

    recipe: str  # relu | silu | gelu | swi-ft | stocha
    p: float | None = None  # stocha only: probability of the SILU branch
    alpha: float = 0.0  # fraction of the final steps trained with RELU (swi-ft, stocha)
    mode: str = "neg"
    granularity: str = "element"

    def __post_init__(self):
        if self.recipe not in ("relu", "silu", "gelu", "swi-ft", "stocha"):
            raise ValueError(f"unknown recipe {self.recipe!r}; valid forms: {VALID_FORMS}")
        if not 0.0 <= self.alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {self.alpha:g}")
        if self.recipe == "stocha":
            if self.p is None or not 0.0 <= self.p <= 1.0:
                raise ValueError(f"p must be in [0, 1] (probability of the SILU branch), got {self.p}")
            ActSpec("stocha", self.p, self.mode, self.granularity)  # validates mode/granularity

    @property
    def name(self) -> str:
        if self.recipe in ("relu", "silu", "gelu"):
            return self.recipe
        if self.recipe == "swi-ft":
            return f"swi-ft-a{self.alpha:g}"
        s = f"stocha-p{self.p:g}-a{self.alpha:g}"
        if self.mode == "full":
            s += "-full"
        if self.granularity != "element":
            s += {"token": "-tok", "tensor": "-tensor"}[self.granularity]
        return s

    @property
    def label(self) -> str:
        """The paper's notation, for tables."""
        if self.recipe == "swi-ft":
            return f"Swi+FT(α={self.alpha:g})"
        if self.recipe == "stocha":
            extra = "".join(f", {x}" for x in (self.mode, self.granularity) if x not in ("neg", "element"))
            return f"StochA(p={self.p:g}, α={self.alpha:g}{extra})"
        return self.recipe.upper()

    @property
    def train_act(self) -> ActSpec:
        """Activation before the switch (the whole run for relu/silu/gelu)."""
        if self.recipe == "stocha":
            return ActSpec("stocha", self.p, self.mode, self.granularity)
        if self.recipe == "swi-ft":
            return ActSpec("silu")
        return ActSpec(self.recipe)

    @property
    def inference_act(self) -> ActSpec:
        return ActSpec("relu") if self.recipe in ("swi-ft", "stocha") else ActSpec(self.recipe)

    def switch_step(self, total_steps: int) -> int | None:
        """First step trained with RELU, (1 − α)·T rounded; None if the recipe never switches."""
        if self.recipe not in ("swi-ft", "stocha"):
            return None
        return int(round((1.0 - self.alpha) * total_steps))

    def act_at(self, step: int, total_steps: int) -> ActSpec:
        """The activation at a (0-based) training step: the schedule is a pure function of the step."""
        s = self.switch_step(total_steps)
        if s is not None and step >= s:
            return ActSpec("relu")
        return self.train_act

    def phase_at(self, step: int, total_steps: int) -> str:
        s = self.switch_step(total_steps)
        return "relu-ft" if s is not None and step >= s else "pretrain"

    def schedule(self, total_steps: int) -> list[dict]:
        """Phases as [{start, end, act}] (end exclusive), for config files and ``ls --json``."""
        s = self.switch_step(total_steps)
        if s is None:
            return [{"start": 0, "end": total_steps, "act": str(self.train_act)}]
        phases = [{"start": 0, "end": s, "act": str(self.train_act)},
                  {"start": s, "end": total_steps, "act": "relu"}]
        return [ph for ph in phases if ph["end"] > ph["start"]]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["name"] = self.name
        d["inference_act"] = str(self.inference_act)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Variant:
        keys = ("recipe", "p", "alpha", "mode", "granularity")
        return cls(**{k: d[k] for k in keys if k in d})


def get_variant(name: str) -> Variant:
    """Parse a variant name. Raises ValueError listing the valid forms."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"empty model name; valid forms: {VALID_FORMS}")
    n = name.strip().lower()
    if n in ("relu", "silu", "gelu"):
        return Variant(n)
    m = _PATTERNS["swi-ft"].match(n)
    if m:
        return Variant("swi-ft", alpha=float(m.group(1)))
    m = _PATTERNS["stocha"].match(n)
    if m:
        mode = "full" if m.group("mode") == "-full" else "neg"
        gran = {None: "element", "-element": "element", "-tok": "token", "-tensor": "tensor"}[m.group("gran")]
        return Variant("stocha", p=float(m.group(1)), alpha=float(m.group(2)), mode=mode, granularity=gran)
    raise ValueError(f"unknown model {name!r}; valid forms: {VALID_FORMS}")


# ---- the paper's grid -------------------------------------------------------------------------
ALPHAS = (0.05, 0.1, 0.2)
PS = (0.3, 0.5, 0.7)
GRIDS: dict[str, list[str]] = {
    # Main table: baselines, Swi+FT at two α, StochA over p at α = 0.05.
    "main": ["relu", "silu", "swi-ft-a0.05", "swi-ft-a0.1"] + [f"stocha-p{p:g}-a0.05" for p in PS],
    "alpha_sweep": [f"swi-ft-a{a:g}" for a in ALPHAS] + [f"stocha-p0.7-a{a:g}" for a in ALPHAS],
    "p_sweep": [f"stocha-p{p:g}-a{a:g}" for p in PS for a in (0.05, 0.1)],
}
_ORDER = ("relu", "silu", "gelu", "swi-ft", "stocha")
DEFAULT_VARIANTS = sorted({n for g in GRIDS.values() for n in g} | {"gelu"},
                          key=lambda n: (_ORDER.index(get_variant(n).recipe), get_variant(n).p or 0,
                                         get_variant(n).alpha))


# ---- scales -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scale:
    """A model size plus the training defaults that suit it (the trainer may override any of them)."""

    name: str
    model: ModelConfig
    description: str
    train: dict = field(default_factory=dict)  # batch_size, seq_len, steps, lr, warmup, ...

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "model": self.model.to_dict(),
                "num_params": self.model.num_params(), "train": dict(self.train)}


SCALES: dict[str, Scale] = {
    s.name: s
    for s in [
        Scale("tiny", ModelConfig(dim=64, n_layers=2, n_heads=4, ffn_dim=172, max_seq_len=128,
                                  vocab_size=BYTE_VOCAB),
              "tests and smoke runs: seconds on a CPU",
              dict(batch_size=16, seq_len=128, steps=60, lr=3e-3, warmup=10, eval_every=30,
                   ckpt_every=30, log_every=5)),
        Scale("small", ModelConfig(dim=128, n_layers=4, n_heads=4, ffn_dim=344, max_seq_len=256,
                                   vocab_size=BYTE_VOCAB),
              "default: ~5-8 minutes on a 2-core CPU, scores above zero on the embedded suites",
              # 800 steps × 32 × 256 = 6.6M tokens: ~7 min at the ~14k tokens/s measured with 2 threads on
              # this 2-core CPU. Fewer steps (400) left the models ignoring their prompts (pass@1 = 0).
              dict(batch_size=32, seq_len=256, steps=800, lr=5e-3, warmup=50, eval_every=100,
                   ckpt_every=100, log_every=10)),
        Scale("base", ModelConfig(dim=512, n_layers=8, n_heads=8, ffn_dim=1376, max_seq_len=1024,
                                  vocab_size=BYTE_VOCAB),
              "one GPU, ~25M parameters",
              dict(batch_size=32, seq_len=1024, steps=20000, lr=1e-3, warmup=500, eval_every=1000,
                   ckpt_every=1000, log_every=50)),
        # The paper's sizes (LLaMA-3-like: grouped KV heads, 128k vocabulary, 8k context). For torchrun on
        # GPUs with a 128k-vocabulary tokenizer; parameter counts are checked on the meta device.
        Scale("1.5b", ModelConfig(dim=2048, n_layers=16, n_heads=32, n_kv_heads=8, ffn_dim=8192,
                                  max_seq_len=8192, vocab_size=LLAMA3_VOCAB, rope_theta=500000.0),
              "the paper's ~1.5B model (GPUs, torchrun + FSDP)",
              dict(batch_size=8, seq_len=8192, steps=100000, lr=3e-4, warmup=2000, eval_every=2000,
                   ckpt_every=1000, log_every=50)),
        Scale("3b", ModelConfig(dim=3072, n_layers=24, n_heads=24, n_kv_heads=8, ffn_dim=8192,
                                max_seq_len=8192, vocab_size=LLAMA3_VOCAB, rope_theta=500000.0),
              "the paper's ~3B model (GPUs, torchrun + FSDP)",
              dict(batch_size=8, seq_len=8192, steps=100000, lr=3e-4, warmup=2000, eval_every=2000,
                   ckpt_every=1000, log_every=50)),
    ]
}


# Runs fine-tuned from a Hugging Face checkpoint (harness.interop.finetune) live under the scale "hf-<name>": their
# model config comes from the checkpoint, not from SCALES.
IMPORTED_SCALE = re.compile(r"^hf-[a-z0-9][a-z0-9._-]*$")


def is_imported_scale(name: str) -> bool:
    return isinstance(name, str) and bool(IMPORTED_SCALE.match(name))


def get_scale(name: str) -> Scale:
    if name not in SCALES:
        if is_imported_scale(name):
            raise ValueError(f"scale {name!r} names an imported checkpoint and is not trained from scratch: create "
                             f"its runs with python -m harness import PATH (as it is) or finetune --from-hf PATH "
                             f"--recipe R")
        raise ValueError(f"unknown scale {name!r}; valid: {', '.join(SCALES)}, or hf-NAME (python -m harness "
                         f"finetune)")
    return SCALES[name]


def check_scale(name: str) -> None:
    """Raise ValueError unless ``name`` is a registry scale or an imported one (``hf-NAME``)."""
    if not is_imported_scale(name):
        get_scale(name)


def build_model(scale: str | Scale, variant: str | Variant, seed: int = 0, device=None,
                act: ActSpec | None = None, **overrides) -> Transformer:
    """Instantiate a variant at a scale, with the activation of training step 0 (or ``act``).

    ``device="meta"`` builds the shapes without memory (parameter counts of the paper's sizes).
    ``overrides`` replace ModelConfig fields (e.g. ``vocab_size`` for another tokenizer).
    """
    import torch  # here, not at the top: naming and listing variants (the command line) needs no torch

    from models.llama import Transformer

    sc = get_scale(scale) if isinstance(scale, str) else scale
    var = get_variant(variant) if isinstance(variant, str) else variant
    cfg = ModelConfig.from_dict({**sc.model.to_dict(), **overrides})
    with torch.device(device or "cpu"):
        torch.manual_seed(seed)
        model = Transformer(cfg, act or var.train_act, seed=seed)
    return model
