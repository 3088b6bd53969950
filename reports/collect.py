"""Every result JSON → one tidy pandas DataFrame (one row per metric), plus training curves.

    >>> from reports.collect import load
    >>> data = load("out/results")          # doctest: +SKIP
    >>> data.metrics.query("metric == 'pass@1'")[["model", "seed", "suite", "value"]]   # doctest: +SKIP

Everything comes from fields inside the JSON files (never from their paths). A result whose metrics have
``n < n_total`` (a ``--limit`` run) is marked ``limited`` and left out unless ``include_limited=True``;
a result with status "skipped" has no metrics and is listed in :attr:`Collection.skipped` with its reason.

Rows scored with another activation than the recipe's own (``eval --eval-act silu``) keep their own
``row`` key (``model@act``, e.g. ``stocha-p0.7-a0.05@silu``) and ``eval_act_default`` False, so tables
show them as separate labelled rows and never average them into the variant's row. Per-item scores of
eval results (for paired comparisons) are in :attr:`Collection.items`.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field

import pandas as pd

from harness.results import iter_results, out_root

# The tidy columns, always present (in this order) even when no result has them.
COLUMNS = ["kind", "scale", "model", "row", "recipe", "p", "alpha", "mode", "granularity", "seed", "step",
           "suite", "suite_version", "metric", "value", "stderr", "n", "n_total", "higher_is_better",
           "layer", "k", "headline", "eval_act", "eval_act_default", "limited", "result", "path"]
# Metric keys that make a row a breakdown of the overall figure (per layer, per stdlib module, per family,
# per benchmark width, per threshold τ).
BREAKDOWN_KEYS = ("layer", "module", "family", "task", "subtask", "category", "width", "tau", "quantile")
ITEM_COLUMNS = ["scale", "model", "row", "seed", "suite", "metric", "item", "value", "weight", "dataset"]
_METRIC_CORE = {"name", "value", "stderr", "n", "n_total", "higher_is_better"}
CURVE_COLUMNS = ["scale", "model", "recipe", "p", "alpha", "seed", "step", "loss", "val_loss", "lr", "phase",
                 "switch_step"]


@dataclass
class Collection:
    """What the reports read: the tidy metrics, training curves, and skipped/limited bookkeeping."""

    metrics: pd.DataFrame
    curves: pd.DataFrame
    skipped: pd.DataFrame  # kind, scale, model, seed, suite, reason, path
    items: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ITEM_COLUMNS))
    n_results: int = 0
    n_limited: int = 0
    root: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def scales(self) -> list[str]:
        m = self.metrics[self.metrics["kind"] != "bench"]
        return sorted(set(m["scale"].dropna()) | set(self.curves["scale"].dropna()), key=scale_key)


def default_results_root() -> pathlib.Path:
    return out_root() / "results"


def scale_key(s: str):
    order = ["tiny", "small", "base", "1.5b", "3b"]
    return (order.index(s), s) if s in order else (len(order), s)


def is_limited(result: dict) -> bool:
    return any(m.get("n") is not None and m.get("n_total") is not None and m["n"] < m["n_total"]
               for m in result.get("metrics", []))


def default_act(result: dict) -> bool:
    """Was the result computed with the recipe's own inference activation? Recorded as
    ``run.eval_act_default`` by evaluations; older results are judged by comparing ``eval_act`` with the
    variant's ``inference_act``. Training and profile results always use the recipe's own."""
    run = result.get("run", {})
    if run.get("eval_act_default") is not None:  # a profile with --act records it too
        return bool(run["eval_act_default"])
    if result.get("kind") in ("train", "profile", "bench") or run.get("eval_act") is None:
        return True
    infer = (run.get("variant") or {}).get("inference_act")
    return infer is None or run["eval_act"] == infer


def _run_fields(result: dict) -> dict:
    run = result.get("run", {})
    var = run.get("variant") or {}
    default = default_act(result)
    model = run.get("model")
    return {"kind": result.get("kind"), "scale": run.get("scale"), "model": model,
            "row": model if default or model is None else
            f"{model}@{run.get('eval_act')}" + (" + predictor" if run.get("predictor") else ""),
            "recipe": var.get("recipe"), "p": var.get("p"), "alpha": var.get("alpha"),
            "mode": var.get("mode"), "granularity": var.get("granularity"), "seed": run.get("seed"),
            "step": run.get("step"), "eval_act": run.get("eval_act"), "eval_act_default": default}


# Metrics a result version recorded under a name that now means something else: read under the name of
# what they measured. Profile v2's decode_speedup forced the sparse kernel on every FFN; from v3 that is
# decode_speedup_kernel, and decode_speedup is enable_sparse's own choice (1.0 where it keeps dense).
RENAMED = {("profile", "2", "decode_speedup"): "decode_speedup_kernel"}


def metric_rows(result: dict) -> list[dict]:
    """The result's metrics as flat rows; extra metric keys (``layer``, ``k``, ``unit``…) become columns."""
    base = _run_fields(result)
    suite = result.get("suite", {})
    base.update(suite=suite.get("name"), suite_version=suite.get("version"), limited=is_limited(result),
                path=result.get("_path"))
    rows = []
    for m in result.get("metrics", []):
        row = dict(base)
        name = RENAMED.get((result.get("kind"), suite.get("version"), m.get("name")), m.get("name"))
        row.update(metric=name, value=m.get("value"), stderr=m.get("stderr"), n=m.get("n"),
                   n_total=m.get("n_total"), higher_is_better=m.get("higher_is_better", True))
        row.update({k: v for k, v in m.items() if k not in _METRIC_CORE and k not in row})
        rows.append(row)
    return rows


