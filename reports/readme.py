"""The README's results, generated from the committed result set (never typed by hand).

    python -m reports readme            # rewrite the generated blocks of README.md from reports/sample
    python -m reports readme --check    # exit 1 if README.md differs from what the sample renders

A generated block sits between ``<!-- BEGIN generated: NAME -->`` and ``<!-- END generated: NAME -->``
lines; everything outside them is left alone. Blocks (for the committed ``small`` set; ``--scale`` picks
another):

- ``results-status``: which runs the committed set holds (seeds per variant);
- ``main-table``: the main table (mean ± 95% CI over seeds; the CSV beside it has the between-seed SD);
- ``claims``: the claims summary and table (paired differences, intervals, margins, verdicts);
- ``figure``: the sparsity-vs-accuracy figure, written to ``docs/figures/`` and linked.
"""

from __future__ import annotations

import pathlib
import re

from harness.results import atomic_write_text

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FIGURES = ROOT / "docs" / "figures"
SAMPLE_RESULTS = pathlib.Path(__file__).resolve().parent / "sample" / "results"
_BLOCK = re.compile(r"(<!-- BEGIN generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END generated: (?P=name) -->)",
                    re.S)


def _status(coll, scale: str) -> str:
    m = coll.metrics[coll.metrics["scale"] == scale]
    if m.empty:
        return f"No `{scale}` results are committed yet.\n"
    from reports import specs
    from reports.collect import variants

    present = variants(m)
    order = sorted(present, key=lambda x: specs.row_sort_key(x, present[x]))
    seeds = {k: sorted(int(s) for s in m.loc[m["model"] == k, "seed"].dropna().unique()) for k in order}
    lines = [f"- {specs.label(k, present[k])}: seeds {', '.join(map(str, v))}" for k, v in seeds.items()]
    grid = specs.GRIDS["main"]
    missing = [g for g in grid if len(seeds.get(g, [])) < 3]
    n_runs = sum(map(len, seeds.values()))
    head = (f"The committed `{scale}` set (`reports/sample/results/{scale}/`) holds {n_runs} "
            f"run{'s' * (n_runs != 1)} of {len(seeds)} variant{'s' * (len(seeds) != 1)}:\n\n")
    tail = ("\n\nEvery run of the main grid has 3 seeds.\n" if not missing else
            f"\n\nStill to run for 3 seeds each: {', '.join(missing)} (`make paper` resumes the grid; see "
            "`reports/sample/README.md`). Until then, cells of one seed carry no interval and the claims "
            "that rest on them say so.\n")
    return head + "\n".join(lines) + tail


def render_blocks(results: pathlib.Path, scale: str, figures: pathlib.Path | None = None) -> dict[str, str]:
    """NAME → the block's markdown, rendered from the result files under ``results``; the figure is written
    under ``figures`` (default ``docs/figures``) and linked at its place in ``docs/figures``."""
    figures = figures or FIGURES
    from reports import claims, plots, specs, tables
    from reports.collect import load

    coll = load(results)
    out = {"results-status": _status(coll, scale)}
    td = tables.build(coll, specs.TABLES["main"], scale)
    out["main-table"] = tables.to_markdown(td).split("\n", 2)[2] if td.rows else "(no runs yet)\n"
    cl = claims.check(coll, scale)
    out["claims"] = claims.to_markdown(cl, scale).split("\n", 2)[2]
    fig = plots.sparsity_vs_quality(coll, scale)
    if fig is None:
        out["figure"] = f"(no figure: {plots.sparsity_vs_quality_skip_reason(coll, scale)})\n"
    else:
        plots.save(fig, figures / f"sparsity_vs_quality-{scale}", formats=("png",))
        link = f"{FIGURES.relative_to(ROOT).as_posix()}/sparsity_vs_quality-{scale}.png"
        out["figure"] = f"![FFN sparsity against each quality metric ({scale})]({link})\n"
    return out


def apply(text: str, blocks: dict[str, str]) -> str:
    def sub(m):
        body = blocks.get(m.group("name"))
        return m.group(0) if body is None else m.group(1) + body.rstrip("\n") + "\n" + m.group(4)

    return _BLOCK.sub(sub, text)


def run(results: pathlib.Path = SAMPLE_RESULTS, scale: str = "small", check: bool = False,
        readme: pathlib.Path = README) -> int:
    import tempfile

    text = readme.read_text()
    names = {m.group("name") for m in _BLOCK.finditer(text)}
    if not names:
        raise ValueError(f"{readme} has no generated blocks (<!-- BEGIN generated: NAME -->)")
    if check:  # the figure is rendered aside: --check never writes
        with tempfile.TemporaryDirectory() as tmp:
            new = apply(text, render_blocks(results, scale, pathlib.Path(tmp)))
        if new != text:
            print(f"{readme} is stale: run `python -m reports readme`")
            return 1
        print(f"{readme}: generated blocks ({', '.join(sorted(names))}) are up to date")
        return 0
    atomic_write_text(readme, apply(text, render_blocks(results, scale)))
    print(f"rewrote the generated blocks of {readme}: {', '.join(sorted(names))}")
    return 0
