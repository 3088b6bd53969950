"""One suite on one run: generate (resuming from the journal), write the samples, score, write the result.

A suite already done with the same version, parameters and checkpoint is skipped (:func:`is_done`); a
samples file cut mid-line is rebuilt, never overwritten blindly (:func:`_generations`).
"""

from __future__ import annotations

import pathlib
import time

from harness.evaluation.table import HEADLINE
from harness.infer.journal import ChunkJournal
from harness.infer.records import (
    cpu_provenance,
    read_samples,
    same_generations,
    samples_path,
    samples_to_rescore,
    write_samples,
)
from harness.results import finished_on, make_result, now_iso, write_result
from harness.sandbox.isolation import describe as describe_isolation
from harness.sandbox.isolation import record as record_isolation
from suites import SkipSuite


def run_suite(suite, ctx, run_info: dict, *, limit: int | None, force: bool = False, rescore: bool = False,
              path: pathlib.Path, log=print) -> pathlib.Path:
    """Generate (unless a matching samples file exists), write the samples, score, write the result.

    Generations go chunk by chunk into ``<suite>.chunks.jsonl`` (``harness.infer.journal``) as they finish,
    so a killed run resumes with the chunks it had done."""
    t0, started = time.perf_counter(), now_iso()
    params = {**suite.params, "limit": limit}
    spath = samples_path(path)

    def result(status, metrics, reason=None, dataset=None, items=None):
        info = _suite_info(suite, params, dataset, ctx.sandbox.get("isolation", "auto") if status == "ok" else None)
        res = make_result("eval", run=run_info, suite=info, metrics=metrics,
                          status=status, skip_reason=reason, samples=spath.name if status == "ok" else None,
                          provenance=cpu_provenance(started, time.perf_counter() - t0), items=items)
        return write_result(res, path)

    reason = suite.unavailable()
    if reason:
        log(f"  {suite.name}: skipped — {reason}")
        return result("skipped", [], reason)
    meta = {"suite": suite.name, "version": suite.version, "params": params, "eval_act": run_info["eval_act"],
            "checkpoint": run_info.get("checkpoint"), "checkpoint_sha256": run_info.get("checkpoint_sha256"),
            "step": run_info.get("step"), "seed": run_info["seed"]}
    if rescore:
        meta, records = samples_to_rescore(spath)
        log(f"  {suite.name}: re-scoring {len(records)} samples from {spath.name}")
    else:
        try:
            records = _generations(suite, ctx, meta, spath, limit=limit, force=force, log=log)
        except SkipSuite as e:
            log(f"  {suite.name}: skipped — {e}")
            return result("skipped", [], str(e))
    metrics, scored = suite.score(records, ctx)
    write_samples(spath, meta, scored)
    out = result("ok", metrics, dataset=suite.dataset(), items=suite.item_scores(scored))
    head = next((m for m in metrics if m["name"] in HEADLINE), metrics[0] if metrics else None)
    if head:
        log(f"  {suite.name}: {head['name']} = {head['value']:.4f} (n={head['n']}/{head['n_total']}) "
            f"[{time.perf_counter() - t0:.1f} s]")
    return out


def _suite_info(suite, params: dict, dataset: dict | None, isolation: str | None = None) -> dict:
    """The result's suite block; ``isolation`` (the mode asked for, of a suite that ran) adds what ran."""
    info = {"name": suite.name, "version": suite.version, "backend": suite.backend, "params": params,
            "description": suite.description}
    if "sandbox" in suite.backend and isolation is not None:
        info["isolation"] = record_isolation(isolation)
        info["execution"] = ("generated code ran only in a sandbox: separate process, time/memory limits, "
                             f"private work dir; {describe_isolation(info['isolation'])} ({suite.backend})")
    elif "sandbox" in suite.backend or suite.backend == "evalplus":  # evalplus: its own sandbox, not ours
        info["execution"] = ("generated code ran only in a sandbox: separate process, time/memory limits, "
                             f"temp dir ({suite.backend})")
    info["dataset"] = dataset or {"name": None, "sha256": None}
    return info


def _generations(suite, ctx, meta: dict, spath: pathlib.Path, *, limit: int | None, force: bool, log) -> list:
    """The suite's generations: the samples file's when it matches ``meta``, else generated (taking the chunks
    the journal has) and written. A samples file cut mid-line is not overwritten blindly: its intact records
    are kept, only what is missing is generated, and if the intact records differ from the regenerated
    ones the run stops with one line naming the file."""
    old_meta, records, damage = read_samples(spath)
    if not (force or old_meta != meta or damage):
        log(f"  {suite.name}: reusing {len(records)} samples from {spath.name}")
        return records
    intact = records if damage and old_meta == meta and not force else []
    # The journal is the run's, whatever --limit: a chunk is keyed by its own inputs (harness.infer.journal).
    journal = ChunkJournal(spath.with_name(spath.name.replace(".samples.jsonl", ".chunks.jsonl")),
                           {**meta, "params": dict(suite.params)}, fresh=force, log=log)
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
    finally:
        ctx.journal = None
    if journal.reused:
        log(f"  {suite.name}: {journal.reused} chunk(s) taken from {journal.path.name}, {journal.generated} generated")
    if intact and not same_generations(intact, records):
        raise RuntimeError(f"samples file {spath} is damaged ({damage}) and its {len(intact)} intact "
                           f"records differ from a fresh generation; it was left untouched: move it away "
                           f"or pass --force")
    write_samples(spath, meta, records)  # generations first: scoring can be redone from them
    return records


def is_done(path: pathlib.Path, suite, limit: int | None, eval_act: str, step, sha256: str | None = None,
            predictor: dict | None = None) -> bool:
    """This suite's result at ``path`` is finished for these settings on this checkpoint (a ``--limit``ed one
    counts when this run is limited the same way), with the same neuron predictor if one was used."""
    return finished_on(path, version=suite.version, params={**suite.params, "limit": limit}, sha256=sha256,
                       partial_ok=limit is not None, eval_act=eval_act, step=step, predictor=predictor)
