"""Evaluate a model variant on the suites; trains it first if it has no checkpoint.

    >>> from harness.evaluation.evaluate import run_eval
    >>> paths = run_eval("tiny", "silu", suites=["syn_code"], limit=5)      # doctest: +SKIP

(``python -m harness eval`` is the command line: ``harness.commands.evaluate``.)

Per suite it writes ``out/results/<scale>/<model>/s<seed>/<suite>.samples.jsonl`` (the generations, first
line a ``_meta`` header) and then ``<suite>.json`` (the result, schema in ``harness.results``). A suite
already done with the same version and parameters is skipped (``--force`` redoes it); generations are
never redone to re-score (``--rescore`` scores the samples file again). ``--limit N`` evaluates the first N
items: its results record ``n < n_total`` and never count as complete. With ``--eval-act`` the files are
``<suite>.act-<act>.json`` so they sit beside the recipe's own; with ``--prompt-form chat`` the code suites'
files end in ``.chat.json``. After the default suites the profiler
runs (``harness.profiling.profile_run``), then a table of this run beside the other finished runs of the scale.

Killed half-way (kill -9, power cut), a rerun of the same command redoes only what is missing: finished
suites are skipped, and generations are journaled chunk by chunk in ``<suite>.chunks.jsonl``
(``harness.infer.journal``), so a suite resumes at its first unfinished chunk; the results equal an
uninterrupted run's exactly. A second evaluation of the same run while one is going refuses at once
with the first one's pid (``harness.paths.run_lock``); evaluations of different runs share ``out/``
safely.
"""

from __future__ import annotations

import os
import pathlib

import torch

from harness.evaluation.suite_run import is_done, run_suite
from harness.infer.load import load_for_inference
from harness.infer.records import read_samples, samples_path
from harness.paths import lock_path, run_dir, run_lock
from harness.profiling.profile_run import run_profile
from harness.results import act_tag, read_result, results_dir
from harness.sandbox.isolation import resolve as resolve_isolation
from harness.train.checkpoint_files import final_checkpoint
from harness.train.trainer import ensure_trained
from models.config import ActSpec
from models.registry import check_scale, get_variant
from suites import DEFAULT_SUITES, EvalContext, get_suite


