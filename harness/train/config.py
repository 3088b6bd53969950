"""What defines a training run (``TrainConfig``) and its learning-rate schedule; no torch.

    >>> cfg = TrainConfig.create("tiny", "relu", steps=100)
    >>> cfg.batch_size, round(lr_at(99, cfg), 6)         # the scale's defaults; the cosine's end
    (16, 0.0003)

A fine-tune (``harness.interop.finetune.FinetuneConfig``) runs the same loop: :func:`check_loop_settings`
and :func:`lr_at` read only the fields both configs have.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from harness.data.config import DataConfig
from models.registry import get_scale, get_variant

# Settings that do not change the trained weights: they may differ between a run and its resume.
FREE_KEYS = ("eval_every", "log_every", "ckpt_every", "keep_ckpts", "device", "threads")


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults come from ``SCALES[scale].train``."""

    scale: str
    model: str
    seed: int = 0
    steps: int = 1000
    batch_size: int = 32  # global sequences per optimizer step (all processes, all micro-batches)
    seq_len: int = 256
    lr: float = 3e-3
    warmup: int = 50
    min_lr_frac: float = 0.1  # the cosine ends at min_lr_frac · lr
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    grad_accum: int = 1  # micro-batches per optimizer step and process
    eval_every: int = 200
    eval_seqs: int = 32  # validation sequences (fixed, held out; harness.data.corpus.validation_tokens)
    log_every: int = 10
    ckpt_every: int = 200
    keep_ckpts: int = 2  # periodic checkpoints kept (0 = all); the final one is always kept
    data: dict = field(default_factory=lambda: DataConfig().to_dict())
    device: str = "auto"  # auto | cpu | cuda
    fsdp: str = "auto"  # auto (1.5b/3b on GPUs) | on | off
    threads: int | None = None  # torch intra-op threads (None: torch's default)

    @classmethod
    def create(cls, scale: str, model: str, seed: int = 0, **overrides) -> TrainConfig:
        """The scale's defaults, then ``overrides`` (None values ignored); unknown keys raise."""
        sc = get_scale(scale)
        known = {f.name for f in dataclasses.fields(cls)}
        base = {k: v for k, v in sc.train.items() if k in known}
        over = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(over) - known
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        if isinstance(over.get("data"), DataConfig):
            over["data"] = over["data"].to_dict()
        cfg = cls(scale=sc.name, model=get_variant(model).name, seed=seed, **{**base, **over})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        check_loop_settings(self)
        max_len = get_scale(self.scale).model.max_seq_len
        if self.seq_len > max_len:
            raise ValueError(f"seq_len {self.seq_len} exceeds the {self.scale} model's max_seq_len {max_len}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_loop_settings(cfg) -> None:
    """The checks of the settings ``harness.train.loop.run_steps`` reads (TrainConfig's and FinetuneConfig's
    alike)."""
    for k in ("steps", "batch_size", "seq_len", "grad_accum", "log_every", "eval_every", "ckpt_every",
              "eval_seqs"):
        if getattr(cfg, k) < 1:
            raise ValueError(f"{k} must be a positive integer, got {getattr(cfg, k)}")
    if cfg.lr <= 0 or not 0 <= cfg.min_lr_frac <= 1 or cfg.warmup < 0:
        raise ValueError("need lr > 0, warmup >= 0 and min_lr_frac in [0, 1]")
    DataConfig(**cfg.data)  # validates the mixture


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of (0-based) step: linear warm-up, then one cosine to min_lr_frac·lr at the end."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, cfg.steps - cfg.warmup)
    progress = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))
