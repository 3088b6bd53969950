"""The paper's qualitative claims, checked on our runs: holds / does not hold / undecided.

    python -m reports tables          # writes claims-<scale>.md|csv|tex beside the other tables

1. **SILU ≥ Swi+FT ≈ StochA > RELU**, per quality metric (each code/reasoning score, validation loss,
   bits per byte), with the variants in ``specs.CLAIM_VARIANTS`` standing for each recipe.
2. **Sparsity ≥ 85%** for every Swi+FT and StochA run with RELU at inference.
3. **The loss spike at the switch to RELU recovers**: the training loss at the end is back within
   ``specs.RECOVERY_TOLERANCE`` of the loss just before the switch.

Intervals are 95% Student-t over seeds. With one seed there is no seed interval: the metric's own
item-level standard error (±1.96·stderr) is used when the result has one, otherwise the verdict rests
on the point estimates and says so. Overlapping intervals make "A > B" undecided and "A ≈ B" hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports import specs
from reports.collect import Collection, variants
from reports.stats import CI, mean_ci, overlap
from reports.tables import Column, columns_for, latex_escape, latex_table, markdown_table

HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "undecided"
CLAIM_COLUMNS = ["claim", "metric", "a", "b", "verdict", "note"]


@dataclass(frozen=True)
class Estimate:
    ci: CI
    source: str  # "seeds" | "items" | "point"


def estimate(rows: pd.DataFrame) -> Estimate | None:
    """Mean over seeds with its seed CI; one seed falls back to the item-level stderr, if any."""
    per_seed = rows.groupby("seed").agg(value=("value", "mean"), stderr=("stderr", "mean"))
    c = mean_ci(per_seed["value"].tolist())
    if c.n == 0:
        return None
    if c.n >= 2:
        return Estimate(c, "seeds")
    se = per_seed["stderr"].iloc[0]
    if se is not None and np.isfinite(se) and se > 0:
        return Estimate(CI(c.mean, 1.96 * float(se), 1), "items")
    return Estimate(c, "point")


def compare(a: CI, b: CI, rel: str, higher_is_better: bool = True) -> str:
    """Verdict on ``a rel b``, rel in ">", "≥", "≈" (better = higher unless ``higher_is_better`` is False)."""
    if rel not in (">", "≥", "≈"):
        raise ValueError(f"unknown relation {rel!r}")
    sign = 1.0 if higher_is_better else -1.0
    diff = sign * (a.mean - b.mean)  # > 0: a is better
    no_ci = not a.has_interval and not b.has_interval
    if no_ci:
        if rel == "≈":
            return UNDECIDED  # equality cannot be judged without any spread
        return HOLDS if diff > 0 or (rel == "≥" and diff == 0) else FAILS
    if overlap(a, b):
        return HOLDS if rel == "≈" else UNDECIDED
    if rel == "≈":
        return FAILS
    return HOLDS if diff > 0 else FAILS


def threshold(a: CI, at_least: float) -> str:
    if not a.has_interval:
        return HOLDS if a.mean >= at_least else FAILS
    if a.lo >= at_least:
        return HOLDS
    if a.hi < at_least:
        return FAILS
    return UNDECIDED


def _fmt(col: Column | None, e: Estimate, scale: float = 1.0, decimals: int = 3) -> str:
    f = col.fmt if col is not None else (lambda x: f"{x * scale:.{decimals}f}")
    s = f(e.ci.mean)
    if e.ci.has_interval:
        s += f" ± {f(e.ci.half)}"
    return s + f" (n={e.ci.n})"


def _source_note(*es: Estimate) -> str:
    srcs = {e.source for e in es}
    if srcs == {"seeds"}:
        return ""
    if "point" in srcs:
        return "1 seed, no CI: point estimates only"
    return "1 seed: CI from item-level stderr"


def representatives(present: dict[str, dict]) -> dict[str, str]:
    """Recipe → the run standing for it: the specs' choice if run, else the first run of that recipe."""
    recipe_of = {"SILU": "silu", "Swi+FT": "swi-ft", "StochA": "stocha", "RELU": "relu"}
    out = {}
    for name, model in specs.CLAIM_VARIANTS.items():
        if model in present:
            out[name] = model
            continue
        same = [m for m in specs.GRIDS["main"]
                if m in present and present[m].get("recipe") == recipe_of[name]]
        same += sorted(m for m, v in present.items() if v.get("recipe") == recipe_of[name] and m not in same)
        if same:
            out[name] = same[0]
    return out


