"""Reproduce the paper's tables: train, evaluate and profile every run a table needs, then render reports.

    python -m harness reproduce                                  # main table, scale small, 3 seeds
    python -m harness reproduce --table all --scale tiny --seeds 2
    python -m harness reproduce --models relu,stocha-p0.7-a0.05 --seeds 1 --dry-run
    make paper SCALE=small SEEDS=3

Runs go seed by seed (every variant at seed 0, then seed 1, ...) so a partial run already fills each
table row once. Finished work is skipped: a run with a final checkpoint and its train result is not
retrained, evaluation skips complete suite results, a complete profile result is kept. When the grid holds
StochA's representative ``stocha-p0.7-a0.05``, the generation-diversity study (``harness.diversity.study``, its
default grids) runs for it at seed 0 after the grid, skipping settings already done (``--no-diversity``
leaves it out). Killed midway, the same command resumes (training from its last checkpoint). At the end it renders
``out/reports/`` by running ``python -m reports all`` in a subprocess (harness never imports reports)
and prints the wall time.
"""

from __future__ import annotations

import subprocess
import sys
import time

from harness.commands.isolation_args import add_isolation_argument
from harness.paths import run_dir
from harness.results import finished_result, is_complete, out_root, result_path
from harness.train.checkpoint_files import final_checkpoint
from models.registry import GRIDS, get_scale, get_variant

HELP = "train, evaluate and profile every run a paper table needs"
TABLE_CHOICES = (*GRIDS, "all")
# The run the diversity study uses: StochA's representative in the paper's grids, first seed only.
DIVERSITY_MODEL, DIVERSITY_SEED = "stocha-p0.7-a0.05", 0


def add_arguments(p) -> None:
    g = p.add_argument_group("what to run")
    g.add_argument("--table", default="main", choices=TABLE_CHOICES,
                   help="which paper table's grid of variants (default: main; all = every grid)")
    g.add_argument("--models", help="comma-separated variant names, replacing the table's grid")
    g.add_argument("--scale", default="small", help="model scale (default: small)")
    g.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per variant (default: 3)")
    g.add_argument("--steps", type=int, default=None, help="training steps (default: the scale's)")
    g.add_argument("--suites", default=None, help="comma-separated eval suites (default: the evaluator's)")
    o = p.add_argument_group("behaviour")
    o.add_argument("--no-profile", action="store_true", help="skip profiling (no sparsity/speed-up columns)")
    o.add_argument("--no-diversity", action="store_true",
                   help=f"skip the generation-diversity study ({DIVERSITY_MODEL}, seed {DIVERSITY_SEED})")
    o.add_argument("--no-report", action="store_true", help="do not render out/reports at the end")
    o.add_argument("--dry-run", action="store_true",
                   help="print the plan and what is already done, run nothing")
    add_isolation_argument(o)


def variants_for(table: str, models: str | None = None) -> list[str]:
    """The variant names to run: ``--models`` if given, else the table's grid (all grids, deduplicated)."""
    if models:
        names = [m.strip() for m in models.split(",") if m.strip()]
        if not names:
            raise ValueError("--models is empty")
    elif table == "all":
        names = [n for g in GRIDS.values() for n in g]
    elif table in GRIDS:
        names = list(GRIDS[table])
    else:
        raise ValueError(f"unknown table {table!r}; valid: {', '.join(TABLE_CHOICES)}")
    out = []
    for n in names:
        name = get_variant(n).name  # validates; canonical spelling
        if name not in out:
            out.append(name)
    return out


def plan(names: list[str], seeds: int) -> list[tuple[str, int]]:
    """(variant, seed) in run order: seed-major, so every row gets one seed before any gets two."""
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    return [(n, s) for s in range(seeds) for n in names]


def _complete(scale: str, model: str, seed: int, suite: str) -> bool:
    res = finished_result(result_path(scale, model, seed, suite))  # None if missing or corrupt: redo
    return res is not None and is_complete(res)


def has_checkpoint(scale: str, model: str, seed: int) -> bool:
    return final_checkpoint(run_dir(scale, model, seed)) is not None


def is_trained(scale: str, model: str, seed: int) -> bool:
    """A final checkpoint and the "train" result both exist (so reports have the loss curve)."""
    return has_checkpoint(scale, model, seed) and _complete(scale, model, seed, "train")


def is_profiled(scale: str, model: str, seed: int) -> bool:
    return _complete(scale, model, seed, "profile")


