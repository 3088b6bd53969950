"""The settings of the diversity study: methods, their default grids, and the seed of each sample pass. No
torch: the command line shows these defaults as it is built.

    >>> [s.label for s in build_settings(["greedy", "top_p"], top_ps=(0.5, 0.9))]
    ['greedy', 'top-p=0.5', 'top-p=0.9']
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from models.config import ActSpec

VERSION = "1"
METHODS = ("greedy", "stocha", "temperature", "top_p", "stocha_temp")
DEFAULT_SUITES = ("syn_code", "syn_reason")
DEFAULT_K = 10
# 50 prompts × k = 10 × 21 settings × 2 suites = 21k samples at `small` (README: wall time on 2 cores);
# `tiny` is for smoke runs (a 60-step model), 10 prompts keep it to a minute or two.
DEFAULT_PROMPTS = 50
SMOKE_PROMPTS = {"tiny": 10}
DEFAULT_ACT_PS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
DEFAULT_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)
DEFAULT_TOP_PS = (0.5, 0.7, 0.8, 0.9, 0.95)
DEFAULT_COMBO = ((0.3, 0.3), (0.3, 0.6), (0.3, 0.9))  # (p', T)

@dataclass(frozen=True)
class Setting:
    """One sampling configuration. ``act_p`` None: the recipe's inference activation."""

    method: str
    act_p: float | None = None
    temperature: float = 0.0
    top_p: float = 1.0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown diversity method {self.method!r}; valid: {', '.join(METHODS)}")
        if (self.act_p is None) == (self.method in ("stocha", "stocha_temp")):
            raise ValueError(f"method {self.method} {'needs' if self.act_p is None else 'takes no'} p'")
        if self.act_p is not None and not 0.0 <= self.act_p <= 1.0:
            raise ValueError(f"p' must be in [0, 1] (probability of SILU), got {self.act_p:g}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"need T >= 0 and 0 < top-p <= 1, got T={self.temperature:g}, top-p={self.top_p:g}")

    @property
    def label(self) -> str:
        if self.method == "greedy":
            return "greedy"
        if self.method == "temperature":
            return f"T={self.temperature:g}"
        if self.method == "top_p":
            return f"top-p={self.top_p:g}"
        return f"p'={self.act_p:g}" + (f",T={self.temperature:g}" if self.method == "stocha_temp" else "")

    @property
    def tag(self) -> str:
        """File-name form of the label."""
        return re.sub(r"[^A-Za-z0-9.-]+", "", self.label.replace(",", "-")) or self.method

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "label": self.label}


def build_settings(methods=METHODS, act_ps=DEFAULT_ACT_PS, temperatures=DEFAULT_TEMPERATURES,
                   top_ps=DEFAULT_TOP_PS, combo=DEFAULT_COMBO) -> list[Setting]:
    """Every setting of the given methods over their grids, in order, without repeats."""
    out = []
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown diversity method {m!r}; valid: {', '.join(METHODS)}")
        if m == "greedy":
            out.append(Setting("greedy"))
        elif m == "stocha":
            out += [Setting("stocha", act_p=p) for p in act_ps]
        elif m == "temperature":
            out += [Setting("temperature", temperature=t) for t in temperatures]
        elif m == "top_p":
            out += [Setting("top_p", temperature=1.0, top_p=q) for q in top_ps]
        else:
            out += [Setting("stocha_temp", act_p=p, temperature=t) for p, t in combo]
    for s in out:
        if s.method in ("temperature", "top_p", "stocha_temp") and s.temperature <= 0:
            raise ValueError(f"{s.method} needs T > 0, got {s.label}")
    return list(dict.fromkeys(out))


def sample_seed(seed: int, j: int) -> int:
    """Seed of sample pass j. generate() seeds batch b with seed + b: the ×1000 keeps passes apart."""
    return (seed * 1000 + j) * 1000


def activation_for(setting: Setting, variant) -> str | None:
    """The eval_act string of a setting: stochastic with the recipe's own mode/granularity, or None."""
    if setting.act_p is None:
        return None
    mode, gran = (variant.mode, variant.granularity) if variant.recipe == "stocha" else ("neg", "element")
    return str(ActSpec("stocha", float(setting.act_p), mode, gran))
