"""The paper's qualitative claims, checked on our runs with paired statistics: holds / does not hold /
undecided, or "no interval" when nothing measures the noise.

    python -m reports tables          # writes claims-<scale>.md|csv|tex beside the other tables

1. **SILU ≥ Swi+FT ≈ StochA > RELU**, per quality metric (each code/reasoning score, validation loss, bits
   per byte), with the variants in ``specs.CLAIM_VARIANTS`` standing for each recipe. Each row compares A
   with B on the same items and the same seeds: the difference A − B (oriented so that positive favours A),
   its 95% interval from both seeds and items (``reports.stats.paired_diff``), the margin of the metric
   (``specs.MARGINS``) and the smallest difference the comparison could detect (mde). "≥" is read as
   non-inferiority and "≈" as equivalence within the margin (``reports.stats.verdict``): overlapping
   intervals alone decide nothing.
2. **Sparsity as the paper states it** (about 85–90% of FFN activations zero, 84.6% at p = 0.7, α = 0.05),
   for every Swi+FT and StochA run with RELU at inference: holds when the 95% interval over seeds lies at
   or above 84.6% minus ``specs.SPARSITY_TOLERANCE``.
3. **The loss spike at the switch to RELU recovers**: the training loss at the end is back within
   ``specs.RECOVERY_TOLERANCE`` of the loss just before the switch.

Only results with each recipe's own inference activation enter (``eval --eval-act`` rows never do).
Rows whose verdict rests on no interval (one seed and no per-item scores) say "no interval" and are
listed but not counted in the summary.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from reports import specs
from reports.collect import Collection, variants
from reports.stats import FAILS, HOLDS, NO_INTERVAL, UNDECIDED, Diff, mean_ci, paired_diff, verdict
from reports.tables import Column, columns_for, latex_escape, latex_table, markdown_table

CLAIM_COLUMNS = ["claim", "metric", "a", "b", "seeds", "items", "diff", "ci95", "margin", "mde", "verdict",
                 "note"]
VERDICTS = (HOLDS, FAILS, UNDECIDED)


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


def per_seed(rows: pd.DataFrame) -> pd.Series:
    """One value per seed (the mean of a seed's rows)."""
    return rows.groupby("seed")["value"].mean()


def item_matrix(items: pd.DataFrame, model: str, suite: str, seeds: list) -> pd.DataFrame | None:
    """(seeds × items) scores of one model's default-activation results of ``suite``; None when a seed
    lacks per-item scores."""
    sel = items[(items["row"] == model) & (items["suite"] == suite) & items["seed"].isin(seeds)]
    if sel.empty or set(sel["seed"]) != set(seeds):
        return None
    return sel.pivot_table(index="seed", columns="item", values="value", aggfunc="mean").loc[seeds]


def shared_seeds(rows_a: pd.DataFrame, rows_b: pd.DataFrame) -> list:
    """The seeds both ran: the only ones a paired difference (and the means shown beside it) may use."""
    return sorted(set(rows_a["seed"]) & set(rows_b["seed"]))


def compare_runs(coll: Collection, rows_a: pd.DataFrame, rows_b: pd.DataFrame, model_a: str, model_b: str,
                 suite: str | None, sign: float) -> Diff | None:
    """``sign``·(A − B) on the seeds both ran: item by item when both have per-item scores of the same
    items, else seed by seed."""
    va, vb = per_seed(rows_a), per_seed(rows_b)
    seeds = shared_seeds(rows_a, rows_b)
    if not seeds:
        return None
    if suite is not None and not coll.items.empty:
        ma, mb = item_matrix(coll.items, model_a, suite, seeds), item_matrix(coll.items, model_b, suite, seeds)
        sel = coll.items[coll.items["row"].isin([model_a, model_b]) & (coll.items["suite"] == suite)
                         & coll.items["seed"].isin(seeds)]
        same_items = sel["dataset"].nunique(dropna=False) == 1  # one item set (its hash), or ids mean nothing
        if ma is not None and mb is not None and same_items:
            common = [c for c in ma.columns if c in set(mb.columns)]
            if common and not ma[common].isna().any().any() and not mb[common].isna().any().any():
                w = coll.items[(coll.items["row"] == model_a) & (coll.items["suite"] == suite)]
                w = w.drop_duplicates("item").set_index("item")["weight"].reindex(common)
                return paired_diff(sign * ma[common].to_numpy(), sign * mb[common].to_numpy(),
                                   weights=w.to_numpy())
    return paired_diff(sign * va.loc[seeds].to_numpy(), sign * vb.loc[seeds].to_numpy())


def _num(col: Column | None, x: float, signed: bool = False, scale: float = 1.0, decimals: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    v = x * (col.rule.scale if col is not None else scale)
    d = col.rule.decimals if col is not None else decimals
    return f"{v:+.{d}f}" if signed else f"{v:.{d}f}"


def _diff_cells(col: Column | None, d: Diff, **kw) -> dict:
    return {"seeds": d.n_seeds, "items": d.n_items or "–", "diff": _num(col, d.mean, True, **kw),
            "ci95": f"[{_num(col, d.lo, True, **kw)}, {_num(col, d.hi, True, **kw)}]" if d.has_interval else "–",
            "mde": _num(col, d.mde, **kw)}


def ordering_claims(coll: Collection, scale: str) -> list[dict]:
    df = coll.metrics
    df = df[(df["scale"] == scale) & (df["kind"] != "bench") & df["eval_act_default"]]
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
        margin = specs.MARGINS.get(col.rule.metric)
        sign = 1.0 if col.higher_is_better else -1.0
        for a_name, rel, b_name in pairs:
            if a_name not in rep or b_name not in rep:
                continue
            ma, mb = rep[a_name], rep[b_name]
            ra, rb = g[g["model"] == ma], g[g["model"] == mb]
            if ra.empty or rb.empty:
                continue
            d = compare_runs(coll, ra, rb, ma, mb, col.suite if col.rule.kind == "eval" else None, sign)
            if d is None:
                continue
            needs_margin = rel != ">"
            v = verdict(d, rel, margin.value if margin else None) if (margin or not needs_margin) else NO_INTERVAL
            note = {"seeds+items": "", "items": "1 seed: interval over items only",
                    "seeds": "no per-item scores: interval over seeds only",
                    "point": "1 seed, no per-item scores: no interval"}[d.method]
            if d.se == 0 and d.mean == 0:  # e.g. both score 0 on every HumanEval item: a floor, not evidence
                v, note = NO_INTERVAL, "A and B score the same on every item and seed: the suite cannot tell them apart here"
            if sign < 0:
                note = "; ".join(x for x in (note, "lower is better: diff = B − A") if x)
            la, lb = specs.label(ma, present[ma]), specs.label(mb, present[mb])
            seeds = shared_seeds(ra, rb)  # a seed only one of them ran would make the means disagree with diff
            out.append({"claim": f"{a_name} {rel} {b_name}", "metric": col.header,
                        "a": f"{la}: {col.fmt(per_seed(ra).loc[seeds].mean())}",
                        "b": f"{lb}: {col.fmt(per_seed(rb).loc[seeds].mean())}",
                        **_diff_cells(col, d),
                        "margin": f"±{_num(col, margin.value)}" if margin and needs_margin else "–",
                        "verdict": v, "note": note})
    return out


def sparsity_claims(coll: Collection, scale: str) -> list[dict]:
    df = coll.metrics
    sel = df[(df["scale"] == scale) & (df["kind"] == "profile") & (df["metric"] == "sparsity")
             & df["headline"].astype(bool) & df["recipe"].isin(["swi-ft", "stocha"])]
    present = variants(sel)
    floor = specs.SPARSITY_CLAIM - specs.SPARSITY_TOLERANCE
    out = []
    for model in sorted(present, key=lambda m: specs.row_sort_key(m, present[m])):
        c = mean_ci(per_seed(sel[sel["model"] == model]).tolist())
        if c.n == 0:
            continue
        if c.has_interval:
            v = HOLDS if c.lo >= floor else FAILS if c.hi < floor else UNDECIDED
        else:
            v = NO_INTERVAL
        out.append({"claim": f"sparsity ≈ paper's {specs.SPARSITY_CLAIM:.1%} (≥ {floor:.1%}) with RELU inference",
                    "metric": "FFN sparsity %", "a": f"{specs.label(model, present[model])}: {100 * c.mean:.1f}%",
                    "b": f"paper {specs.SPARSITY_CLAIM:.1%}", "seeds": c.n, "items": "–",
                    "diff": f"{100 * (c.mean - specs.SPARSITY_CLAIM):+.1f}",
                    "ci95": f"[{100 * (c.lo - specs.SPARSITY_CLAIM):+.1f}, {100 * (c.hi - specs.SPARSITY_CLAIM):+.1f}]"
                    if c.has_interval else "–",
                    "margin": f"−{100 * specs.SPARSITY_TOLERANCE:.1f} (tolerance)", "mde": "–", "verdict": v,
                    "note": "" if c.has_interval else "1 seed: no interval"})
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
    claim = "loss spike at the switch recovers"
    for model in sorted(present, key=lambda m: specs.row_sort_key(m, present[m])):
        runs = []
        for _seed, g in cv[cv["model"] == model].groupby("seed"):
            s = switch_spike(g, float(g["switch_step"].iloc[0]))
            if s is not None:
                runs.append(s)
        lab = specs.label(model, {k: (None if isinstance(v, float) and math.isnan(v) else v)
                                  for k, v in present[model].items()})
        base = {"claim": claim, "metric": "train loss", "items": "–", "mde": "–"}
        if not runs:
            out.append({**base, "a": lab, "b": "", "seeds": 0, "diff": "–", "ci95": "–", "margin": "–",
                        "verdict": NO_INTERVAL, "note": "no logged loss on both sides of the switch"})
            continue
        m = {k: float(np.mean([r[k] for r in runs])) for k in ("pre", "peak", "final")}
        delta = mean_ci([r["delta"] for r in runs])
        tol = specs.RECOVERY_TOLERANCE * m["pre"]
        notes = []
        if delta.has_interval:
            v = HOLDS if delta.hi <= tol else FAILS if delta.lo > tol else UNDECIDED
        else:
            v, notes = NO_INTERVAL, ["1 seed: no interval"]
        if m["peak"] - m["pre"] <= 0:
            notes.append("no spike seen (peak ≤ pre-switch loss)")
        out.append({**base, "a": f"{lab}: pre {m['pre']:.3f} → peak {m['peak']:.3f} → end {m['final']:.3f}",
                    "b": "end − pre", "seeds": len(runs), "diff": f"{delta.mean:+.3f}",
                    "ci95": f"[{delta.lo:+.3f}, {delta.hi:+.3f}]" if delta.has_interval else "–",
                    "margin": f"+{tol:.3f} (tolerance)", "verdict": v, "note": "; ".join(notes)})
    return out


def check(coll: Collection, scale: str) -> pd.DataFrame:
    """Every claim for one scale, one row per (claim, metric, subject)."""
    rows = ordering_claims(coll, scale) + sparsity_claims(coll, scale) + recovery_claims(coll, scale)
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def summary(claims: pd.DataFrame) -> pd.DataFrame:
    """Per claim: how many of its rows hold, do not hold, are undecided; rows without an interval are
    counted apart (``no interval``), never as a verdict."""
    cols = ["claim", *VERDICTS, NO_INTERVAL]
    if claims.empty:
        return pd.DataFrame(columns=cols)
    t = claims.groupby(["claim", "verdict"], sort=False).size().unstack(fill_value=0)
    for v in (*VERDICTS, NO_INTERVAL):
        if v not in t.columns:
            t[v] = 0
    return t[[*VERDICTS, NO_INTERVAL]].reset_index()


# ---- rendering ----------------------------------------------------------------------------------
_HEADERS = ["claim", "metric", "A", "B", "seeds", "items", "A − B", "95% CI", "margin", "mde", "verdict",
            "note"]


def notes() -> list[str]:
    margins = "; ".join(f"{k} ±{m.value:g} ({m.reason})" for k, m in specs.MARGINS.items())
    return ["A − B is oriented so that positive favours A (for lower-is-better metrics it is B − A); paired "
            "over the seeds both ran and the items both scored (the A and B means are over those seeds too); "
            "95% CI from seeds and items together (reports/stats.py); mde = the smallest difference detectable with 80% power",
            "> holds when the CI excludes 0 in A's favour; ≈ holds when the whole CI lies within ±margin; "
            "≥ (non-inferiority) holds when the CI's lower end is above −margin; otherwise undecided, or "
            "does not hold when the CI lies wholly on the wrong side",
            f"margins: {margins}",
            f"representatives: {', '.join(f'{k} = {v}' for k, v in specs.CLAIM_VARIANTS.items())} "
            "(the first run of the recipe when that one is absent); only each recipe's own inference "
            "activation enters",
            f"sparsity: the paper's 84.6% at p = 0.7, α = 0.05 ('about 85–90%'), tolerance "
            f"{100 * specs.SPARSITY_TOLERANCE:.0f} points",
            f"recovery: end-of-training loss within {specs.RECOVERY_TOLERANCE:.0%} of the loss before the switch"]


def to_markdown(claims: pd.DataFrame, scale: str) -> str:
    head = f"## Claims of the paper checked on our runs ({scale})\n\n"
    if claims.empty:
        return head + "No claim could be checked: no runs of the compared recipes at this scale.\n"
    summ = summary(claims)
    lines = [f"- **{r['claim']}**: holds on {r[HOLDS]}, does not hold on {r[FAILS]}, undecided on "
             f"{r[UNDECIDED]}" + (f" ({r[NO_INTERVAL]} without an interval, not counted)" if r[NO_INTERVAL] else "")
             for _, r in summ.iterrows()]
    body = claims[CLAIM_COLUMNS].astype(str).values.tolist()
    return (head + "\n".join(lines) + "\n\n" + markdown_table(_HEADERS, body, numeric=False) + "\n\n"
            + "\n".join(f"- {n}" for n in notes()) + "\n")


def to_latex(claims: pd.DataFrame, scale: str) -> str:
    body = claims[CLAIM_COLUMNS].astype(str).values.tolist()
    caption = latex_escape(f"Claims of the paper checked on our runs ({scale}).")
    return latex_table(_HEADERS, body, caption=caption, label=f"tab:claims-{scale}")
