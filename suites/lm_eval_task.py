"""Any lm-eval task by name: ``--suites lm_eval:arc_easy,lm_eval:gsm8k``.

Runs lm-eval's own task definition (its prompt, few-shot setting and metrics) through our lm-eval model.
These tasks download their data from the Hugging Face Hub: offline (``HF_HUB_OFFLINE=1`` /
``HF_DATASETS_OFFLINE=1``, the harness default) they run only if the dataset is already in the
``datasets`` cache, and are otherwise skipped with the reason. To fetch once, run online:
``HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 python -m harness eval --model M --suites lm_eval:TASK``
(``make data`` fetches ``lm_eval:gsm8k``'s). Any other error (an unknown task name, a failure of the model
while lm-eval runs it) fails the suite with its own message.
"""

from __future__ import annotations

import math

from harness.results import metric
from suites.base import EvalContext, SkipSuite, Suite
from suites.lm_tasks import load_task, run_task


def missing_dataset(e: BaseException) -> bool:
    """Does ``e``, raised while lm-eval built a task, say that the task's dataset is not here to load?

    By type: ``datasets``' "not found" errors (``DatasetNotFoundError``, ``DataFilesNotFoundError``, both
    ``FileNotFoundDatasetsError``; ``EmptyDatasetError``) and ``huggingface_hub``'s offline ones
    (``OfflineModeIsEnabled``, ``LocalEntryNotFoundError``: not in the local cache). ``datasets`` also
    reports a dataset it neither has cached nor can reach as a plain ``ConnectionError`` ("Couldn't reach
    'allenai/ai2_arc' on the Hub (OfflineModeIsEnabled)") or ``FileNotFoundError`` ("Couldn't find any data
    file at ..."): those generic types count only when raised by ``datasets`` / ``huggingface_hub`` /
    ``fsspec`` code itself, so e.g. a task's own ``process_docs`` failing on a file is not taken for one."""
    from datasets.data_files import EmptyDatasetError
    from datasets.exceptions import FileNotFoundDatasetsError
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    if isinstance(e, (FileNotFoundDatasetsError, EmptyDatasetError, OfflineModeIsEnabled, LocalEntryNotFoundError)):
        return True
    if isinstance(e, (ConnectionError, FileNotFoundError)):
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:  # the frame that raised it
            tb = tb.tb_next
        module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
        return module.split(".")[0] in ("datasets", "huggingface_hub", "fsspec")
    return False


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
        return None  # known only once lm-eval has loaded the task: recorded per sample as "task_docs"

    def generate(self, ctx: EvalContext, limit: int | None) -> list[dict]:
        # The task (and its dataset) is built before the model runs, so only loading errors are looked at
        # here; an error while lm-eval runs our model propagates as it is.
        try:
            loaded = load_task(self.lm_task)
        except Exception as e:
            if not missing_dataset(e):
                raise  # an unknown task name (ValueError), a broken task config, ...: a failure, not a skip
            first = str(e).splitlines()[0][:200] if str(e) else ""
            raise SkipSuite(f"lm-eval task {self.lm_task!r}: its dataset is not in the local Hugging Face "
                            f"datasets cache and could not be fetched ({type(e).__name__}: {first}); fetch it "
                            f"once online: HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 python -m harness eval "
                            f"--model M --suites lm_eval:{self.lm_task}"
                            + (" (or `make data`)" if self.lm_task == "gsm8k" else "")) from e
        agg, samples = run_task(ctx, self.lm_task, None, limit, loaded=loaded)
        ctx._lm_eval_agg = {**getattr(ctx, "_lm_eval_agg", {}), self.name: agg}
        # The task's full document count goes into every record, so that re-scoring from the samples file
        # alone (no lm-eval run) still knows whether this run was --limit-ed.
        docs = agg.get("n-samples", {}).get("original")
        return [{"doc_id": s["doc_id"], "target": s.get("target"), "resps": s.get("resps"),
                 "filtered_resps": s.get("filtered_resps"), "task_docs": docs,
                 **{k: s[k] for k in s if isinstance(s.get(k), (int, float)) and k != "doc_id"}} for s in samples]

    def score(self, records: list[dict], ctx: EvalContext) -> tuple[list[dict], list[dict]]:
        agg = getattr(ctx, "_lm_eval_agg", {}).get(self.name) or {}
        # n < n_total marks a --limit-ed run as partial (harness.results.is_complete)
        n_total = next((r["task_docs"] for r in records if isinstance(r.get("task_docs"), int)), None)
        metrics = []
        for key, v in agg.items():  # lm-eval's own aggregation: "acc,none", "exact_match,strict-match", ...
            name, _, filt = key.partition(",")
            # "sample_len" is lm-eval's count of documents, not a metric; "n-samples" (a dict) is skipped too
            if "_stderr" in name or not isinstance(v, (int, float)) or name in ("alias", "sample_len"):
                continue
            se = agg.get(f"{name}_stderr,{filt}")
            se = float(se) if isinstance(se, (int, float)) and not math.isnan(se) else None
            metrics.append(metric(name, v, stderr=se, n=len(records), n_total=n_total, filter=filt))
        if not metrics:  # re-scoring from samples alone: mean of each per-sample numeric metric
            # (not the fields kept beside them: a multiple-choice "target" is the gold choice's index)
            keys = {k for r in records for k, v in r.items()
                    if isinstance(v, (int, float)) and k not in ("doc_id", "target", "task_docs")}
            for k in sorted(keys):
                vals = [float(r[k]) for r in records if isinstance(r.get(k), (int, float))]
                metrics.append(metric(k, sum(vals) / len(vals), n=len(vals), n_total=n_total))
        return metrics, records
