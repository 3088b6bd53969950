"""Multiple choice by log-likelihood (lm-eval ``acc``) over the synthetic families.

Each item is a context (a function prompt, or a word problem up to its answer) and candidate
continuations; the model "chooses" the continuation with the highest log-likelihood.

    python -m harness eval --model silu --suites syn_choice
"""

from __future__ import annotations

import json

from harness.results import metric, sha256_text
from suites.base import SYNTH_ITEMS, EvalContext, Suite, item_means
from suites.lm_tasks import lm_value, mean_stderr, run_task, write_task


class SynChoice(Suite):
    name = "syn_choice"
    version = "1"
    description = "synthetic multiple choice by log-likelihood (lm-eval acc)"
    backend = "lm-eval"
    task = "sparsebench_syn_choice"

    def default_params(self) -> dict:
        return {"n_items": SYNTH_ITEMS, "data_seed": 1234}

    def rows(self) -> list[dict]:
        if not hasattr(self, "_rows"):
            from harness.data import synth

            items = synth.choice_items("eval", int(self.params["n_items"]), seed=self.params["data_seed"])
            self._rows = [{k: it[k] for k in ("task_id", "context", "choices", "gold", "family")} for it in items]
        return self._rows

    def n_total(self) -> int:
        return len(self.rows())

    def dataset(self) -> dict:
        return {"name": "synth.choice_items(eval)", "sha256": sha256_text(json.dumps(self.rows()))}

    def generate(self, ctx: EvalContext, limit: int | None) -> list[dict]:
        # Continuations carry their own leading whitespace, so no target delimiter is inserted.
        cfg = {"output_type": "multiple_choice", "doc_to_text": "{{context}}", "doc_to_choice": "{{choices}}",
               "doc_to_target": "{{gold}}", "target_delimiter": "", "num_fewshot": 0,
               "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
               "metadata": {"version": float(self.version)}}
        d = write_task(ctx, self.task, self.rows(), cfg)
        agg, samples = run_task(ctx, self.task, d, limit)
        records = [{"doc_id": s["doc_id"], "task_id": s["doc"]["task_id"], "family": s["doc"]["family"],
                    "gold": s["doc"]["gold"], "loglikelihoods": [r[0][0] for r in s["resps"]],
                    "acc": float(s["acc"])} for s in samples]
        records.sort(key=lambda r: r["doc_id"])
        ctx._lm_eval_agg = {**getattr(ctx, "_lm_eval_agg", {}), self.name: lm_value(agg, "acc")}
        return records

    def score(self, records: list[dict], ctx: EvalContext) -> tuple[list[dict], list[dict]]:
        out = []
        for r in records:  # argmax of the stored log-likelihoods: re-scoring needs no model
            ll = r["loglikelihoods"]
            out.append({**r, "acc": float(max(range(len(ll)), key=ll.__getitem__) == r["gold"])})
        m, se = mean_stderr([r["acc"] for r in out])
        metrics = [metric("acc", m, stderr=se, n=len(out), n_total=self.n_total())]
        for fam in sorted({r["family"] for r in out}):
            fm, fse = mean_stderr([r["acc"] for r in out if r["family"] == fam])
            metrics.append(metric("acc", fm, stderr=fse, n=sum(r["family"] == fam for r in out), n_total=None,
                                  family=fam))
        return metrics, out

    def item_scores(self, scored: list[dict]) -> dict:
        return item_means(scored, "doc_id", "acc", "acc")
