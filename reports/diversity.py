"""The generation-diversity study (results of kind "diversity") as a table and as frontier points.

    python -m reports tables      # → out/reports/tables/diversity-<scale>.md|csv|tex when the study ran

One row per (model, suite, method, setting), the methods in ``METHODS`` order and each method's settings
by their parameter (p', T, top-p). Quality at one sample is ``pass@1`` (code) or ``exact_match``
(reasoning), best-of-k quality ``pass@k`` or ``any@k``; the x axis of the frontier is ``edit_distance``
(mean pairwise normalised edit distance). ``±`` is the 95% half-width: over seeds (Student t) when
several seeds ran, else 1.96 × the standard error over prompts of the one seed. A setting is on the
frontier when no other setting of the same model and suite has both more diversity and better quality@1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from reports.collect import Collection
from reports.stats import mean_ci, pareto_front

METHODS = ("greedy", "stocha", "temperature", "top_p", "stocha_temp")
METHOD_LABELS = {"greedy": "greedy (recipe's activation)", "stocha": "stochastic activation, greedy",
                 "temperature": "temperature", "top_p": "top-p (T = 1)",
                 "stocha_temp": "stochastic activation + temperature"}
DIVERSITY_X = "edit_distance"
Z95 = 1.959963984540054
# (metric, header) per suite kind; "{k}" is the number of samples per prompt.
COLUMNS = {
    "code": [("pass@1", "pass@1"), ("pass@{k}", "pass@{k}"), ("functional_diversity", "behaviours")],
    "reasoning": [("exact_match", "EM"), ("maj@{k}", "maj@{k}"), ("any@{k}", "any@{k}"),
                  ("f1_best@{k}", "F1 best@{k}"), ("f1_mean", "F1 mean")],
}
DIVERSITY_COLUMNS = [("edit_distance", "edit dist."), ("distinct_1", "dist-1"), ("distinct_2", "dist-2"),
                     ("distinct_3", "dist-3"), ("distinct_4", "dist-4"), ("unique_fraction", "unique")]


@dataclass
class Point:
    """One setting of one (model, suite): every metric's mean, and a 95% half-width where known."""

    model: str
    suite: str
    method: str
    setting: str
    order: float  # the setting's parameter, to draw a method's curve in order
    seeds: int
    values: dict
    half: dict
    frontier: bool = False


def suite_kind(names: set[str]) -> str:
    return "code" if "pass@1" in names else "reasoning"


def quality_names(kind: str, k: int) -> tuple[str, str]:
    """(quality of one sample, best-of-k quality) metric names."""
    return ("pass@1", f"pass@{k}") if kind == "code" else ("exact_match", f"any@{k}")


def frontier_quality(kind: str) -> str:
    """The quality the frontier is marked on: that of one sample (pass@1 or exact_match)."""
    return quality_names(kind, 1)[0]


def _order(g: pd.DataFrame, method: str) -> float:
    col = {"stocha": "act_p", "top_p": "top_p"}.get(method, "temperature")
    v = pd.to_numeric(g[col], errors="coerce").dropna() if col in g.columns else pd.Series(dtype=float)
    return float(v.iloc[0]) if len(v) else 0.0


def _ci(g: pd.DataFrame) -> tuple[float, float]:
    per_seed = g.groupby("seed").agg(value=("value", "mean"), stderr=("stderr", "mean"))
    c = mean_ci(per_seed["value"].tolist())
    if c.n == 1:  # one seed: the spread over prompts is all there is
        se = per_seed["stderr"].iloc[0]
        return c.mean, (Z95 * float(se) if se is not None and not pd.isna(se) else math.nan)
    return c.mean, c.half


def points(coll: Collection, scale: str) -> dict[tuple[str, str], list[Point]]:
    """(model, suite) → its settings as points, in table order, frontier marked."""
    m = coll.metrics
    d = m[(m["kind"] == "diversity") & (m["scale"] == scale)]
    if d.empty or "method" not in d.columns:
        return {}
    out: dict[tuple[str, str], list[Point]] = {}
    for (model, suite), ms in d.groupby(["model", "suite"], sort=True):
        pts = []
        for (method, setting), g in ms.groupby(["method", "setting"], sort=False):
            vals, half = {}, {}
            for name, mg in g.groupby("metric"):
                vals[name], half[name] = _ci(mg)
            pts.append(Point(model, suite, method, setting, _order(g, method), int(g["seed"].nunique()), vals,
                             half))
        pts.sort(key=lambda p: (METHODS.index(p.method) if p.method in METHODS else len(METHODS), p.order,
                                p.setting))
        mark_frontier(pts, frontier_quality(suite_kind(set(ms["metric"].astype(str)))))
        out[(model, suite)] = pts
    return out


