"""The quality cost of a neuron predictor: per suite, the paired difference (with the predictor − exact
sparse path) on the same items and seeds, with its 95% interval (``reports.stats.paired_diff``).

    python -m reports predictor [--results DIR] [--scale small]

Rows come from ``eval --predictor`` results (``<suite>.pred.json``, row ``model@act + predictor``) and the
same run's own results; only items and seeds both have are compared. Scores are in points (×100),
bits per byte as they are (lower is better, so a positive difference there is a cost).
"""

from __future__ import annotations

import pandas as pd

from reports.collect import Collection
from reports.stats import paired_diff

POINTS = {"pass@1", "exact_match", "acc"}  # fractions shown in points


def quality_cost(coll: Collection, scale: str | None = None) -> pd.DataFrame:
    """One row per (model, suite): seeds, items, exact and predicted means, diff, ci95 low/high."""
    it = coll.items
    if scale is not None:
        it = it[it["scale"] == scale]
    out = []
    for row in sorted(r for r in it["row"].unique() if r.endswith(" + predictor")):
        model = row.partition("@")[0]
        pred, exact = it[it["row"] == row], it[it["row"] == model]
        for suite in sorted(pred["suite"].unique()):
            a = pred[pred["suite"] == suite].pivot_table(index="seed", columns="item", values="value")
            b = exact[exact["suite"] == suite].pivot_table(index="seed", columns="item", values="value")
            seeds = sorted(set(a.index) & set(b.index))
            items = sorted(set(a.columns) & set(b.columns))
            if not seeds or not items:
                continue
            metric = pred.loc[pred["suite"] == suite, "metric"].iloc[0]
            k = 100.0 if metric in POINTS else 1.0
            A, B = a.loc[seeds, items].to_numpy() * k, b.loc[seeds, items].to_numpy() * k
            d = paired_diff(A, B)
            out.append({"model": model, "suite": suite, "metric": metric, "seeds": len(seeds), "items": len(items),
                        "exact": B.mean(), "predictor": A.mean(), "diff": d.mean, "ci95_low": d.lo,
                        "ci95_high": d.hi})
    return pd.DataFrame(out, columns=["model", "suite", "metric", "seeds", "items", "exact", "predictor", "diff",
                                      "ci95_low", "ci95_high"])


def to_markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "(no `eval --predictor` results with matching exact-path results)\n"
    lines = ["| model | suite | metric | seeds | items | exact | + predictor | difference [95% CI] |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for r in df.itertuples():
        lines.append(f"| {r.model} | {r.suite} | {r.metric} | {r.seeds} | {r.items} | {r.exact:.3f} | "
                     f"{r.predictor:.3f} | {r.diff:+.3f} [{r.ci95_low:+.3f}, {r.ci95_high:+.3f}] |")
    return "\n".join(lines) + "\n"