def item_rows(result: dict) -> list[dict]:
    """The per-item scores of an eval result (``items``), one row per item."""
    items = result.get("items") or {}
    if not items.get("ids"):
        return []
    f = _run_fields(result)
    suite = result.get("suite", {})
    base = {k: f[k] for k in ("scale", "model", "row", "seed")}
    base.update(suite=suite.get("name"), metric=items.get("metric"),
                dataset=(suite.get("dataset") or {}).get("sha256"))
    weights = items.get("weights") or [1.0] * len(items["ids"])
    return [{**base, "item": str(i), "value": float(v), "weight": float(w)}
            for i, v, w in zip(items["ids"], items["values"], weights)]


def curve_rows(result: dict) -> list[dict]:
    """The training-loss curve of a "train" result (its top-level ``curve`` and ``switch_step``)."""
    base = {k: v for k, v in _run_fields(result).items() if k in CURVE_COLUMNS}
    switch = result.get("switch_step")
    return [{**base, "step": pt.get("step"), "loss": pt.get("loss"), "val_loss": pt.get("val_loss"),
             "lr": pt.get("lr"), "phase": pt.get("phase"), "switch_step": switch}
            for pt in result.get("curve") or []]


def tidy(results: list[dict], include_limited: bool = False) -> pd.DataFrame:
    """One row per metric of every "ok" result.

    ``headline`` marks the row that stands for the result in tables: the first row of each metric name
    that is not a breakdown (no ``layer``/``module``/``family``… key). A suite lists its headline variant
    first when it reports one metric several ways (evalplus: plus tests before base; lm-eval filters).
    """
    rows = [{**r, "result": i} for i, res in enumerate(results)
            if res.get("status") == "ok" and (include_limited or not is_limited(res))
            for r in metric_rows(res)]
    df = pd.DataFrame(rows)
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = None
    extra = [c for c in df.columns if c not in COLUMNS]
    df = df[COLUMNS + extra]
    for c in ("value", "stderr", "p", "alpha", "layer", "k"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df["eval_act_default"] = df["eval_act_default"].fillna(True).astype(bool)
    df["row"] = df["row"].fillna(df["model"])
    breakdown = df[[k for k in BREAKDOWN_KEYS if k in df.columns]].notna().any(axis=1)
    df["headline"] = ~breakdown & ~df.assign(_b=breakdown).duplicated(["result", "metric", "_b"])
    return df


def load(root: str | os.PathLike | None = None, include_limited: bool = False) -> Collection:
    """Read every result under ``root`` (default ``out/results``)."""
    root = pathlib.Path(root) if root is not None else default_results_root()
    if not root.exists():
        raise FileNotFoundError(f"no results directory {root} (run `python -m harness eval` first)")
    results = iter_results(root)
    metrics = tidy(results, include_limited=include_limited)
    curves = pd.DataFrame([r for res in results if res.get("kind") == "train" and res.get("status") == "ok"
                           for r in curve_rows(res)], columns=CURVE_COLUMNS)
    for c in ("step", "loss", "val_loss", "lr", "switch_step", "p", "alpha"):
        curves[c] = pd.to_numeric(curves[c], errors="coerce")
    skipped = pd.DataFrame(
        [{**{k: _run_fields(r)[k] for k in ("kind", "scale", "model", "seed")},
          "suite": r.get("suite", {}).get("name"), "reason": r.get("skip_reason"), "path": r.get("_path")}
         for r in results if r.get("status") == "skipped"],
        columns=["kind", "scale", "model", "seed", "suite", "reason", "path"])
    items = pd.DataFrame([r for res in results if res.get("kind") == "eval" and res.get("status") == "ok"
                          and not is_limited(res) for r in item_rows(res)], columns=ITEM_COLUMNS)
    n_limited = sum(1 for r in results if r.get("status") == "ok" and is_limited(r))
    notes = []
    if n_limited and not include_limited:
        notes.append(f"{n_limited} limited (--limit) result(s) left out; pass --include-limited to show them")
    return Collection(metrics=metrics, curves=curves, skipped=skipped, items=items, n_results=len(results),
                      n_limited=n_limited, root=str(root), notes=notes)


def _none_if_nan(x):
    return None if x is None or (isinstance(x, float) and x != x) else x


def variants(df: pd.DataFrame) -> dict[str, dict]:
    """model name → its variant fields (recipe, p, alpha, mode, granularity), NaN read as None."""
    out: dict[str, dict] = {}
    cols = ["recipe", "p", "alpha", "mode", "granularity"]
    # Prefer a row that carries the variant (a hand-written result may lack it).
    ordered = df.assign(_novar=df["recipe"].isna()).sort_values("_novar", kind="stable")
    for rec in ordered.drop_duplicates("model")[["model", *cols]].to_dict("records"):
        if rec["model"] is not None:
            out[rec["model"]] = {c: _none_if_nan(rec[c]) for c in cols}
    return out
