"""Evaluate a model variant on the suites; trains it first if it has no checkpoint.

    python -m harness eval --model stocha-p0.7-a0.05                    # scale small, default suites
    python -m harness eval --model silu --scale tiny --limit 5          # a quick, partial run
    python -m harness eval --model relu --suites syn_code,humaneval --n-samples 10   # pass@1 and pass@10
    python -m harness eval --model stocha-p0.7-a0.05 --eval-act stocha:p=0.7 --seed 1 # keep StochA at inference
    python -m harness eval --model silu --suites lm_eval:arc_easy       # any lm-eval task (needs its data)
    make eval MODEL=silu SCALE=tiny LIMIT=5

Per suite it writes ``out/results/<scale>/<model>/s<seed>/<suite>.samples.jsonl`` (the generations, first
line a ``_meta`` header) and then ``<suite>.json`` (the result, schema in ``harness.results``). A suite
already done with the same version and parameters is skipped (``--force`` redoes it); generations are
never redone to re-score (``--rescore`` scores the samples file again). ``--limit N`` evaluates the first N
items: its results record ``n < n_total`` and never count as complete. With ``--eval-act`` the files are
``<suite>.act-<act>.json`` so they sit beside the recipe's own. After the default suites the profiler
runs (``harness.profile``), then a table of this run beside the other finished runs of the scale.

Killed half-way (kill -9, power cut), a rerun of the same command redoes only what is missing: finished
suites are skipped, and generations are journaled chunk by chunk in ``<suite>.chunks.jsonl``
(``harness.journal``), so a suite resumes at its first unfinished chunk; the results equal an
uninterrupted run's exactly. A second evaluation of the same run while one is going refuses at once
with the first one's pid (``harness.paths.run_lock``); evaluations of different runs share ``out/``
safely.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import time

from harness.paths import atomic_write_text, lock_path, out_root, results_dir, run_lock
from harness.results import (
    finished_result,
    is_complete,
    iter_results,
    make_result,
    now_iso,
    provenance,
    same_checkpoint,
    write_result,
)

HEADLINE = ("pass@1", "exact_match", "acc", "bits_per_byte")


def add_arguments(p):
    g = p.add_argument_group("run")
    g.add_argument("--model", required=True, help="variant name, e.g. silu, relu, swi-ft-a0.1, stocha-p0.7-a0.05")
    g.add_argument("--scale", default="small", help="model scale (default: small)")
    g.add_argument("--seed", type=int, default=0, help="training seed of the run, also seeds sampling")
    g = p.add_argument_group("suites")
    g.add_argument("--suites", default=None,
                   help="comma-separated suites (default: all embedded + humaneval + gsm8k_100); lm_eval:TASK too")
    g.add_argument("--limit", type=int, default=None, help="only the first N items of each suite (partial result)")
    g.add_argument("--n-samples", type=int, default=None, help="samples per code task (>1: sampling, pass@k)")
    g.add_argument("--eval-act", default=None,
                   help="inference activation: relu | silu | stocha:p=P (default: the recipe's)")
    g = p.add_argument_group("execution")
    g.add_argument("--force", action="store_true", help="redo suites that are already done")
    g.add_argument("--rescore", action="store_true", help="score the existing samples files again (no model)")
    g.add_argument("--batch-size", type=int, default=16, help="generation / scoring batch size")
    g.add_argument("--no-profile", action="store_true", help="skip the profiler after the default suites")
    g.add_argument("--no-train", action="store_true", help="fail instead of training a missing checkpoint")


def run(args) -> int:
    paths = run_eval(args.scale, args.model, seed=args.seed,
                     suites=args.suites.split(",") if args.suites else None, limit=args.limit, force=args.force,
                     eval_act=args.eval_act, rescore=args.rescore, batch_size=args.batch_size,
                     n_samples=args.n_samples, profile=not args.no_profile, train=not args.no_train)
    print_table(args.scale, current=(args.model, args.seed))
    print(f"\n{len(paths)} result files under {results_dir(args.scale, args.model, args.seed)}")
    return 0


# ---- files ------------------------------------------------------------------------------------------

def _act_tag(eval_act: str | None) -> str:
    return "" if eval_act is None else ".act-" + re.sub(r"[^A-Za-z0-9.=-]+", "_", eval_act)


def read_samples(path: pathlib.Path) -> tuple[dict | None, list[dict], str | None]:
    """(header meta, the records, what is damaged or None). Reading stops at the first line that is not a
    JSON object (a file cut mid-line by a crash, a full disk or a copy); the records before it are kept."""
    if not path.exists():
        return None, [], None
    meta, records = None, []
    lines = path.read_bytes().split(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            rec = None
        if not isinstance(rec, dict) or (i == 0) != ("_meta" in rec):
            where = "cut off" if i == len(lines) - 1 else "not a sample record"
            return meta, records, f"line {i + 1} is {where}"
        if i == 0:
            meta = rec["_meta"]
        else:
            records.append(rec)
    return meta, records, None


def samples_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(path.name[:-len(".json")] + ".samples.jsonl")


def _same_generations(old: list[dict], new: list[dict]) -> bool:
    """The intact records of a damaged samples file against fresh generations: every generated field equal
    (the old ones may also carry scores)."""
    return len(old) <= len(new) and all({k: o.get(k) for k in n} == n for o, n in zip(old, new))


def write_samples(path: pathlib.Path, meta: dict, records: list[dict]):
    text = json.dumps({"_meta": meta}) + "\n" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    atomic_write_text(path, text)


# ---- one suite ---------------------------------------------------------------------------------------

def run_suite(suite, ctx, run_info: dict, *, limit: int | None, force: bool = False, rescore: bool = False,
              path: pathlib.Path, log=print) -> pathlib.Path:
    """Generate (unless a matching samples file exists), write the samples, score, write the result.

    Generations go chunk by chunk into ``<suite>.chunks.jsonl`` (``harness.journal``) as they finish, so a
    killed run resumes with the chunks it had done. A samples file cut mid-line is not overwritten blindly:
    its intact records are kept, only what is missing is generated (from the journal when it has it), and
    if the intact records differ from the regenerated ones the run stops with one line naming the file."""
    from harness.journal import ChunkJournal
    from suites import SkipSuite

    t0, started = time.perf_counter(), now_iso()
    params = {**suite.params, "limit": limit}
    spath = samples_path(path)
    suite_info = {"name": suite.name, "version": suite.version, "backend": suite.backend, "params": params,
                  "description": suite.description}
    if "sandbox" in suite.backend or suite.backend == "evalplus":
        suite_info["execution"] = ("generated code ran only in a sandbox: separate process, time/memory limits, "
                                   f"temp dir ({suite.backend})")

    def result(status, metrics, reason=None, dataset=None, items=None):
        suite_info["dataset"] = dataset or {"name": None, "sha256": None}
        res = make_result("eval", run=run_info, suite=suite_info, metrics=metrics, status=status, skip_reason=reason,
                          samples=spath.name if status == "ok" else None,
                          provenance=cpu_provenance(started, time.perf_counter() - t0), items=items)
        return write_result(res, path)

    reason = suite.unavailable()
    if reason:
        log(f"  {suite.name}: skipped — {reason}")
        return result("skipped", [], reason)
    meta = {"suite": suite.name, "version": suite.version, "params": params, "eval_act": run_info["eval_act"],
            "checkpoint": run_info.get("checkpoint"), "checkpoint_sha256": run_info.get("checkpoint_sha256"),
            "step": run_info.get("step"), "seed": run_info["seed"]}
    old_meta, records, damage = read_samples(spath)
    intact = records if damage and old_meta == meta and not force else []
    if rescore:
        if old_meta is None:
            raise FileNotFoundError(f"--rescore: no samples file {spath}")
        if damage:
            raise RuntimeError(f"--rescore: samples file {spath} is damaged ({damage}); it was left "
                               f"untouched: run without --rescore to regenerate what is missing")
        log(f"  {suite.name}: re-scoring {len(records)} samples from {spath.name}")
    elif force or old_meta != meta or damage:
        # The journal is the run's, whatever --limit: a chunk is keyed by its own inputs (harness.journal).
        jmeta = {**meta, "params": dict(suite.params)}
        journal = ChunkJournal(spath.with_name(spath.name.replace(".samples.jsonl", ".chunks.jsonl")),
                               jmeta, fresh=force, log=log)
        if damage:
            log(f"  {suite.name}: {spath} is damaged ({damage}); "
                + (f"its {len(records)} intact records are kept; rebuilding it from {journal.path.name}, "
                   f"generating only the chunks missing there" if old_meta == meta and not force
                   else "it was written for another run or settings (or --force): generating it again"))
        log(f"  {suite.name}: generating" + (f" (first {limit} items)" if limit else "")
            + (f", resuming: {len(journal.done)} chunk(s) already done" if journal.done else ""))
        ctx.journal = journal
        try:
            records = suite.generate(ctx, limit)
        except SkipSuite as e:
            log(f"  {suite.name}: skipped — {e}")
            return result("skipped", [], str(e))
        finally:
            ctx.journal = None
        if journal.reused:
            log(f"  {suite.name}: {journal.reused} chunk(s) taken from {journal.path.name}, "
                f"{journal.generated} generated")
        if intact and not _same_generations(intact, records):
            raise RuntimeError(f"samples file {spath} is damaged ({damage}) and its {len(intact)} intact "
                               f"records differ from a fresh generation; it was left untouched: move it away "
                               f"or pass --force")
        write_samples(spath, meta, records)  # generations first: scoring can be redone from them
    else:
        log(f"  {suite.name}: reusing {len(records)} samples from {spath.name}")
    metrics, scored = suite.score(records, ctx)
    write_samples(spath, old_meta if rescore else meta, scored)
    out = result("ok", metrics, dataset=suite.dataset(), items=suite.item_scores(scored))
    head = next((m for m in metrics if m["name"] in HEADLINE), metrics[0] if metrics else None)
    if head:
        log(f"  {suite.name}: {head['name']} = {head['value']:.4f} (n={head['n']}/{head['n_total']}) "
            f"[{time.perf_counter() - t0:.1f} s]")
    return out


def cpu_provenance(started: str, wall: float) -> dict:
    import torch

    return provenance(device="cpu", threads=torch.get_num_threads(), dtype="fp32", started_at=started, wall_s=wall)


def _is_done(path: pathlib.Path, suite, limit: int | None, eval_act: str, step, sha256: str | None = None) -> bool:
    res = finished_result(path)
    if res is None:
        return False
    params = {**suite.params, "limit": limit}
    if res["run"].get("eval_act") != eval_act or res["run"].get("step") != step \
            or not same_checkpoint(res, sha256):
        return False
    if limit is None:
        return is_complete(res, version=suite.version, params=params)
    return res.get("status") == "ok" and res["suite"].get("version") == suite.version and \
        res["suite"].get("params") == params


# ---- a whole evaluation ------------------------------------------------------------------------------

def run_eval(scale: str, model: str, seed: int = 0, suites: list[str] | None = None, limit: int | None = None,
             force: bool = False, *, eval_act: str | None = None, rescore: bool = False, batch_size: int = 16,
             n_samples: int | None = None, profile: bool = True, train: bool = True, progress: bool = True,
             log=print) -> list[pathlib.Path]:
    """Evaluate the run (scale, model, seed) on ``suites`` (default: ``suites.DEFAULT_SUITES``).

    Returns the result JSON paths (the profile's included when it ran). The run is locked meanwhile
    (``harness.paths.run_lock``): a second evaluation of it refuses at once with the first one's pid.
    """
    from models.activations import ActSpec
    from models.registry import check_scale, get_variant
    from suites import DEFAULT_SUITES, get_suite

    # Offline by default; a user who exports HF_HUB_OFFLINE=0 gets the Hub for lm_eval:TASK suites.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    variant = get_variant(model)
    check_scale(scale)  # a registry scale, or hf-NAME (a fine-tuned Hugging Face checkpoint)
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    if (n_samples is not None and n_samples < 1) or batch_size < 1:
        raise ValueError(f"--n-samples and --batch-size must be >= 1, got {n_samples} and {batch_size}")
    if eval_act is not None:
        eval_act = str(ActSpec.parse(eval_act))
    names = suites or DEFAULT_SUITES
    instances = []
    for n in names:  # every name checked before anything trains
        kw = {}
        if n_samples is not None and n in ("syn_code", "humaneval", "humaneval_plus", "mbpp_plus"):
            kw["n_samples"] = n_samples
        instances.append(get_suite(n.strip(), **kw))
    # One evaluation of a run (and activation) at a time: a second one refuses at once, naming the first.
    lock = lock_path("eval", scale, variant.name, seed, _act_tag(eval_act))
    with run_lock(lock, f"evaluation of {scale}/{variant.name}/s{seed}" + (f" with {eval_act}" if eval_act else "")):
        return _evaluate(scale, variant, seed, suites, instances, limit, force, eval_act, rescore, batch_size,
                         profile, train, progress, log)


def _evaluate(scale, variant, seed, suites, instances, limit, force, eval_act, rescore, batch_size, profile,
              train, progress, log) -> list[pathlib.Path]:
    import torch

    from harness.checkpoint import final_checkpoint, load_for_inference
    from suites import EvalContext

    rdir = None
    if train:
        from harness.train import ensure_trained

        rdir = ensure_trained(scale, variant.name, seed=seed)
    else:
        from harness.paths import run_dir

        rdir = run_dir(scale, variant.name, seed)
    ckpt = final_checkpoint(rdir)
    if ckpt is None:
        raise FileNotFoundError(f"no finished checkpoint in {rdir}: train it first "
                                f"(python -m harness train --model {variant.name} --scale {scale})")
    loaded = {}

    def load():
        if "model" not in loaded:
            loaded["model"], loaded["info"] = load_for_inference(rdir)
        return loaded["model"]

    load()  # small, and its info (step, activation) goes into every result
    info = loaded["info"]
    act = eval_act or str(loaded["model"].activation)
    run_info = {"scale": scale, "model": variant.name, "seed": seed, "step": info.get("step"),
                "checkpoint": str(info.get("checkpoint", ckpt)), "checkpoint_sha256": info.get("sha256"),
                "variant": variant.to_dict(), "eval_act": act,
                "eval_act_default": eval_act is None}
    ctx = EvalContext(seed=seed, eval_act=eval_act, load_model=load, batch_size=batch_size, progress=progress,
                      tokenizer=info.get("tok"))
    torch.manual_seed(seed)
    paths = []
    log(f"evaluating {variant.name} @ {scale} seed {seed} (step {info.get('step')}, activation {act})")
    for suite in instances:
        path = results_dir(scale, variant.name, seed) / f"{suite.name}{_act_tag(eval_act)}.json"
        if not (force or rescore) and _is_done(path, suite, limit, act, info.get("step"), info.get("sha256")) \
                and not read_samples(samples_path(path))[2]:  # a damaged samples file is rebuilt
            log(f"  {suite.name}: done already ({path.name}); --force redoes it")
            paths.append(path)
            continue
        paths.append(run_suite(suite, ctx, run_info, limit=limit, force=force, rescore=rescore, path=path, log=log))
    if profile and suites is None and eval_act is None:
        from harness.profile import run_profile

        log("  profile: sparsity and dense/sparse decode speed")
        paths.append(run_profile(scale, variant.name, seed=seed, force=force))
    return paths


# ---- the comparison table ---------------------------------------------------------------------------------

def print_table(scale: str, current: tuple[str, int] | None = None, log=print):
    """Headline metric of every finished suite, one row per (model, seed, eval_act) of this scale."""
    rows: dict[tuple, dict] = {}
    cols: list[str] = []
    for r in iter_results(out_root() / "results" / scale):
        if r.get("kind") not in ("eval", "profile") or r.get("status") != "ok":
            continue
        run = r["run"]
        m = next((m for m in r["metrics"] if m["name"] in HEADLINE + ("sparsity",) and
                  not ({"family", "module", "layer"} & set(m)) and m.get("tests", "plus") == "plus"), None)
        if m is None or m["value"] is None:
            continue
        col = r["suite"]["name"] if r["kind"] == "eval" else "sparsity"
        if col not in cols:
            cols.append(col)
        partial = m.get("n") is not None and m.get("n_total") is not None and m["n"] < m["n_total"]
        key = (run["model"], run["seed"], run.get("eval_act") if r["kind"] == "eval" else None)
        rows.setdefault(key, {})[col] = f"{m['value']:.3f}" + ("*" if partial else "")
    if not rows:
        log("(no finished results yet)")
        return
    # profile rows carry no eval_act: fold them into the model's default-activation row
    merged: dict[tuple, dict] = {}
    for (model, seed, act), vals in rows.items():
        if act is None:
            target = next((k for k in rows if k[0] == model and k[1] == seed and k[2] is not None), (model, seed, "-"))
        else:
            target = (model, seed, act)
        merged.setdefault(target, {}).update(vals)
    w = max(len(k[0]) for k in merged) + 2
    head = f"{'':2}{'model':<{w}}{'seed':>4}  {'act':<14}" + "".join(f"{c[:12]:>13}" for c in cols)
    log(f"\nresults at scale {scale} (* = partial, --limit):\n" + head)
    for key in sorted(merged):
        mark = "→ " if current and (key[0], key[1]) == current else "  "
        log(f"{mark}{key[0]:<{w}}{key[1]:>4}  {str(key[2])[:14]:<14}"
            + "".join(f"{merged[key].get(c, '-'):>13}" for c in cols))