def mark_frontier(pts: list[Point], quality: str, diversity: str = DIVERSITY_X) -> None:
    """Mark the points on the Pareto front of (diversity, quality) (ties on both: all kept).

    Points missing either value (absent or NaN) are left off the front and compete with nobody.
    """
    def xy(p: Point) -> tuple[float, float] | None:
        x, y = p.values.get(diversity), p.values.get(quality)
        return None if x is None or y is None or math.isnan(x) or math.isnan(y) else (x, y)

    front = set(pareto_front([c for c in map(xy, pts) if c is not None]))
    for p in pts:
        p.frontier = xy(p) in front


def k_of(pts: list[Point]) -> int:
    """k from the best-of-k metric names (pass@10 → 10)."""
    ks = [int(n.split("@")[1]) for p in pts for n in p.values if "@" in n and n.split("@")[1].isdigit()
          and n != "pass@1"]
    return max(ks) if ks else 1


# ---- table --------------------------------------------------------------------------------------
def table_rows(pts: list[Point]) -> tuple[list[str], list[list[str]]]:
    """Header and body of one (model, suite) block."""
    k = k_of(pts)
    kind = suite_kind({n for p in pts for n in p.values})
    cols = [(n.format(k=k), h.format(k=k)) for n, h in COLUMNS[kind]] + DIVERSITY_COLUMNS
    q1 = quality_names(kind, k)[0]
    header = ["method", "setting", "seeds"] + [h for _, h in cols] + ["frontier"]
    body = []
    for p in pts:
        cells = []
        for name, _ in cols:
            v = p.values.get(name)
            if v is None or math.isnan(v):
                cells.append("–")
                continue
            s = f"{v:.3f}" if name != "functional_diversity" else f"{v:.2f}"
            h = p.half.get(name)
            if name == q1 and h is not None and not math.isnan(h):
                s += f" ± {h:.3f}"
            cells.append(s)
        body.append([METHOD_LABELS.get(p.method, p.method), p.setting, str(p.seeds)] + cells
                    + ["◆" if p.frontier else ""])
    return header, body


def to_markdown(blocks: dict[tuple[str, str], list[Point]], scale: str) -> str:
    from reports.tables import markdown_table

    out = [f"## Generation diversity ({scale})", ""]
    for (model, suite), pts in blocks.items():
        header, body = table_rows(pts)
        out += [f"### {model} on {suite} (k = {k_of(pts)} samples per prompt)", "",
                markdown_table(header, body), ""]
    out += ["- quality of one sample (pass@1 / EM) ± 95%: over seeds when several ran, else 1.96 × the "
            "standard error over prompts",
            "- edit dist. = mean pairwise normalised edit distance among the k samples of a prompt; dist-n = "
            "distinct n-grams / n-grams; unique = distinct completions / k; behaviours = distinct behaviours "
            "on the tests among k (code)",
            "- ◆ = on the quality-diversity frontier (no other setting has both more edit distance and better "
            "quality of one sample)"]
    return "\n".join(out) + "\n"


def to_frame(blocks: dict[tuple[str, str], list[Point]]) -> pd.DataFrame:
    recs = []
    for pts in blocks.values():
        for p in pts:
            rec = {"model": p.model, "suite": p.suite, "method": p.method, "setting": p.setting, "seeds": p.seeds,
                   "frontier": p.frontier}
            for name in sorted(p.values):
                rec[name] = p.values[name]
                rec[f"{name} ci95"] = p.half.get(name)
            recs.append(rec)
    return pd.DataFrame(recs)


def to_csv(blocks) -> str:
    return to_frame(blocks).to_csv(index=False, float_format="%.6g")


def to_latex(blocks: dict[tuple[str, str], list[Point]], scale: str) -> str:
    from reports.tables import latex_escape, latex_table

    parts = []
    for (model, suite), pts in blocks.items():
        header, body = table_rows(pts)
        body = [[("*" if x == "◆" else x) for x in row] for row in body]  # pdflatex has no ◆
        caption = latex_escape(f"Generation diversity of {model} on {suite} ({scale}), k = {k_of(pts)}; "
                               "* = on the quality-diversity frontier.")
        parts.append(latex_table(header, body, caption=caption, label=f"tab:diversity-{suite}-{scale}"))
    return "\n".join(parts)
