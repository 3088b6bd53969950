"""Scoring the k samples per prompt of one (suite, setting): quality and diversity metrics, averaged over
prompts with their standard error (definitions in ``harness.diversity.metrics``).
"""

from __future__ import annotations

from harness.diversity import metrics as dm
from harness.diversity.behaviour import Executor
from harness.results import metric
from suites.humaneval import pass_at_k
from suites.lm_tasks import mean_stderr

DISTINCT_NS = (1, 2, 3, 4)


def _common_metrics(by_prompt: list[list[str]], extra: dict) -> list[dict]:
    n = len(by_prompt)
    out = []
    for ng in DISTINCT_NS:
        m, se = mean_stderr([dm.distinct_n(s, ng) for s in by_prompt])
        out.append(metric(f"distinct_{ng}", m, stderr=se, n=n, n_total=n, group="diversity", **extra))
    for name, fn in (("unique_fraction", dm.unique_fraction), ("edit_distance", dm.pairwise_edit_distance)):
        m, se = mean_stderr([fn(s) for s in by_prompt])
        out.append(metric(name, m, stderr=se, n=n, n_total=n, group="diversity", **extra))
    return out


def score_code(job, records: list[dict], k: int, executor: Executor, extra: dict) -> tuple[list, list]:
    """(metrics, scored records) of a code suite: pass@1, pass@k, functional diversity, text diversity."""
    results = executor.run([(r["task_id"], r["completion"]) for r in records])
    scored = [{**r, "status": st, "passed": st == "passed", "behaviour": beh} for r, (st, beh) in zip(records, results)]
    per_task: dict[str, list[dict]] = {}
    for r in scored:
        per_task.setdefault(r["task_id"], []).append(r)
    n = len(per_task)
    passed = {t: [r["passed"] for r in rs] for t, rs in per_task.items()}
    metrics = []
    for kk in dict.fromkeys((1, k)):
        value, se = pass_at_k(passed, kk)
        metrics.append(metric(f"pass@{kk}", value, stderr=se, n=n, n_total=n, k=kk, group="quality", **extra))
    fd, se = mean_stderr([len({r["behaviour"] for r in rs}) for rs in per_task.values()])
    metrics.append(metric("functional_diversity", fd, stderr=se, n=n, n_total=n, group="diversity",
                          unit="distinct behaviours among k", **extra))
    metrics += _common_metrics([[r["completion"] for r in rs] for rs in per_task.values()], extra)
    return metrics, scored


def score_reasoning(job, records: list[dict], k: int, extra: dict) -> tuple[list, list]:
    """(metrics, scored records) of a reasoning suite: exact match, maj@k, any@k, token F1, text diversity."""
    gold = {r["task_id"]: r["answer"] for r in job.items}
    scored = []
    for r in records:
        ans = dm.extract_answer(r["completion"])
        scored.append({**r, "extracted": ans, "correct": dm.answers_match(ans, gold[r["task_id"]]),
                       "f1": dm.token_f1(r["completion"], gold[r["task_id"]])})
    per_task: dict[str, list[dict]] = {}
    for r in scored:
        per_task.setdefault(r["task_id"], []).append(r)
    n = len(per_task)
    rows = {
        "exact_match": [sum(r["correct"] for r in rs) / len(rs) for rs in per_task.values()],
        f"maj@{k}": [float(dm.answers_match(dm.majority([r["extracted"] for r in rs]), gold[t]))
                     for t, rs in per_task.items()],
        f"any@{k}": [float(any(r["correct"] for r in rs)) for rs in per_task.values()],
        f"f1_best@{k}": [max(r["f1"] for r in rs) for rs in per_task.values()],
        "f1_mean": [sum(r["f1"] for r in rs) / len(rs) for rs in per_task.values()],
        "answer_extracted": [sum(r["extracted"] is not None for r in rs) / len(rs) for rs in per_task.values()],
    }
    metrics = []
    for name, vals in rows.items():
        m, se = mean_stderr(vals)
        kw = {"k": k} if "@" in name else {}
        metrics.append(metric(name, m, stderr=se, n=n, n_total=n, group="quality", **kw, **extra))
    metrics += _common_metrics([[r["completion"] for r in rs] for rs in per_task.values()], extra)
    return metrics, scored