def run_eval(scale: str, model: str, seed: int = 0, suites: list[str] | None = None, limit: int | None = None,
             force: bool = False, *, eval_act: str | None = None, rescore: bool = False, batch_size: int = 16,
             n_samples: int | None = None, profile: bool = True, train: bool = True, progress: bool = True,
             predictor: bool = False, prompt_form: str | None = None, isolation: str = "auto",
             items: int | None = None, log=print) -> list[pathlib.Path]:
    """Evaluate the run (scale, model, seed) on ``suites`` (default: ``suites.DEFAULT_SUITES``).

    Returns the result JSON paths (the profile's included when it ran). The run is locked meanwhile
    (``harness.paths.run_lock``): a second evaluation of it refuses at once with the first one's pid.
    ``isolation`` (auto | namespaces | guard): how generated code is isolated (``harness.sandbox.isolation``);
    code suites record the mode that ran. ``items``: how many items the generated suites (``SIZED_SUITES``)
    hold (default ``suites.base.SYNTH_ITEMS``) — a whole result at that size, unlike ``limit`` (a partial
    one); a 135M checkpoint on one core uses it to fit its evaluation in half an hour.
    """
    # Offline by default; a user who exports HF_HUB_OFFLINE=0 gets the Hub for lm_eval:TASK suites.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    variant = get_variant(model)
    check_scale(scale)  # a registry scale, or hf-NAME (a fine-tuned Hugging Face checkpoint)
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be >= 1, got {limit}")
    for flag, value in (("--n-samples", n_samples), ("--batch-size", batch_size), ("--items", items)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    if eval_act is not None:
        eval_act = str(ActSpec.parse(eval_act))
    instances = _suites(suites or DEFAULT_SUITES, n_samples, prompt_form, items)  # every name checked before anything trains
    resolve_isolation(isolation)  # --isolation namespaces where none works fails now, not after training
    # One evaluation of a run (and activation) at a time: a second one refuses at once, naming the first.
    tag = act_tag(eval_act) + (".pred" if predictor else "")
    lock = lock_path("eval", scale, variant.name, seed, tag)
    with run_lock(lock, f"evaluation of {scale}/{variant.name}/s{seed}" + (f" with {eval_act}" if eval_act else "")):
        rdir = ensure_trained(scale, variant.name, seed=seed) if train else run_dir(scale, variant.name, seed)
        ctx, run_info = _load_run(rdir, scale, variant, seed, eval_act, batch_size, progress, predictor)
        ctx.sandbox["isolation"] = isolation
        for suite in instances:  # a chat prompt form needs the run's chat template: refuse before any suite runs
            if hasattr(suite, "check_form"):
                suite.check_form(ctx)
        log(f"evaluating {variant.name} @ {scale} seed {seed} (step {run_info['step']}, activation "
            f"{run_info['eval_act']})")
        paths = []
        for suite in instances:
            form = ".chat" if suite.params.get("prompt_form") == "chat" else ""  # beside the plain-prompt result
            path = results_dir(scale, variant.name, seed) / f"{suite.name}{tag}{form}.json"
            if not (force or rescore) and is_done(path, suite, limit, run_info["eval_act"], run_info["step"],
                                                  run_info["checkpoint_sha256"], run_info.get("predictor")) \
                    and not read_samples(samples_path(path))[2]:  # a damaged samples file is rebuilt
                log(f"  {suite.name}: done already ({path.name}); --force redoes it")
                paths.append(path)
                continue
            paths.append(run_suite(suite, ctx, run_info, limit=limit, force=force, rescore=rescore, path=path,
                                   log=log))
        if profile and suites is None and eval_act is None and not predictor:
            log("  profile: sparsity and dense/sparse decode speed")
            paths.append(run_profile(scale, variant.name, seed=seed, force=force))
            dec = read_result(paths[-1]).get("decode") or {}
            if "path" in dec:
                log(f"  decode: {dec['path']} path, {dec['speedup']:.2f}x dense speed "
                    f"(sparse kernel forced: {dec['speedup_kernel']:.2f}x); {dec['reason']}")
        return paths


# The suites generated here, whose size is a parameter (``n_items``) rather than a fixed dataset.
SIZED_SUITES = ("syn_code", "syn_reason", "syn_choice")


def _suites(names: list[str], n_samples: int | None, prompt_form: str | None = None,
            items: int | None = None) -> list:
    out = []
    for n in names:
        kw = {}
        if items is not None and n in SIZED_SUITES:
            kw["n_items"] = items
        if n_samples is not None and n in ("syn_code", "humaneval", "humaneval_plus", "mbpp_plus"):
            kw["n_samples"] = n_samples
        if prompt_form is not None and n in ("syn_code", "humaneval"):
            kw["prompt_form"] = prompt_form
        out.append(get_suite(n.strip(), **kw))
    return out


def _load_run(rdir, scale: str, variant, seed: int, eval_act: str | None, batch_size: int,
              progress: bool, predictor: bool = False) -> tuple[EvalContext, dict]:
    """(the suites' context, the run fields every result records) of the run's final checkpoint, loaded now:
    it is small, and its step and activation go into every result. ``predictor``: decode with the run's
    neuron predictors (``python -m harness predictor``), recorded as ``run.predictor``."""
    ckpt = final_checkpoint(rdir)
    if ckpt is None:
        raise FileNotFoundError(f"no finished checkpoint in {rdir}: train it first "
                                f"(python -m harness train --model {variant.name} --scale {scale})")
    model, info = load_for_inference(rdir)
    run_info = {"scale": scale, "model": variant.name, "seed": seed, "step": info.get("step"),
                "checkpoint": str(info.get("checkpoint", ckpt)), "checkpoint_sha256": info.get("sha256"),
                "variant": variant.to_dict(), "eval_act": eval_act or str(model.activation),
                "eval_act_default": eval_act is None and not predictor}
    if predictor:
        from harness.results import sha256_file
        from models.sparse import enable_sparse
        from models.sparse_predictor import load_predictors

        ppath = pathlib.Path(rdir) / "predictor.pt"
        if not ppath.is_file():
            raise FileNotFoundError(f"no neuron predictor in {rdir}: python -m harness predictor --model "
                                    f"{variant.name} --scale {scale} --seed {seed}")
        preds, meta = load_predictors(ppath)
        if meta.get("checkpoint_sha256") != info.get("sha256"):
            raise ValueError(f"{ppath} was trained on another checkpoint of this run: train it again")
        if eval_act is not None:
            model.set_activation(eval_act)
        enable_sparse(model, predictor=preds)
        run_info["predictor"] = {"rank": meta["rank"], "recall_target": meta["recall_target"],
                                 "sha256": sha256_file(ppath)}
    ctx = EvalContext(seed=seed, eval_act=eval_act, load_model=lambda: model, batch_size=batch_size,
                      progress=progress, tokenizer=info.get("tok"))
    torch.manual_seed(seed)
    return ctx, run_info
