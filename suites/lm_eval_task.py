"""Any lm-eval task by name: ``--suites lm_eval:arc_easy,lm_eval:gsm8k``.

Runs lm-eval's own task definition (its prompt, few-shot setting and metrics) through our lm-eval model.
These tasks download their data from the Hugging Face Hub: offline (``HF_HUB_OFFLINE=1`` /
``HF_DATASETS_OFFLINE=1``, the harness default) they run only if the dataset is already in the
``datasets`` cache, and are otherwise skipped with the reason. To fetch once, run online:
``HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 python -m harness eval --model M --suites lm_eval:TASK``.
"""

from __future__ import annotations

import math

from harness.results import metric
from suites.base import EvalContext, SkipSuite, Suite
from suites.lm_tasks import run_task


class LmEvalTask(Suite):
    backend = "lm-eval"
    version = "1"

    def __init__(self, task: str, **params):
        self.lm_task = task
        self.name = f"lm_eval_{task}"  # also the result file name: no ':' in paths
        self.description = f"lm-eval task {task!r} (its own data, prompts and metrics)"
        super().__init__(**params)

    def dataset(self) -> dict:
        return {"name": f"lm-eval task {self.lm_task}", "sha256": None}

    def n_total(self) -> int | None:
        return None  # known only once lm-eval has loaded the task

    def generate(self, ctx: EvalContext, limit: int | None) -> list[dict]:
        try:
            agg, samples = run_task(ctx, self.lm_task, None, limit)
        except Exception as e:  # noqa: BLE001 - offline Hub errors come in many types; the reason is kept
            raise SkipSuite(f"lm-eval task {self.lm_task!r} could not load its data ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:200] if str(e) else ''}); it needs the Hugging Face Hub "
                            f"or a cached copy: run once online with HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0") from e
        ctx._lm_eval_agg = {**getattr(ctx, "_lm_eval_agg", {}), self.name: agg}
        return [{"doc_id": s["doc_id"], "target": s.get("target"), "resps": s.get("resps"),
                 "filtered_resps": s.get("filtered_resps"),
                 **{k: s[k] for k in s if isinstance(s.get(k), (int, float)) and k != "doc_id"}} for s in samples]

    def score(self, records: list[dict], ctx: EvalContext) -> tuple[list[dict], list[dict]]:
        agg = getattr(ctx, "_lm_eval_agg", {}).get(self.name) or {}
        metrics = []
        for key, v in agg.items():  # lm-eval's own aggregation: "acc,none", "exact_match,strict-match", ...
            name, _, filt = key.partition(",")
            if "_stderr" in name or not isinstance(v, (int, float)) or name == "alias":
                continue
            se = agg.get(f"{name}_stderr,{filt}")
            se = float(se) if isinstance(se, (int, float)) and not math.isnan(se) else None
            metrics.append(metric(name, v, stderr=se, n=len(records), n_total=None, filter=filt))
        if not metrics:  # re-scoring from samples alone: mean of each per-sample numeric metric
            keys = {k for r in records for k, v in r.items() if isinstance(v, (int, float)) and k != "doc_id"}
            for k in sorted(keys):
                vals = [float(r[k]) for r in records if isinstance(r.get(k), (int, float))]
                metrics.append(metric(k, sum(vals) / len(vals), n=len(vals), n_total=None))
        return metrics, records
