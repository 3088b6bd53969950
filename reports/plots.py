"""Figures from the tidy results (matplotlib, no pyplot state; PNG and PDF).

    python -m reports plots [--results out/results] [--out out/reports]

- ``sparsity_vs_quality``: each variant a point with 95% CI bars on both axes, and the Pareto front
  (more sparsity and better quality), one panel per quality metric. Only results scored with the recipe's
  own inference activation (``eval_act_default``); a panel whose scores are all exactly zero (every
  variant: the ``tiny`` models solve nothing) is left out and named under the title, and with no panel
  left the figure is skipped ("all quality scores are zero at this scale").
- ``loss_curves``: training loss per variant (mean over seeds), the switch to RELU marked, plus a panel
  zoomed on the switch.
- ``per_layer_sparsity``: FFN sparsity of each layer per variant.
- ``speedup_vs_sparsity``: speed-up against FFN sparsity at the profiler's headline width (d = 2048), two
  FFN series per variant (marker = series, color = variant): against torch's dense FFN, and against the
  same GEMV kernel with no neuron skipped (the gain from sparsity alone, the only one the byte bound
  3 / (1 + 2(1 − s)) applies to), plus decoding the whole model; the paper's quoted 1.65× point (its
  baseline unknown); micro-benchmark results split the same way. Legends sit outside the axes.
- ``quality_vs_diversity``: the generation-diversity study's frontier (``python -m harness diversity``):
  quality against mean pairwise edit distance, one curve per sampling method, points labelled by setting;
  skipped with a note until diversity results exist.

Each function returns a ``matplotlib.figure.Figure`` (or None when there is nothing to draw), so tests
inspect axes and series instead of pixels.
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.results import atomic_write_bytes
from reports import diversity, specs
from reports.collect import Collection, scale_key, variants
from reports.stats import mean_ci, pareto_front
from reports.tables import columns_for, row_label

PARETO_LABEL = "Pareto front"
IDEAL_LABEL = "byte bound 3/(1+2(1−s)) (sparsity only)"
PAPER_LABEL = "paper, quoted: 1.65× at ~90% (baseline unknown)"
# speedup_vs_sparsity: profile metric → (legend label, marker, hollow)
SPEED_SERIES = {
    "ffn_speedup": ("FFN vs torch dense", "o", False),
    "ffn_speedup_same_gemv": ("FFN sparsity only (same GEMV)", "^", False),
    "decode_speedup_kernel": ("decode, sparse kernel forced (whole model)", "s", True),
}
BENCH_LABELS = {"torch": "micro-benchmark FFN vs torch dense (bench)",
                "same_gemv": "micro-benchmark FFN sparsity only (same GEMV, bench)"}
ZERO_QUALITY_REASON = "all quality scores are zero at this scale"
NO_QUALITY_REASON = "needs profile sparsity and quality results"


def ideal_speedup(s):
    """Bytes-bound FFN speed-up at sparsity s: the gate is dense, W3 rows and W2 columns only where active."""
    s = np.asarray(s, dtype=float)
    return 3.0 / (1.0 + 2.0 * (1.0 - s))


def _colors(models: list) -> dict:
    """One color per variant: tab10's ten hues, then (11–20 variants) tab20's light shade of each."""
    from matplotlib import colormaps

    if len(models) <= 10:
        return {m: colormaps["tab10"](i) for i, m in enumerate(models)}
    cmap = colormaps["tab20"]  # dark, light, dark, light…: the dark ones first
    return {m: cmap((2 * i + i // 10) % 20) for i, m in enumerate(models)}


def _legend_cols(n: int, width_in: float, per_col_in: float = 2.1) -> int:
    """Columns of a legend below the axes: as many as fit the figure's width, balanced over rows."""
    fit = max(1, int(width_in // per_col_in))
    rows = math.ceil(n / fit)
    return max(1, math.ceil(n / rows))


def _ordered(present: dict[str, dict]) -> list[str]:
    return sorted(present, key=lambda m: specs.row_sort_key(m, present[m]))


def _per_model(rows: pd.DataFrame, by: list[str] | None = None) -> dict:
    """(model[, by…]) → CI over seeds of the value (one value per seed)."""
    keys = ["model", *(by or [])]
    out = {}
    for key, g in rows.groupby(keys):
        out[key if by else key[0]] = mean_ci(g.groupby("seed")["value"].mean().tolist())
    return out


def _err(c) -> float:
    return 0.0 if not c.has_interval else c.half


def _scale_df(coll: Collection, scale: str) -> pd.DataFrame:
    """The scale's rows, only those computed with the recipe's own inference activation: an
    ``eval --eval-act silu`` score of a StochA run is not StochA's point."""
    m = coll.metrics
    return m[(m["scale"] == scale) & (m["kind"] != "bench") & m["eval_act_default"].astype(bool)]


# ---- figures ------------------------------------------------------------------------------------
@dataclass
class _QualityPanels:
    sparsity: dict  # model → CI of its FFN sparsity
    models: list[str]  # in row order, those with a sparsity
    present: dict[str, dict]
    panels: list  # (Column, model → CI of the quality metric)
    all_zero: list[str]  # headers of the panels left out: every score exactly 0
    reason: str | None  # why no figure, when no panel remains


def _quality_panels(coll: Collection, scale: str) -> _QualityPanels:
    df = _scale_df(coll, scale)
    sp_rows = df[(df["kind"] == "profile") & (df["metric"] == "sparsity") & df["headline"].astype(bool)]
    sparsity = _per_model(sp_rows)
    cols, data = columns_for(df)
    present = variants(df)
    models = [m for m in _ordered(present) if m in sparsity]
    panels, all_zero = [], []
    for col in (c for c in cols if c.rule.group == "quality"):
        rows = data[col.id][data[col.id]["model"].isin(models)]
        vals = rows["value"].dropna()
        if vals.empty:
            continue  # no variant with a sparsity has this score: nothing to draw
        if (vals == 0).all():
            all_zero.append(col.header)
            continue
        panels.append((col, _per_model(rows)))
    reason = None
    if not panels:
        reason = ZERO_QUALITY_REASON if all_zero and sparsity else NO_QUALITY_REASON
    return _QualityPanels(sparsity, models, present, panels, all_zero, reason)


def sparsity_vs_quality_skip_reason(coll: Collection, scale: str) -> str | None:
    """Why :func:`sparsity_vs_quality` draws nothing at this scale (None when it draws)."""
    return _quality_panels(coll, scale).reason


def sparsity_vs_quality(coll: Collection, scale: str) -> Figure | None:
    qp = _quality_panels(coll, scale)
    if qp.reason is not None:
        return None
    sparsity, models, present, panels = qp.sparsity, qp.models, qp.present, qp.panels
    colors = _colors(models)
    ncol = min(3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig = Figure(figsize=(4.6 * ncol + 2.4, 3.8 * nrow + 0.4), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    legend: dict[str, object] = {}
    for ax, (col, q) in zip(axes, panels):
        pts = []
        for m in models:
            if m not in q:
                continue
            x, y = sparsity[m], q[m]
            h = ax.errorbar(100 * x.mean, col.rule.scale * y.mean, xerr=100 * _err(x),
                            yerr=col.rule.scale * _err(y), fmt="o", capsize=3, color=colors[m],
                            label=specs.label(m, present[m]))
            legend.setdefault(h.get_label(), h)
            pts.append((100 * x.mean, col.rule.scale * y.mean))
        front = pareto_front(pts, col.higher_is_better)
        if len(front) >= 2:
            (ln,) = ax.plot(*zip(*front), "--", color="0.4", lw=1, label=PARETO_LABEL, zorder=0)
            legend.setdefault(PARETO_LABEL, ln)
        ax.set_xlabel("FFN sparsity (%)")
        ax.set_ylabel(col.header)
        ax.set_title(col.header)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if legend:  # every variant drawn in any panel, then the front; outside the axes
        order = [specs.label(m, present[m]) for m in models] + [PARETO_LABEL]
        labels = [lab for lab in order if lab in legend]
        fig.legend([legend[lab] for lab in labels], labels, loc="outside right upper", fontsize=8)
    title = f"Sparsity vs quality ({scale}); bars: 95% CI over seeds"
    if qp.all_zero:  # named, so a reader knows they were measured
        note = "left out, every variant scores 0: " + ", ".join(qp.all_zero)
        title += "\n" + "\n".join(textwrap.wrap(note, width=int(11 * fig.get_figwidth())))
    fig.suptitle(title)
    return fig


def loss_curves(coll: Collection, scale: str) -> Figure | None:
    cv = coll.curves[(coll.curves["scale"] == scale)].dropna(subset=["loss"])
    if cv.empty:
        return None
    present = {m: {"recipe": g["recipe"].iloc[0], "p": _nan_none(g["p"].iloc[0]),
                   "alpha": _nan_none(g["alpha"].iloc[0])} for m, g in cv.groupby("model")}
    models = _ordered(present)
    colors = _colors(models)
    switches = cv["switch_step"].dropna()
    fig = Figure(figsize=(11 if len(switches) else 6.5, 4.2 + 0.2 * math.ceil(len(models) / 3)),
                 layout="constrained")
    axes = fig.subplots(1, 2 if len(switches) else 1, squeeze=False).ravel()
    for m in models:
        g = cv[cv["model"] == m]
        mean = g.groupby("step")["loss"].mean()  # mean over seeds at each logged step
        nseeds = g["seed"].nunique()
        lab = specs.label(m, present[m]) + (f" ({nseeds} seeds)" if nseeds > 1 else "")
        sw = g["switch_step"].dropna()
        for ax in axes:
            ax.plot(mean.index, mean.values, color=colors[m], lw=1.2, label=lab)
            if len(sw):
                ax.axvline(float(sw.iloc[0]), color=colors[m], ls="--", lw=0.9, alpha=0.8)
    axes[0].set_title(f"Training loss ({scale}); dashed: switch to RELU")
    if len(axes) > 1:
        last = cv["step"].max()
        lo = max(0.0, switches.min() - 0.1 * last)
        zoom = cv[cv["step"] >= lo]
        axes[1].set_xlim(lo, last)
        axes[1].set_ylim(zoom["loss"].min() * 0.98, zoom["loss"].max() * 1.02)
        axes[1].set_title("around the switch")
    for ax in axes:
        ax.set_xlabel("step")
        ax.set_ylabel("train loss")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    width = fig.get_figwidth()
    fig.legend(handles, labels, loc="outside lower center", ncol=_legend_cols(len(labels), width, 2.6),
               fontsize=8)  # below the axes: never over the curves
    return fig


def per_layer_sparsity(coll: Collection, scale: str) -> Figure | None:
    df = _scale_df(coll, scale)
    rows = df[(df["kind"] == "profile") & (df["metric"] == "sparsity") & df["layer"].notna()]
    if rows.empty:
        return None
    present = variants(rows)
    models = _ordered(present)
    colors = _colors(models)
    fig = Figure(figsize=(8.6, 4.2), layout="constrained")
    ax = fig.subplots()
    cis = _per_model(rows, by=["layer"])
    for m in models:
        layers = sorted(k[1] for k in cis if k[0] == m)
        c = [cis[(m, ly)] for ly in layers]
        ax.errorbar(layers, [100 * x.mean for x in c], yerr=[100 * _err(x) for x in c], marker="o", capsize=3,
                    color=colors[m], label=specs.label(m, present[m]))
    ax.set_xlabel("layer")
    ax.set_ylabel("FFN sparsity (%)")
    ax.set_title(f"Per-layer FFN sparsity ({scale}); bars: 95% CI over seeds")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=8)  # never over the points
    return fig


class BenchPoint(NamedTuple):
    sparsity: float
    speedup: float
    label: str  # "suite: metric"
    series: str  # "torch" (vs torch's dense FFN), "same_gemv" (vs the same GEMV, sparsity alone) or "other"


def _bench_series(name: str) -> str:
    if name.endswith("same_gemv"):
        return "same_gemv"
    return "torch" if name in ("speedup", "ffn_speedup") else "other"


def bench_points(metrics: pd.DataFrame) -> list[BenchPoint]:
    """(sparsity, speed-up, label, series) from "bench" results.

    A speed-up metric row that carries a ``sparsity`` key is one point; otherwise a result with one
    ``sparsity`` metric pairs it with each of its speed-up metrics. ``speedup`` is against torch's dense
    FFN, ``speedup_same_gemv`` against the same GEMV with no neuron skipped (series "same_gemv"); other
    speed-ups (layer, torch's sparse path) are series "other".
    """
    b = metrics[metrics["kind"] == "bench"]
    pts = []
    for _path, g in b.groupby("path", dropna=False):
        speed = g[g["metric"].astype(str).str.contains("speedup")]
        if "sparsity" in speed.columns and speed["sparsity"].notna().any():
            for _, r in speed[speed["sparsity"].notna()].iterrows():
                pts.append(BenchPoint(float(r["sparsity"]), float(r["value"]), f"{r['suite']}: {r['metric']}",
                                      _bench_series(str(r["metric"]))))
            continue
        sp = g[g["metric"] == "sparsity"]["value"].dropna()
        if len(sp) == 1:
            for _, r in speed.iterrows():
                pts.append(BenchPoint(float(sp.iloc[0]), float(r["value"]), f"{r['suite']}: {r['metric']}",
                                      _bench_series(str(r["metric"]))))
    return pts


def speedup_vs_sparsity(coll: Collection) -> Figure | None:
    """Speed-up against FFN sparsity at the headline width (d = 2048): marker = series (FFN vs torch dense,
    FFN sparsity only (same GEMV), decode), color = variant; the byte bound applies to the same-GEMV series."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    m = coll.metrics
    prof = m[(m["kind"] == "profile") & m["headline"].astype(bool) & m["eval_act_default"].astype(bool)]
    bench = [b for b in bench_points(m) if b.series in BENCH_LABELS]
    if prof[prof["metric"].isin(list(SPEED_SERIES))].empty and not bench:
        return None
    scales = sorted(prof["scale"].dropna().unique(), key=scale_key)
    # (scale, row) → sparsity CI and the speed-ups measured; only variants with a sparsity and a speed-up
    points: dict[tuple[str, str], dict] = {}
    labels: dict[tuple[str, str], str] = {}
    everyone = []  # every profiled variant, so colors match the other figures' (SILU keeps its color)
    for scale in scales:
        ps = prof[prof["scale"] == scale]
        present = variants(ps)
        sp = _per_model(ps[ps["metric"] == "sparsity"])
        speeds = {metric: _per_model(ps[ps["metric"] == metric]) for metric in SPEED_SERIES}
        for row in _ordered(present):
            everyone.append((scale, row))
            got = {metric: sv[row] for metric, sv in speeds.items() if row in sv}
            if row in sp and got:
                points[(scale, row)] = {"sparsity": sp[row], **got}
                labels[(scale, row)] = row_label(row, present) + (f" ({scale})" if len(scales) > 1 else "")
    colors = _colors(everyone)
    n_var = len(points)
    width = 10.0
    var_cols = _legend_cols(n_var, width - 0.6) if n_var else 1
    var_rows = math.ceil(n_var / var_cols) if n_var else 0
    fig = Figure(figsize=(width, 5.0 + 0.22 * var_rows), layout="constrained")
    ax = fig.subplots()
    s = np.linspace(0.0, 0.99, 200)
    ax.plot(100 * s, ideal_speedup(s), "-", color="0.3", lw=1.2, label=IDEAL_LABEL)
    used = set()
    for key, pt in points.items():
        x = pt["sparsity"]
        for metric, (name, marker, hollow) in SPEED_SERIES.items():
            if metric not in pt:
                continue
            y = pt[metric]
            used.add(metric)
            ax.errorbar([100 * x.mean], [y.mean], xerr=[100 * _err(x)], yerr=[_err(y)], fmt=marker, ms=7,
                        color=colors[key], mfc="white" if hollow else colors[key], mew=1.3, capsize=2.5,
                        elinewidth=0.8, alpha=0.9, label=f"{name}: {labels[key]}")
    for series, marker in (("torch", "x"), ("same_gemv", "+")):
        bs = [b for b in bench if b.series == series]
        if bs:
            ax.plot([100 * b.sparsity for b in bs], [b.speedup for b in bs], marker, color="k", ms=9, mew=1.6,
                    ls="", label=BENCH_LABELS[series])
    ax.plot([100 * specs.PAPER_SPEEDUP_SPARSITY], [specs.PAPER_CPU_SPEEDUP], "*", color="gold", mec="k",
            ms=15, ls="", label=PAPER_LABEL)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_xlim(-2, 100)  # a dense model (0%) drawn whole
    ax.set_xlabel("FFN sparsity (%)")
    ax.set_ylabel("speed-up over the dense path (×)")
    ax.set_title("CPU speed-up of sparse inference vs FFN sparsity\n"
                 "profiler at the headline width d = 2048; mean over seeds, bars: 95% CI", fontsize=10)
    ax.grid(alpha=0.3)
    # Two legends outside the axes: what each marker measures (right), which variant each color is (below).
    series = [ln for ln in ax.get_lines() if ln.get_label() in (IDEAL_LABEL, PAPER_LABEL, *BENCH_LABELS.values())]
    series += [Line2D([], [], ls="", marker=mk, ms=7, color="0.35", mfc="white" if hollow else "0.35", mew=1.3,
                      label=name) for metric, (name, mk, hollow) in SPEED_SERIES.items() if metric in used]
    order = [SPEED_SERIES[k][0] for k in SPEED_SERIES] + [IDEAL_LABEL, *BENCH_LABELS.values(), PAPER_LABEL]
    series.sort(key=lambda h: order.index(h.get_label()))
    if "ffn_speedup" in used and "ffn_speedup_same_gemv" not in used:  # older profiles: say so, not nothing
        at = next(i for i, h in enumerate(series) if h.get_label() == SPEED_SERIES["ffn_speedup"][0]) + 1
        series.insert(at, Line2D([], [], ls="", label=f"{SPEED_SERIES['ffn_speedup_same_gemv'][0]}: "
                                                      "not in these results"))
    fig.legend(handles=series, loc="outside right upper", fontsize=8, title="series (marker)",
               title_fontsize=8)
    if points:
        fig.legend(handles=[Patch(color=colors[k], label=labels[k]) for k in points], loc="outside lower center",
                   ncol=var_cols, fontsize=8, title="variant (color)", title_fontsize=8)
    return fig


METHOD_STYLE = {"greedy": ("k", "*"), "stocha": ("tab:red", "o"), "temperature": ("tab:blue", "s"),
                "top_p": ("tab:green", "^"), "stocha_temp": ("tab:purple", "D")}


def quality_vs_diversity(coll: Collection, scale: str) -> Figure | None:
    """The diversity study's frontier: per (model, suite) two panels, quality of one sample and best-of-k
    quality (y) against the mean pairwise normalised edit distance (x); one curve per method through its
    settings in order of their parameter, each point labelled by its setting; dashed: the frontier."""
    blocks = diversity.points(coll, scale)
    if not blocks:
        return None
    nrow = len(blocks)
    fig = Figure(figsize=(11, 4.2 * nrow), layout="constrained")
    axes = fig.subplots(nrow, 2, squeeze=False)
    x_name = diversity.DIVERSITY_X
    for row, ((model, suite), pts) in zip(axes, blocks.items()):
        k = diversity.k_of(pts)
        kind = diversity.suite_kind({n for p in pts for n in p.values})
        for ax, y_name in zip(row, diversity.quality_names(kind, k)):
            for method in dict.fromkeys(p.method for p in pts):
                mp = [p for p in pts if p.method == method and x_name in p.values and y_name in p.values]
                if not mp:
                    continue
                color, marker = METHOD_STYLE.get(method, ("0.3", "o"))
                xs = [p.values[x_name] for p in mp]
                ys = [p.values[y_name] for p in mp]
                yerr = [0.0 if math.isnan(p.half.get(y_name, math.nan)) else p.half[y_name] for p in mp]
                ax.errorbar(xs, ys, yerr=yerr, color=color, marker=marker, ms=9 if method == "greedy" else 5,
                            lw=1.2, capsize=2, label=diversity.METHOD_LABELS.get(method, method))
                for p, x, y in zip(mp, xs, ys):
                    ax.annotate(p.setting, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6,
                                color=color)
            if y_name == diversity.frontier_quality(kind):  # the table's frontier: reuse its marks
                front = sorted({(p.values[x_name], p.values[y_name]) for p in pts if p.frontier})
            else:
                front = pareto_front([(p.values[x_name], p.values[y_name]) for p in pts
                                      if x_name in p.values and y_name in p.values])
            if len(front) >= 2:
                ax.plot(*zip(*front), "--", color="0.5", lw=0.9, label=PARETO_LABEL, zorder=0)
            ax.set_xlabel("diversity: mean pairwise normalised edit distance")
            ax.set_ylabel(y_name)
            ax.set_title(f"{model} on {suite}: {y_name}")
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(f"Quality vs diversity of generations ({scale}); bars: 95% CI")
    return fig


def _nan_none(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


# ---- writing ------------------------------------------------------------------------------------
def save(fig: Figure, stem, formats=("png", "pdf")) -> dict:
    """Write ``stem``.png and ``stem``.pdf (or ``formats``) atomically; returns their paths."""
    out = {}
    for fmt in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150)
        path = stem.with_suffix(f".{fmt}")
        atomic_write_bytes(path, buf.getvalue())
        out[fmt] = path
    return out


def figures(coll: Collection) -> list[tuple[str, str, str | None, object]]:
    """(file stem, title, scale, figure-or-skip-reason) for every figure the data allows."""
    out = []
    for scale in coll.scales:
        out += [
            (f"sparsity_vs_quality-{scale}", "Sparsity vs quality", scale,
             sparsity_vs_quality(coll, scale) or sparsity_vs_quality_skip_reason(coll, scale)),
            (f"loss_curves-{scale}", "Training loss curves", scale,
             loss_curves(coll, scale) or "needs train results with a curve"),
            (f"per_layer_sparsity-{scale}", "Per-layer FFN sparsity", scale,
             per_layer_sparsity(coll, scale) or "needs profile results with per-layer sparsity"),
            (f"quality_vs_diversity-{scale}", "Quality vs diversity", scale,
             quality_vs_diversity(coll, scale)
             or "no diversity results yet: run `python -m harness diversity`"),
        ]
    out.append(("speedup_vs_sparsity", "FFN speed-up vs sparsity", None,
                speedup_vs_sparsity(coll) or "needs profile results (ffn_speedup) or bench results"))
    return out
