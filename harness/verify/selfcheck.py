"""Check the harness's own reliability: hostile generated code, crash safety, bad input.

    python -m harness selfcheck              # everything, crash safety with random kills too (~80 s on 2 cores)
    python -m harness selfcheck --quick      # crash safety at its chosen points only (~50 s)
    python -m harness selfcheck --only hostile,bad --json

Three parts, each in a scratch folder (a temp dir, removed afterwards; ``--workdir`` keeps it), never in
``out/``'s runs or results:

- hostile programs (:mod:`harness.verify.hostile`): completions that loop, recurse, allocate 10 GB, fork, kill
  the parent, delete or write outside the sandbox, read the harness's files or a secret, connect to
  127.0.0.1, signal the harness, leave a process behind, exit before the tests or try to fake a pass,
  scored through the code suites' sandbox path, under each layer: the in-process guard alone, namespaces +
  guard, and the namespaces alone (guard off) for what only an OS boundary stops;
- crash points (:mod:`harness.verify.crash`): training and evaluation SIGKILLed at chosen points (and, without
  ``--quick``, at random moments), then resumed: no corrupt checkpoint, the same weights and results;
- bad inputs (:mod:`harness.verify.badinput`): unknown or malformed names, out-of-range values, missing, corrupt
  or foreign checkpoints, a truncated samples file, an unwritable output folder, a full disk.

It prints one count line per part (``hostile programs: N tried, N contained``, ``crash points: N tried,
N recovered``, ``bad inputs: N tried, N handled``), the hostile programs' followed by one per layer
(``  in-process guard alone: 62 tried, 62 contained``, ``  namespaces (bwrap) + guard: ...``, ``  namespaces
(bwrap) alone, guard off: 5 tried, 5 contained``, or ``  namespaces: not run (why)`` where the kernel
refuses them, which is not a failure: ``auto`` then runs the guard alone), writes the whole report to
``out/reports/selfcheck.json`` (atomically; it replaces the previous selfcheck report) and exits 1 if
anything was not contained, recovered or handled, or a part could not run.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import sys
import tempfile
import time

from harness.provenance import provenance
from harness.results import atomic_write_json, now_iso, out_root

HELP = "hostile code, crash safety and bad input, quickly"
PARTS = {"hostile": ("hostile programs", "contained"), "crash": ("crash points", "recovered"),
         "bad": ("bad inputs", "handled")}


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="crash safety at its chosen points only (no random kills)")
    p.add_argument("--only", default=",".join(PARTS), help="comma-separated parts: hostile,crash,bad (default: all)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (progress goes to stderr)")
    p.add_argument("--workdir", help="scratch folder to use and keep (default: a temp dir, removed)")


def run_parts(parts: list[str], workdir: pathlib.Path, quick: bool = True, log=print) -> dict:
    """Run the named parts; the report: {parts: {part: {tried, ok, label, rows}}, ok, wall_s}. A part that
    tried nothing counts as failed."""
    from harness.verify import badinput, crash, hostile  # here: the command line imports this module

    report: dict = {"parts": {}}
    t0 = time.perf_counter()
    for part in parts:
        d = workdir / part
        d.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        if part == "hostile":
            rows = [r for r in hostile.run(d, log=log) if r["hostile"] or not r["ok"]]  # a failed control counts
        elif part == "crash":
            rows = crash.run_checks(d, quick=quick, log=log)
        else:
            rows = badinput.run(d, log=log)
        name, verb = PARTS[part]
        report["parts"][part] = {"label": name, "verb": verb, "tried": len(rows), "ok": sum(bool(r["ok"]) for r in rows),
                                 "wall_s": round(time.perf_counter() - t, 1), "rows": rows}
        if part == "hostile":
            report["parts"][part]["layers"] = _layers(rows)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["ok"] = all(p["tried"] > 0 and p["ok"] == p["tried"] for p in report["parts"].values())
    return report


def _layers(rows: list[dict]) -> dict:
    """Per sandbox layer the hostile programs tried under it and those it contained (rows without layers, as
    from a stand-in of hostile.run, give none), and why the namespaces were not tried where they were not."""
    from harness.verify import hostile

    out: dict = {}
    for r in rows:
        for layer, res in r.get("layers", {}).items():
            c = out.setdefault(layer, {"label": hostile.layer_label(layer), "tried": 0, "ok": 0})
            c["tried"] += 1
            c["ok"] += bool(res["ok"])
    if out and "namespaces" not in out:
        out["namespaces"] = {"label": "namespaces", "tried": 0, "ok": 0,
                             "not_run": hostile.available_layers()[1] or "not asked for"}
    return out


def summary(report: dict) -> list[str]:
    """The count lines, e.g. 'hostile programs: 53 tried, 53 contained', the hostile programs' then per layer
    ('  in-process guard alone: 62 tried, 62 contained')."""
    lines = []
    for p in report["parts"].values():
        lines.append(f"{p['label']}: {p['tried']} tried, {p['ok']} {p['verb']}")
        for layer in p.get("layers", {}).values():
            if "not_run" in layer:
                lines.append(f"  {layer['label']}: not run ({layer['not_run']})")
            else:
                lines.append(f"  {layer['label']}: {layer['tried']} tried, {layer['ok']} {p['verb']}")
    return lines


def run(args) -> int:
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ValueError(f"unknown selfcheck part(s) {', '.join(unknown) or '(none)'}; valid: {', '.join(PARTS)}")
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    workdir = pathlib.Path(args.workdir).resolve() if args.workdir else pathlib.Path(tempfile.mkdtemp(prefix="selfcheck-"))
    started = now_iso()
    try:
        report = run_parts(parts, workdir, quick=args.quick, log=log)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {"schema": "sparsebench.selfcheck/1", "quick": args.quick, "summary": summary(report), **report,
              "provenance": provenance(started_at=started, wall_s=report["wall_s"])}
    path = out_root() / "reports" / "selfcheck.json"
    atomic_write_json(path, report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\n" + "\n".join(report["summary"]))
        print(("all contained, recovered and handled" if report["ok"] else "NOT all contained, recovered and handled")
              + f" ({report['wall_s']:.0f} s); report: {path}")
    return 0 if report["ok"] else 1
