"""Paper-style tables (main, α-sweep, p-sweep) from the tidy results, as markdown, CSV and LaTeX.

    python -m reports tables [--results out/results] [--out out/reports]

Each cell is the mean over seeds ± the 95% Student-t half-width (no ± when one seed ran); the best
mean of each column is bold, lower being better where the metric says so (loss, bits per byte). Rows
quoted from the paper are marked and never bold. The CSV also carries each cell's between-seed standard
deviation (``sd``) and seed count.

A variant's row holds only results with its recipe's own inference activation (RELU for Swi+FT and
StochA). Evaluations with another one (``eval --eval-act silu``) get their own row, labelled
"StochA(p=0.7, α=0.05) · eval silu", right after the variant's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from reports import specs
from reports.collect import Collection, variants
from reports.stats import CI, mean_ci


@dataclass
class Column:
    id: str
    rule: specs.ColumnRule
    suite: str | None
    higher_is_better: bool

    @property
    def header(self) -> str:
        h = self.rule.header.format(suite=self.suite)
        return f"{h} {'↑' if self.higher_is_better else '↓'}"

    def fmt(self, x: float) -> str:
        return f"{x * self.rule.scale:.{self.rule.decimals}f}"


@dataclass
class Row:
    key: str  # the tidy ``row``: model name, ``model@act`` for another eval activation, or the reference label
    label: str
    quoted: bool = False
    source: str = ""


@dataclass
class TableData:
    """A table before rendering: rows × columns of CI cells (``None`` where nothing was measured)."""

    name: str
    title: str
    scale: str
    columns: list[Column]
    rows: list[Row]
    cells: dict[tuple[str, str], CI]  # (row key, column id) → CI over seeds
    seeds: dict[str, int]  # row key → seeds it has (the most over its cells)
    not_run: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cell(self, row: str, col: str) -> CI | None:
        return self.cells.get((row, col))

    def best(self, col: Column) -> set[str]:
        """Measured rows whose displayed mean is the column's best (ties all win; none if all rows tie)."""
        shown = {r.key: float(col.fmt(c.mean)) for r in self.rows if not r.quoted
                 and (c := self.cell(r.key, col.id)) is not None and not math.isnan(c.mean)}
        if len(shown) < 2:
            return set()
        target = max(shown.values()) if col.higher_is_better else min(shown.values())
        best = {k for k, v in shown.items() if v == target}
        return best if len(best) < len(shown) else set()


def _sort_suites(suites) -> list[str]:
    order = specs.SUITE_ORDER
    return sorted(suites, key=lambda s: (order.index(s) if s in order else len(order), s))


def columns_for(df: pd.DataFrame) -> tuple[list[Column], dict[str, pd.DataFrame]]:
    """Columns the data supports, in the specs' order, with each column's metric rows."""
    cols, data = [], {}
    overall = df[df["headline"].astype(bool)]
    for rule in specs.COLUMN_RULES:
        sel = overall[(overall["kind"] == rule.kind) & (overall["metric"] == rule.metric)]
        if sel.empty:
            continue
        groups = [(s, sel[sel["suite"] == s]) for s in _sort_suites(sel["suite"].dropna().unique())] \
            if rule.per_suite else [(None, sel)]
        for suite, g in groups:
            hib = g["higher_is_better"].dropna()
            col = Column(specs.column_id(rule, suite), rule, suite, bool(hib.iloc[0]) if len(hib) else True)
            cols.append(col)
            data[col.id] = g
    return cols, data


def select_rows(spec: specs.TableSpec, present: dict[str, dict]) -> tuple[list[str], list[str]]:
    """(models in table order, spec models that were not run)."""
    listed = [m for m in spec.variants if m in present]
    extra = sorted((m for m, v in present.items() if m not in spec.variants and spec.include is not None
                    and v.get("recipe") is not None and spec.include(v)),
                   key=lambda m: specs.row_sort_key(m, present[m]))
    return listed + extra, [m for m in spec.variants if m not in present]


def row_label(key: str, present: dict[str, dict]) -> str:
    """The paper's notation of a tidy row key; ``model@act`` reads "… · eval act"."""
    model, _, act = key.partition("@")
    return specs.label(model, present.get(model)) + (f" · eval {act}" if act else "")


def build(coll: Collection, spec: specs.TableSpec, scale: str) -> TableData:
    df = coll.metrics[(coll.metrics["scale"] == scale) & (coll.metrics["kind"] != "bench")]
    present = variants(df)
    models, not_run = select_rows(spec, present)
    df = df[df["model"].isin(models)]
    cols, data = columns_for(df)
    # Each variant's own row, then its rows with other evaluation activations.
    others = df[~df["eval_act_default"]].drop_duplicates("row")
    keys = [k for m in models for k in [m, *sorted(others.loc[others["model"] == m, "row"])]]
    cells, seeds = {}, {}
    for col in cols:
        g = data[col.id]
        for key, mg in g.groupby("row"):
            per_seed = mg.groupby("seed")["value"].mean()  # one value per seed
            c = mean_ci(per_seed.tolist())
            if c.n:
                cells[(key, col.id)] = c
                seeds[key] = max(seeds.get(key, 0), c.n)
    rows = [Row(k, row_label(k, present)) for k in keys if k in seeds]
    not_run += [m for m in models if m not in seeds]  # run, but nothing tabulated yet
    for ref in spec.references:
        refcells = {(ref.label, col.id): CI(float(ref.values[col.id]), math.nan, 1)
                    for col in cols if col.id in ref.values}
        if refcells:
            rows.append(Row(ref.label, ref.label, quoted=True, source=ref.source))
            cells.update(refcells)
    notes = ["mean ± 95% CI over seeds (Student t); a cell without ± comes from one seed; "
             "(n=…) marks a cell with fewer seeds than its row",
             "↑ higher is better, ↓ lower is better; the best measured mean of each column is bold"]
    notes += [f"quoted, not measured: {r.source}" for r in rows if r.quoted]
    if not_run:
        notes.append("not run (or not yet evaluated): " + ", ".join(not_run))
    notes += coll.notes
    return TableData(spec.name, spec.title, scale, cols, rows, cells, seeds, not_run, notes)