def ordering_claims(coll: Collection, scale: str) -> list[dict]:
    df = coll.metrics[(coll.metrics["scale"] == scale) & (coll.metrics["kind"] != "bench")]
    present = variants(df)
    rep = representatives(present)
    cols, data = columns_for(df)
    out = []
    pairs = [("SILU", "≥", "Swi+FT"), ("Swi+FT", "≈", "StochA"), ("StochA", ">", "RELU"),
             ("Swi+FT", ">", "RELU")]
    for col in cols:
        if col.rule.group != "quality":
            continue
        g = data[col.id]
        for a_name, rel, b_name in pairs:
            if a_name not in rep or b_name not in rep:
                continue
            ma, mb = rep[a_name], rep[b_name]
            ea, eb = estimate(g[g["model"] == ma]), estimate(g[g["model"] == mb])
            if ea is None or eb is None:
                continue
            la, lb = specs.label(ma, present[ma]), specs.label(mb, present[mb])
            out.append({"claim": f"{a_name} {rel} {b_name}", "metric": col.header,
                        "a": f"{la}: {_fmt(col, ea)}", "b": f"{lb}: {_fmt(col, eb)}",
                        "verdict": compare(ea.ci, eb.ci, rel, col.higher_is_better),
                        "note": _source_note(ea, eb)})
    return out


def sparsity_claims(coll: Collection, scale: str) -> list[dict]:
    df = coll.metrics
    sel = df[(df["scale"] == scale) & (df["kind"] == "profile") & (df["metric"] == "sparsity")
             & df["headline"].astype(bool) & df["recipe"].isin(["swi-ft", "stocha"])]
    present = variants(sel)
    out = []
    for model in sorted(present, key=lambda m: specs.row_sort_key(m, present[m])):
        e = estimate(sel[sel["model"] == model])
        if e is None:
            continue
        out.append({"claim": f"sparsity ≥ {specs.SPARSITY_THRESHOLD:.0%} with RELU inference",
                    "metric": "FFN sparsity %", "a": f"{specs.label(model, present[model])}: "
                    f"{_fmt(None, e, scale=100, decimals=1)}",
                    "b": f"threshold {specs.SPARSITY_THRESHOLD:.0%}",
                    "verdict": threshold(e.ci, specs.SPARSITY_THRESHOLD), "note": _source_note(e)})
    return out


def switch_spike(curve: pd.DataFrame, switch_step: float) -> dict | None:
    """Loss just before the switch, its peak just after, and at the end of one run's curve.

    ``pre``: mean of the last 3 logged losses before the switch; ``peak``: the highest loss in the first
    third of the logged points from the switch on; ``final``: mean of the last 3 logged losses.
    None when the curve has no point on one side of the switch.
    """
    c = curve.dropna(subset=["loss"]).sort_values("step")
    before, after = c[c["step"] < switch_step], c[c["step"] >= switch_step]
    if before.empty or after.empty:
        return None
    pre = float(before["loss"].tail(3).mean())
    peak = float(after["loss"].head(max(1, math.ceil(len(after) / 3))).max())
    final = float(after["loss"].tail(3).mean())
    return {"pre": pre, "peak": peak, "final": final, "spike": peak - pre, "delta": final - pre}