def has_all_results(scale: str, model: str, seed: int, suites=None, profile=True) -> bool:
    """Every result the run contributes is there: its train result, each suite complete with today's
    version and parameters (or recorded as skipped), and its profile. Such a run needs no checkpoint, so a
    grid resumes from result files alone (e.g. the committed results of ``reports/sample/``, copied into
    ``out/results``) without retraining what they already cover."""
    from suites import DEFAULT_SUITES, get_suite

    if not _complete(scale, model, seed, "train") or (profile and not is_profiled(scale, model, seed)):
        return False
    for name in suites or DEFAULT_SUITES:
        suite = get_suite(name)
        res = finished_result(result_path(scale, model, seed, suite.name))
        if res is None or res["run"].get("eval_act_default") is False:
            return False
        if res.get("status") == "skipped":
            continue
        if not is_complete(res, version=suite.version, params={**suite.params, "limit": None}):
            return False
    return True


def run_one(scale: str, model: str, seed: int, *, steps=None, suites=None, profile=True, isolation="auto") -> dict:
    """Train (if needed), evaluate, profile one run; returns what was done vs skipped. The library loads
    torch, so it is imported here: ``--dry-run`` and ``--help`` stay fast."""
    from harness.evaluation import evaluate
    from harness.profiling import profile_run
    from harness.train import result, trainer

    done = {"trained": False, "profiled": False}
    if has_all_results(scale, model, seed, suites, profile):
        return done
    had_checkpoint = has_checkpoint(scale, model, seed)
    if not (had_checkpoint and _complete(scale, model, seed, "train")):
        rd = trainer.ensure_trained(scale, model, seed=seed, steps=steps)  # resumes a killed run
        done["trained"] = not had_checkpoint
        if not _complete(scale, model, seed, "train"):
            result.write_train_result(rd)  # finished earlier but its result was lost: rebuild it from the run
    evaluate.run_eval(scale, model, seed=seed, suites=suites, isolation=isolation)  # skips complete suite results
    if profile and not is_profiled(scale, model, seed):
        profile_run.run_profile(scale, model, seed=seed)
        done["profiled"] = True
    return done


def render_reports() -> int:
    """``python -m reports all`` in a subprocess: harness never imports reports (or pandas/matplotlib)."""
    out = out_root()
    cmd = [sys.executable, "-m", "reports", "all", "--results", str(out / "results"),
           "--out", str(out / "reports")]
    sys.stdout.flush()  # our lines first, then the child's
    return subprocess.run(cmd).returncode


def _fmt_time(s: float) -> str:
    h, rem = divmod(int(round(s)), 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


def run(args) -> int:
    from tqdm import tqdm

    get_scale(args.scale)  # validates
    names = variants_for(args.table, args.models)
    todo = plan(names, args.seeds)
    suites = [s.strip() for s in args.suites.split(",") if s.strip()] if args.suites else None
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be positive, got {args.steps}")
    trained = sum(is_trained(args.scale, m, s) for m, s in todo)
    print(f"reproduce: {len(names)} variants × {args.seeds} seeds = {len(todo)} runs at scale {args.scale} "
          f"({trained} already trained); results in {out_root() / 'results'}")
    diversity = not args.no_diversity and DIVERSITY_MODEL in names
    if args.dry_run:
        for m, s in todo:
            state = ("all results present" if has_all_results(args.scale, m, s, suites, not args.no_profile)
                     else ("trained" if is_trained(args.scale, m, s) else "to train")
                     + (", profiled" if is_profiled(args.scale, m, s) else ""))
            print(f"  {m:<24} seed {s}: {state}")
        if diversity:
            print(f"  then the diversity study of {DIVERSITY_MODEL} seed {DIVERSITY_SEED} (settings done are skipped)")
        return 0
    t0 = time.perf_counter()
    counts = {"trained": 0, "profiled": 0}
    for m, s in tqdm(todo, desc="reproduce", unit="run"):
        tqdm.write(f"[{m} seed {s}]")
        done = run_one(args.scale, m, s, steps=args.steps, suites=suites, profile=not args.no_profile,
                       isolation=args.isolation)
        counts["trained"] += done["trained"]
        counts["profiled"] += done["profiled"]
    if diversity:
        from harness.diversity import study

        tqdm.write(f"[diversity study: {DIVERSITY_MODEL} seed {DIVERSITY_SEED}]")
        study.run_diversity(args.scale, DIVERSITY_MODEL, seed=DIVERSITY_SEED, isolation=args.isolation)
    rc = 0 if args.no_report else render_reports()
    wall = time.perf_counter() - t0
    print(f"reproduce: {len(todo)} runs ({counts['trained']} trained now, {len(todo) - counts['trained']} "
          f"already trained; {counts['profiled']} profiled now{'; diversity study' if diversity else ''}) "
          f"in {_fmt_time(wall)} wall time "
          f"({wall:.0f} s) on scale {args.scale}")
    if not args.no_report:
        print(f"reports: {out_root() / 'reports' / 'index.md'}")
    if rc:
        raise RuntimeError(f"rendering the reports failed (exit {rc}); "
                           "run `python -m reports all` to see why")
    return 0
