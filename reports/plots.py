"""Figures from the tidy results (matplotlib, no pyplot state; PNG and PDF).

    python -m reports plots [--results out/results] [--out out/reports]

- ``sparsity_vs_quality``: each variant a point with 95% CI bars on both axes, and the Pareto front
  (more sparsity and better quality), one panel per quality metric.
- ``loss_curves``: training loss per variant (mean over seeds), the switch to RELU marked, plus a panel
  zoomed on the switch.
- ``per_layer_sparsity``: FFN sparsity of each layer per variant.
- ``speedup_vs_sparsity``: FFN (and decode) speed-up against sparsity, with the ideal bound
  3 / (1 + 2(1 − s)) and the paper's quoted 1.65× point; micro-benchmark results included.
- ``quality_vs_diversity``: the generation-diversity study's frontier (``python -m harness diversity``):
  quality against mean pairwise edit distance, one curve per sampling method, points labelled by setting;
  skipped with a note until diversity results exist.

Each function returns a ``matplotlib.figure.Figure`` (or None when there is nothing to draw), so tests
inspect axes and series instead of pixels.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from harness.paths import atomic_write_bytes
from reports import diversity, specs
from reports.collect import Collection, variants
from reports.stats import mean_ci, pareto_front
from reports.tables import columns_for

PARETO_LABEL = "Pareto front"
IDEAL_LABEL = "ideal bound 3/(1+2(1−s))"
PAPER_LABEL = "paper, quoted (1.65× at ~90%)"


def ideal_speedup(s):
    """Bytes-bound FFN speed-up at sparsity s: the gate is dense, W3 rows and W2 columns only where active."""
    s = np.asarray(s, dtype=float)
    return 3.0 / (1.0 + 2.0 * (1.0 - s))


def _colors(models: list[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(models)}


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
    m = coll.metrics
    return m[(m["scale"] == scale) & (m["kind"] != "bench")]


# ---- figures ------------------------------------------------------------------------------------
def sparsity_vs_quality(coll: Collection, scale: str) -> Figure | None:
    df = _scale_df(coll, scale)
    sp_rows = df[(df["kind"] == "profile") & (df["metric"] == "sparsity") & df["headline"].astype(bool)]
    sparsity = _per_model(sp_rows)
    cols, data = columns_for(df)
    cols = [c for c in cols if c.rule.group == "quality"]
    if not sparsity or not cols:
        return None
    present = variants(df)
    models = [m for m in _ordered(present) if m in sparsity]
    colors = _colors(models)
    ncol = min(3, len(cols))
    nrow = math.ceil(len(cols) / ncol)
    fig = Figure(figsize=(4.6 * ncol, 3.8 * nrow), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, col in zip(axes, cols):
        q = _per_model(data[col.id])
        pts = []
        for m in models:
            if m not in q:
                continue
            x, y = sparsity[m], q[m]
            ax.errorbar(100 * x.mean, col.rule.scale * y.mean, xerr=100 * _err(x),
                        yerr=col.rule.scale * _err(y), fmt="o", capsize=3, color=colors[m],
                        label=specs.label(m, present[m]))
            pts.append((100 * x.mean, col.rule.scale * y.mean))
        front = pareto_front(pts, col.higher_is_better)
        if len(front) >= 2:
            ax.plot(*zip(*front), "--", color="0.4", lw=1, label=PARETO_LABEL, zorder=0)
        ax.set_xlabel("FFN sparsity (%)")
        ax.set_ylabel(col.header)
        ax.set_title(col.header)
        ax.grid(alpha=0.3)
    for ax in axes[len(cols):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    fig.suptitle(f"Sparsity vs quality ({scale}); bars: 95% CI over seeds")
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
    fig = Figure(figsize=(11 if len(switches) else 6.5, 4.2), layout="constrained")
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
    axes[0].legend(fontsize=8)
    return fig


def per_layer_sparsity(coll: Collection, scale: str) -> Figure | None:
    df = _scale_df(coll, scale)
    rows = df[(df["kind"] == "profile") & (df["metric"] == "sparsity") & df["layer"].notna()]
    if rows.empty:
        return None
    present = variants(rows)
    models = _ordered(present)
    colors = _colors(models)
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
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
    ax.legend(fontsize=8)
    return fig


def bench_points(metrics: pd.DataFrame) -> list[tuple[float, float, str]]:
    """(sparsity, speed-up, label) from "bench" results.

    A speed-up metric row that carries a ``sparsity`` key is one point; otherwise a result with one
    ``sparsity`` metric pairs it with each of its speed-up metrics.
    """
    b = metrics[metrics["kind"] == "bench"]
    pts = []
    for _path, g in b.groupby("path", dropna=False):
        speed = g[g["metric"].astype(str).str.contains("speedup")]
        if "sparsity" in speed.columns and speed["sparsity"].notna().any():
            for _, r in speed[speed["sparsity"].notna()].iterrows():
                pts.append((float(r["sparsity"]), float(r["value"]), f"{r['suite']}: {r['metric']}"))
            continue
        sp = g[g["metric"] == "sparsity"]["value"].dropna()
        if len(sp) == 1:
            for _, r in speed.iterrows():
                pts.append((float(sp.iloc[0]), float(r["value"]), f"{r['suite']}: {r['metric']}"))
    return pts


def speedup_vs_sparsity(coll: Collection) -> Figure | None:
    m = coll.metrics
    prof = m[(m["kind"] == "profile") & m["headline"].astype(bool)]
    bench = bench_points(m)
    if prof[prof["metric"].isin(["ffn_speedup", "decode_speedup"])].empty and not bench:
        return None
    fig = Figure(figsize=(6.8, 4.6), layout="constrained")
    ax = fig.subplots()
    s = np.linspace(0.0, 0.99, 200)
    ax.plot(100 * s, ideal_speedup(s), "-", color="0.3", lw=1.2, label=IDEAL_LABEL)
    markers = {"ffn_speedup": "o", "decode_speedup": "s"}
    names = {"ffn_speedup": "FFN", "decode_speedup": "decode (whole model)"}
    for scale in sorted(prof["scale"].dropna().unique()):
        ps = prof[prof["scale"] == scale]
        sp = _per_model(ps[ps["metric"] == "sparsity"])
        for metric, marker in markers.items():
            sv = _per_model(ps[ps["metric"] == metric])
            keys = [k for k in sv if k in sp]
            if not keys:
                continue
            xs, ys = [100 * sp[k].mean for k in keys], [sv[k].mean for k in keys]
            ax.errorbar(xs, ys, xerr=[100 * _err(sp[k]) for k in keys], yerr=[_err(sv[k]) for k in keys],
                        fmt=marker, capsize=3, label=f"{names[metric]}, trained {scale} models")
            present = variants(ps)
            for k, x, y in zip(keys, xs, ys):
                ax.annotate(specs.label(k, present.get(k)), (x, y), xytext=(4, 4), textcoords="offset points",
                            fontsize=6, color="0.3")
    if bench:
        ax.plot([100 * x for x, _, _ in bench], [y for _, y, _ in bench], "x", color="tab:purple", ms=7,
                label="FFN micro-benchmark (bench)")
    ax.plot([100 * specs.PAPER_SPEEDUP_SPARSITY], [specs.PAPER_CPU_SPEEDUP], "*", color="tab:red", ms=14,
            label=PAPER_LABEL)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_xlim(0, 100)
    ax.set_xlabel("FFN sparsity (%)")
    ax.set_ylabel("speed-up over dense (×)")
    ax.set_title("CPU speed-up of sparse inference vs sparsity")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
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
def save(fig: Figure, stem) -> dict:
    """Write ``stem``.png and ``stem``.pdf atomically; returns their paths."""
    out = {}
    for fmt in ("png", "pdf"):
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
             sparsity_vs_quality(coll, scale) or "needs profile sparsity and quality results"),
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