# ---- rendering ----------------------------------------------------------------------------------
def cell_text(td: TableData, row: Row, col: Column) -> str:
    c = td.cell(row.key, col.id)
    if c is None or math.isnan(c.mean):
        return "–"
    s = col.fmt(c.mean)
    if c.has_interval:
        s += f" ± {col.fmt(c.half)}"
    if not row.quoted and c.n < td.seeds.get(row.key, c.n):
        s += f" (n={c.n})"
    return s


def _grid(td: TableData) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    header = ["variant", "seeds"] + [c.header for c in td.columns]
    best = {c.id: td.best(c) for c in td.columns}
    body, bold = [], []
    for r in td.rows:
        body.append([r.label, "quoted" if r.quoted else str(td.seeds.get(r.key, 0))]
                    + [cell_text(td, r, c) for c in td.columns])
        bold.append([False, False] + [r.key in best[c.id] for c in td.columns])
    return header, body, bold


def markdown_table(header: list[str], body: list[list[str]], bold: list[list[bool]] | None = None,
                   numeric: bool = True) -> str:
    """A pipe table; ``numeric`` right-aligns every column but the first."""
    def esc(s: str) -> str:
        return str(s).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---:" if numeric and i else "---" for i in range(len(header))) + "|"]
    for i, row in enumerate(body):
        cells = [f"**{esc(x)}**" if bold and bold[i][j] and x != "–" else esc(x) for j, x in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_markdown(td: TableData) -> str:
    header, body, bold = _grid(td)
    for i, r in enumerate(td.rows):
        if r.quoted:
            body[i][0] = f"*{r.label}*"
    notes = "\n".join(f"- {n}" for n in td.notes)
    return f"## {td.title} ({td.scale})\n\n{markdown_table(header, body, bold)}\n\n{notes}\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "±": r"$\pm$", "α": r"$\alpha$",
          "×": r"$\times$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "–": "--", "≥": r"$\geq$",
          "≈": r"$\approx$", ">": r"$>$"}


def latex_escape(s: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(s))


def latex_table(header: list[str], body: list[list[str]], bold: list[list[bool]] | None = None,
                italic_rows: set[int] = frozenset(), caption: str = "", label: str = "") -> str:
    out = [r"\begin{table}[t]", r"\centering", r"\small",
           r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule",
           " & ".join(latex_escape(h) for h in header) + r" \\", r"\midrule"]
    for i, row in enumerate(body):
        cells = []
        for j, x in enumerate(row):
            t = latex_escape(x)
            if bold and bold[i][j] and x != "–":
                t = r"\textbf{" + t + "}"
            elif i in italic_rows:
                t = r"\textit{" + t + "}"
            cells.append(t)
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if caption:  # already LaTeX
        out.append(r"\caption{" + caption + "}")
    if label:
        out.append(r"\label{" + label + "}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def to_latex(td: TableData) -> str:
    header, body, bold = _grid(td)
    quoted = {i for i, r in enumerate(td.rows) if r.quoted}
    caption = latex_escape(f"{td.title} ({td.scale}). Mean ± 95% CI over seeds; best per column in bold.")
    return latex_table(header, body, bold, quoted, caption=caption, label=f"tab:{td.name}-{td.scale}")


def to_frame(td: TableData) -> pd.DataFrame:
    """Wide, machine-readable: per column its display-scaled mean, ci95, between-seed sd and n (seeds)."""
    recs = []
    for r in td.rows:
        model, _, act = r.key.partition("@")
        rec = {"variant": r.label, "model": None if r.quoted else model, "eval_act": act or None,
               "quoted": r.quoted, "seeds": td.seeds.get(r.key)}
        for c in td.columns:
            ci = td.cell(r.key, c.id)
            h = c.rule.header.format(suite=c.suite)
            rec[h] = None if ci is None else ci.mean * c.rule.scale
            rec[f"{h} ci95"] = None if ci is None or not ci.has_interval else ci.half * c.rule.scale
            rec[f"{h} sd"] = None if ci is None or math.isnan(ci.std) else ci.std * c.rule.scale
            rec[f"{h} n"] = None if ci is None or r.quoted else ci.n
        recs.append(rec)
    df = pd.DataFrame(recs)
    df["seeds"] = df["seeds"].astype("Int64")
    for c in df.columns:
        if c.endswith(" n"):
            df[c] = df[c].astype("Int64")
    return df


def to_csv(td: TableData) -> str:
    return to_frame(td).to_csv(index=False, float_format="%.6g")
