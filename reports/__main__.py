"""Render tables and figures from result JSON files (never imports torch).

    python -m reports tables [--results out/results] [--out out/reports] [--scale S] [--include-limited]
    python -m reports plots  [--results out/results] [--out out/reports] [--scale S]
    python -m reports all    # both
    python -m reports readme [--check]   # README.md's generated results from the committed small set

Without ``--results``, reads ``$HARNESS_OUT/results`` (default ``out/results``); when that holds no
results yet, it says so and renders the committed result set of real ``small`` runs (``reports/sample``)
so a fresh clone can see what the reports look like. Output: ``out/reports/tables/*.md|csv|tex``,
``out/reports/figures/*.png|pdf`` and the one-page ``out/reports/index.md``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

SAMPLE = pathlib.Path(__file__).resolve().parent / "sample"


def _has_results(root: pathlib.Path) -> bool:
    return root.is_dir() and any(root.rglob("*.json"))


def resolve_results(arg: str | None) -> pathlib.Path:
    from reports.collect import default_results_root

    if arg:
        root = pathlib.Path(arg)
        if not root.exists():
            raise FileNotFoundError(f"results directory {root} does not exist")
        return root
    root = default_results_root()
    if _has_results(root):
        return root
    if _has_results(SAMPLE):
        print(f"note: no results under {root} yet; rendering the committed sample {SAMPLE}", file=sys.stderr)
        return SAMPLE
    raise FileNotFoundError(f"no results under {root} (run `python -m harness eval --model M` "
                            "or `make paper`)")


def _load(args):
    from reports.collect import load

    root = resolve_results(args.results)
    coll = load(root, include_limited=args.include_limited)
    if coll.n_results == 0:
        print(f"note: no result files under {root}; the reports will be empty", file=sys.stderr)
    if args.scale:
        m, c = coll.metrics, coll.curves
        if args.scale not in set(m["scale"]) | set(c["scale"]):
            raise ValueError(f"no results at scale {args.scale!r} under {root}; "
                             f"found: {', '.join(coll.scales)}")
        coll.metrics = m[(m["scale"] == args.scale) | (m["kind"] == "bench")]
        coll.curves = c[c["scale"] == args.scale]
    return coll


def _out(args) -> pathlib.Path:
    from harness.results import out_root

    return pathlib.Path(args.out) if args.out else out_root() / "reports"


def _info(coll) -> dict:
    return {"results": coll.root, "n_results": coll.n_results, "notes": coll.notes}


def cmd_tables(args) -> int:
    from harness.results import atomic_write_text
    from reports import claims, diversity, index, specs, tables

    coll, out = _load(args), _out(args)
    entries = []
    for scale in coll.scales:
        for spec in specs.TABLES.values():
            td = tables.build(coll, spec, scale)
            if not td.rows or all(r.quoted for r in td.rows):
                continue
            stem = f"tables/{spec.name}-{scale}"
            atomic_write_text(out / f"{stem}.md", tables.to_markdown(td))
            atomic_write_text(out / f"{stem}.csv", tables.to_csv(td))
            atomic_write_text(out / f"{stem}.tex", tables.to_latex(td))
            entries.append({"name": spec.name, "title": spec.title.split(":")[0], "scale": scale,
                            "md": f"{stem}.md", "csv": f"{stem}.csv", "tex": f"{stem}.tex"})
            print(f"wrote {out / stem}.md|csv|tex ({len(td.rows)} rows, {len(td.columns)} columns)")
        cl = claims.check(coll, scale)
        stem = f"tables/claims-{scale}"
        atomic_write_text(out / f"{stem}.md", claims.to_markdown(cl, scale))
        atomic_write_text(out / f"{stem}.csv", cl.to_csv(index=False))
        atomic_write_text(out / f"{stem}.tex", claims.to_latex(cl, scale))
        entries.append({"name": "claims", "title": "Claims", "scale": scale,
                        "md": f"{stem}.md", "csv": f"{stem}.csv", "tex": f"{stem}.tex"})
        print(f"wrote {out / stem}.md|csv|tex ({len(cl)} checks)")
        blocks = diversity.points(coll, scale)
        if blocks:  # the generation-diversity study ran at this scale
            stem = f"tables/diversity-{scale}"
            atomic_write_text(out / f"{stem}.md", diversity.to_markdown(blocks, scale))
            atomic_write_text(out / f"{stem}.csv", diversity.to_csv(blocks))
            atomic_write_text(out / f"{stem}.tex", diversity.to_latex(blocks, scale))
            entries.append({"name": "diversity", "title": "Generation diversity", "scale": scale,
                            "md": f"{stem}.md", "csv": f"{stem}.csv", "tex": f"{stem}.tex"})
            print(f"wrote {out / stem}.md|csv|tex ({sum(map(len, blocks.values()))} settings)")
    skipped = coll.skipped.drop(columns=["path"]).to_dict("records")
    path = index.update(out, "tables", entries, {**_info(coll), "skipped": skipped})
    print(f"index: {path}")
    return 0


def cmd_plots(args) -> int:
    from reports import index, plots

    coll, out = _load(args), _out(args)
    entries = []
    for stem, title, scale, fig in plots.figures(coll):
        e = {"name": stem, "title": title + (f" ({scale})" if scale else ""), "scale": scale}
        if isinstance(fig, str):
            e["skipped"] = fig
            print(f"skipped {stem}: {fig}")
        else:
            paths = plots.save(fig, out / "figures" / stem)
            e.update(png=f"figures/{stem}.png", pdf=f"figures/{stem}.pdf")
            print(f"wrote {paths['png']} (+ .pdf)")
        entries.append(e)
    path = index.update(out, "figures", entries, _info(coll))
    print(f"index: {path}")
    return 0


def cmd_all(args) -> int:
    return cmd_tables(args) or cmd_plots(args)


def cmd_predictor(args) -> int:
    from harness.results import atomic_write_text
    from reports import predictor

    coll, out = _load(args), _out(args)
    df = predictor.quality_cost(coll, args.scale)
    print(predictor.to_markdown(df), end="")
    stem = out / "tables" / f"predictor-{args.scale or 'all'}"
    atomic_write_text(stem.with_suffix(".md"), predictor.to_markdown(df))
    atomic_write_text(stem.with_suffix(".csv"), df.to_csv(index=False))
    print(f"wrote {stem}.md|csv")
    return 0


def cmd_readme(args) -> int:
    from reports import readme

    results = pathlib.Path(args.results) if args.results else readme.SAMPLE_RESULTS
    return readme.run(results, scale=args.scale or "small", check=args.check)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m reports", description=__doc__.strip().split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name, func, help_ in (("tables", cmd_tables, "main, α-sweep, p-sweep, claims and diversity tables"),
                              ("plots", cmd_plots, "figures (PNG and PDF)"),
                              ("all", cmd_all, "tables and plots"),
                              ("predictor", cmd_predictor, "quality cost of a neuron predictor, per suite")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--results", help="results directory (default: $HARNESS_OUT/results, else the sample)")
        p.add_argument("--out", help="output directory (default: $HARNESS_OUT/reports)")
        p.add_argument("--scale", help="only this scale (default: every scale found)")
        p.add_argument("--include-limited", action="store_true",
                       help="also tabulate --limit runs (n < n_total), normally left out")
        p.set_defaults(func=func)
    p = sub.add_parser("readme", help="rewrite README.md's generated result blocks from the committed set")
    p.add_argument("--results", help="results directory (default: reports/sample/results)")
    p.add_argument("--scale", help="scale of the README's results (default: small)")
    p.add_argument("--check", action="store_true", help="only check that README.md is up to date (exit 1 if not)")
    p.set_defaults(func=cmd_readme)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