def recovery_claims(coll: Collection, scale: str) -> list[dict]:
    cv = coll.curves[(coll.curves["scale"] == scale) & coll.curves["switch_step"].notna()]
    out = []
    present = {m: {"recipe": g["recipe"].iloc[0], "p": g["p"].iloc[0], "alpha": g["alpha"].iloc[0]}
               for m, g in cv.groupby("model")}
    for model in sorted(present, key=lambda m: specs.row_sort_key(m, present[m])):
        runs = []
        for _seed, g in cv[cv["model"] == model].groupby("seed"):
            s = switch_spike(g, float(g["switch_step"].iloc[0]))
            if s is not None:
                runs.append(s)
        claim = "loss spike at the switch recovers"
        lab = specs.label(model, {k: (None if isinstance(v, float) and math.isnan(v) else v)
                                  for k, v in present[model].items()})
        if not runs:
            out.append({"claim": claim, "metric": "train loss", "a": lab, "b": "", "verdict": UNDECIDED,
                        "note": "no logged loss on both sides of the switch"})
            continue
        m = {k: float(np.mean([r[k] for r in runs])) for k in ("pre", "peak", "final")}
        delta = mean_ci([r["delta"] for r in runs])
        tol = specs.RECOVERY_TOLERANCE * m["pre"]
        if delta.has_interval:
            verdict = HOLDS if delta.hi <= tol else FAILS if delta.lo > tol else UNDECIDED
            note = ""
        else:
            verdict = HOLDS if delta.mean <= tol else FAILS
            note = "1 seed, no CI: point estimates only"
        spike = m["peak"] - m["pre"]
        if spike <= 0:
            note = "; ".join(x for x in (note, "no spike seen (peak ≤ pre-switch loss)") if x)
        d = f"{delta.mean:+.3f}" + (f" ± {delta.half:.3f}" if delta.has_interval else "")
        out.append({"claim": claim, "metric": "train loss",
                    "a": f"{lab}: pre {m['pre']:.3f} → peak {m['peak']:.3f} → end {m['final']:.3f} "
                         f"(n={len(runs)})",
                    "b": f"end − pre {d} (tolerance +{tol:.3f})", "verdict": verdict, "note": note})
    return out


def check(coll: Collection, scale: str) -> pd.DataFrame:
    """Every claim for one scale, one row per (claim, metric, subject)."""
    rows = ordering_claims(coll, scale) + sparsity_claims(coll, scale) + recovery_claims(coll, scale)
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def summary(claims: pd.DataFrame) -> pd.DataFrame:
    """Per claim: how many of its rows hold, do not hold, are undecided."""
    if claims.empty:
        return pd.DataFrame(columns=["claim", HOLDS, FAILS, UNDECIDED])
    t = claims.groupby(["claim", "verdict"], sort=False).size().unstack(fill_value=0)
    for v in (HOLDS, FAILS, UNDECIDED):
        if v not in t.columns:
            t[v] = 0
    return t[[HOLDS, FAILS, UNDECIDED]].reset_index()


# ---- rendering ----------------------------------------------------------------------------------
_HEADERS = ["claim", "metric", "A", "B", "verdict", "note"]


def to_markdown(claims: pd.DataFrame, scale: str) -> str:
    head = f"## Claims of the paper checked on our runs ({scale})\n\n"
    if claims.empty:
        return head + "No claim could be checked: no runs of the compared recipes at this scale.\n"
    summ = summary(claims)
    lines = [f"- **{r['claim']}**: holds on {r[HOLDS]}, does not hold on {r[FAILS]}, "
             f"undecided on {r[UNDECIDED]}" for _, r in summ.iterrows()]
    body = claims[CLAIM_COLUMNS].astype(str).values.tolist()
    notes = ["95% CI over seeds (Student t); 'undecided' = the intervals overlap (for ≈, overlap = holds)",
             f"representatives: {', '.join(f'{k} = {v}' for k, v in specs.CLAIM_VARIANTS.items())} "
             "(the first run of the recipe when that one is absent)",
             f"recovery: end-of-training loss within {specs.RECOVERY_TOLERANCE:.0%} of the loss "
             "before the switch"]
    return (head + "\n".join(lines) + "\n\n" + markdown_table(_HEADERS, body, numeric=False) + "\n\n"
            + "\n".join(f"- {n}" for n in notes) + "\n")


def to_latex(claims: pd.DataFrame, scale: str) -> str:
    body = claims[CLAIM_COLUMNS].astype(str).values.tolist()
    caption = latex_escape(f"Claims of the paper checked on our runs ({scale}).")
    return latex_table(_HEADERS, body, caption=caption, label=f"tab:claims-{scale}")
