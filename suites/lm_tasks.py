"""Running our offline suites as lm-eval tasks: a generated task config over a local JSONL file.

Each lm-eval suite writes ``<workdir>/<task>/<task>.jsonl`` (its items) and ``<task>.yaml`` (an lm-eval
task with absolute paths), loads it with ``TaskManager(include_path=..., include_defaults=False)`` (no
indexing of lm-eval's ~14,700 built-in tasks) and calls ``lm_eval.simple_evaluate`` with
``log_samples=True``: the per-sample records become our samples file.

The YAML names ``process_docs: !function harness.infer.lm_model.process_docs`` (an identity function): that
import registers the ``sparsebench`` model, so the plain ``lm_eval`` CLI can run these files directly::

    lm_eval --model sparsebench --model_args checkpoint=out/runs/small/silu/s0 \\
        --tasks out/cache/lm_eval_tasks/sparsebench_gsm8k_100/sparsebench_gsm8k_100.yaml
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import pathlib

from harness.paths import cache_dir
from harness.results import atomic_write_text

# GSM8K's answer protocol, as in lm-eval's gsm8k.yaml: the number after "#### ", commas, "$" and a final
# period ignored.
GSM8K_METRIC = {"metric": "exact_match", "aggregation": "mean", "higher_is_better": True, "ignore_case": True,
                "ignore_punctuation": False, "regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"]}
GSM8K_FILTER = {"name": "strict-match", "filter": [{"function": "regex", "regex_pattern": "#### (\\-?[0-9\\.\\,]+)"},
                                                   {"function": "take_first"}]}


def task_dir(ctx, task: str) -> pathlib.Path:
    root = ctx.workdir or (cache_dir() / "lm_eval_tasks")
    return pathlib.Path(root).resolve() / task


def write_task(ctx, task: str, rows: list[dict], config: dict) -> pathlib.Path:
    """Write the data and the task YAML (only when their content changed); returns the task directory."""
    d = task_dir(ctx, task)
    data = d / f"{task}.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if not data.exists() or data.read_text(encoding="utf-8") != text:
        atomic_write_text(data, text)
    cfg = {"task": task, "dataset_path": "json",
           "dataset_kwargs": {"data_files": {"test": str(data)}}, "test_split": "test", **config}
    import yaml  # here: listing the suites (python -m harness ls) needs no YAML

    body = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=1000)
    body += "process_docs: !function harness.infer.lm_model.process_docs\n"
    y = d / f"{task}.yaml"
    if not y.exists() or y.read_text(encoding="utf-8") != body:
        atomic_write_text(y, body)
    return d


@contextlib.contextmanager
def _quiet_lm_eval():
    """lm-eval logs every step at INFO, and ``datasets`` draws "Generating test split" bars for our tiny files."""
    import datasets

    datasets.disable_progress_bars()
    level = logging.getLogger("lm_eval").level
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    try:
        yield
    finally:
        logging.getLogger("lm_eval").setLevel(level)


def load_task(task: str, directory: pathlib.Path | None = None):
    """Build one lm-eval task → (its TaskManager, its Task object); ``directory``: our task YAMLs only, else
    lm-eval's registry.

    Building the Task loads its dataset (lm-eval's ``ConfigurableTask.__init__`` calls ``download``), and no
    model is called yet: an error raised here is about the task or its data, never about the model.
    An unknown name, or a group / tag of several tasks, is a ``ValueError`` naming it."""
    from lm_eval.tasks import TaskManager

    tm = (TaskManager(include_path=str(directory), include_defaults=False, verbosity="ERROR") if directory
          else TaskManager(verbosity="ERROR"))
    if task not in tm.all_subtasks:  # tasks only: a group's results and samples are keyed by its members
        what = "is a group or tag of tasks, not one task" if task in tm.all_tasks else "is not an lm-eval task"
        raise ValueError(f"lm-eval task {task!r} {what}; `lm_eval ls subtasks` lists the tasks")
    with _quiet_lm_eval():
        return tm, tm.load([task])["tasks"][task]


def run_task(ctx, task: str, directory: pathlib.Path | None, limit: int | None, *,
             loaded=None) -> tuple[dict, list[dict]]:
    """simple_evaluate one task → (lm-eval's aggregated metrics for it, its per-sample records).

    ``loaded``: what ``load_task(task, directory)`` returned, if the caller built the task first. The
    aggregated metrics also carry lm-eval's document counts under ``"n-samples"``:
    ``{"original": documents in the task's split, "effective": documents evaluated (after limit)}``."""
    import lm_eval

    tm, task_obj = loaded or load_task(task, directory)
    lm = ctx.lm_eval_model()
    with _quiet_lm_eval():
        out = lm_eval.simple_evaluate(model=lm, tasks=[task_obj], task_manager=tm, limit=limit, log_samples=True,
                                      bootstrap_iters=0, random_seed=ctx.seed, numpy_random_seed=ctx.seed,
                                      torch_random_seed=ctx.seed, fewshot_random_seed=ctx.seed,
                                      verbosity="ERROR")
    samples = json.loads(json.dumps(out["samples"][task], default=str))  # tuples → lists, odd types → str
    return {**out["results"][task], "n-samples": dict(out.get("n-samples", {}).get(task) or {})}, samples


def lm_value(results: dict, name: str, filt: str = "none") -> float | None:
    """lm-eval keys metrics as "name,filter"; we keep names plain."""
    v = results.get(f"{name},{filt}")
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def mean_stderr(values: list[float]) -> tuple[float | None, float | None]:
    n = len(values)
    if n == 0:
        return None, None
    m = sum(values) / n
    if n < 2:
        return m, None
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return m, math.sqrt(var / n)
