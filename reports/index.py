"""The one-page ``out/reports/index.md``: every table and figure linked; the main, claims and diversity
tables inline.

``python -m reports tables`` and ``python -m reports plots`` each record what they wrote in
``out/reports/manifest.json`` (their own section) and rewrite the index from the whole manifest, so the
two commands can run in any order.
"""

from __future__ import annotations

import json
import pathlib

from harness.results import atomic_write_json, atomic_write_text, now_iso
from reports.collect import scale_key

MANIFEST = "manifest.json"


def read_manifest(out: pathlib.Path) -> dict:
    try:
        return json.loads((out / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def update(out: pathlib.Path, section: str, entries: list[dict], info: dict) -> pathlib.Path:
    """Replace ``section`` ("tables" | "figures") of the manifest and rewrite index.md; returns its path."""
    man = read_manifest(out)
    man[section] = entries
    man.setdefault("info", {})[section] = {**info, "generated_at": now_iso()}
    atomic_write_json(out / MANIFEST, man)
    path = out / "index.md"
    atomic_write_text(path, render(out, man))
    return path


def _inline(out: pathlib.Path, rel: str) -> str:
    try:
        text = (out / rel).read_text()
    except OSError:
        return ""
    # Demote the file's own "## title" so it nests under the scale's heading.
    return "\n".join("#" + ln if ln.startswith("## ") else ln for ln in text.splitlines()) + "\n"


def render(out: pathlib.Path, man: dict) -> str:
    tables, figs = man.get("tables", []), man.get("figures", [])
    lines = ["# sparsebench report", ""]
    for section, info in sorted(man.get("info", {}).items()):
        lines.append(f"- {section}: generated {info.get('generated_at')} from `{info.get('results')}` "
                     f"({info.get('n_results', 0)} result files)"
                     + ("; " + "; ".join(info["notes"]) if info.get("notes") else ""))
    lines.append("")
    scales = sorted({e["scale"] for e in tables + figs if e.get("scale")}, key=scale_key)
    for scale in scales:
        lines += [f"## Scale `{scale}`", ""]
        st = [e for e in tables if e.get("scale") == scale]
        if st:
            lines.append("Tables: " + " · ".join(
                f"[{e['title']}]({e['md']}) ([csv]({e['csv']}), [tex]({e['tex']}))" for e in st))
            lines.append("")
        for e in st:
            if e["name"] in ("main", "claims", "diversity"):
                lines.append(_inline(out, e["md"]))
        sf = [e for e in figs if e.get("scale") == scale]
        if sf:
            lines += ["### Figures", ""]
            lines += [_figure(e) for e in sf]
            lines.append("")
    rest = [e for e in figs if not e.get("scale")]
    if rest:
        lines += ["## All scales", ""] + [_figure(e) for e in rest] + [""]
    skipped = man.get("info", {}).get("tables", {}).get("skipped", [])
    if skipped:
        lines += ["## Skipped suites (recorded, not scored)", "", "| scale | model | seed | suite | reason |",
                  "|---|---|---|---|---|"]
        lines += [f"| {s['scale']} | {s['model']} | {s['seed']} | {s['suite']} | {s['reason']} |"
                  for s in skipped]
        lines.append("")
    if not tables and not figs:
        lines.append("Nothing rendered yet: run `python -m reports tables` and `python -m reports plots`.")
    return "\n".join(lines).rstrip() + "\n"


def _figure(e: dict) -> str:
    if e.get("skipped"):
        return f"- {e['title']}: skipped ({e['skipped']})"
    return f"- {e['title']} ([png]({e['png']}), [pdf]({e['pdf']}))\n\n  ![{e['title']}]({e['png']})\n"
