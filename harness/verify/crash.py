"""Crash safety, checked with real kill -9: training resumes to the same weights, evaluation redoes only what is missing.

    python -m harness selfcheck                       # runs run_checks(quick=True) among its checks
    python -c "from harness.verify.crash import run_checks; import pathlib, tempfile; \\
               run_checks(pathlib.Path(tempfile.mkdtemp()), quick=False)"

:func:`run_checks` trains a tiny model once without interruption, then the same run again in another output
folder, SIGKILLing ``python -m harness train`` at chosen points (in the middle of writing a checkpoint,
between a checkpoint and its checksum sidecar, while pruning old ones, between optimizer steps) and at
random moments, each time resuming with ``--resume``. After every kill no checkpoint that a resume could
pick may be corrupt; at the end the final weights must equal the uninterrupted run's (``torch.equal`` on
every tensor) and so must the loss curve. It then evaluates the model the same way: killed after a chunk
of generations, in the middle of writing one, and (full mode) at random moments; the rerun must take every
journaled chunk from ``<suite>.chunks.jsonl`` without generating it again, and every result and samples
file must equal the uninterrupted evaluation's. Last, a finished suite's samples file is cut mid-line: the
rerun must name it, keep its intact records and rebuild it from the journal without generating anything.

Chosen points are the fault points of ``harness.faults`` (``ckpt.*``, ``train.*``: at step ``n``;
``eval.*``: at the ``n``-th chunk the process generates). A killed run is started as
``python -m harness.verify.killed POINT:N COMMAND ...``, which installs :func:`kill_at` and runs the
command; :func:`stopped_at` stops a run the same way inside a test's own process.
"""

from __future__ import annotations

import contextlib
import os
import signal

from harness import faults


def leave_torn(where: dict) -> None:
    """What a kill in the middle of a write leaves: the first half of ``data`` written to ``file``, or, for
    a file written already (a checkpoint's temp file), the file cut to half its length."""
    f = where["file"]
    if "data" in where:
        f.write(where["data"][: len(where["data"]) // 2])
    else:
        f.flush()
        f.truncate(max(1, f.tell() // 2))
    f.flush()
    os.fsync(f.fileno())


def kill_at(spec: str):
    """A fault handler that SIGKILLs this process at fault point ``<point>:<n>``, leaving the file being
    written there half written."""
    point, _, n = spec.rpartition(":")

    def handler(name: str, i: int, where: dict) -> None:
        if name == point and str(i) == n:
            if "file" in where:
                leave_torn(where)
            os.kill(os.getpid(), signal.SIGKILL)

    return handler


class Stopped(Exception):
    """A run stopped at a fault point inside this process (:func:`stopped_at`): what a kill leaves on disk."""


@contextlib.contextmanager
def stopped_at(point: str, n: int):
    """Within the block, fault point ``point`` number ``n`` raises :class:`Stopped`, leaving the files as a
    kill there would (tests of ``--resume`` without a subprocess)."""
    def handler(name: str, i: int, where: dict) -> None:
        if name == point and i == n:
            if "file" in where:
                leave_torn(where)
            raise Stopped(f"stopped at {point} {n}")

    with faults.installed(handler):
        yield


# ---- the checks -----------------------------------------------------------------------------------------
MODEL = "stocha-p0.5-a0.25"  # stochastic draws and an activation switch: both must survive a resume
STEPS = 12
TRAIN_ARGS = ["--model", MODEL, "--scale", "tiny", "--batch-size", "8", "--seq-len", "64", "--ckpt-every", "3",
              "--keep-ckpts", "2", "--log-every", "2", "--eval-every", "6", "--eval-seqs", "2",
              "--mix", "synth_code=0.5,synth_reason=0.5", "--synth-docs", "300", "--no-progress"]
# Code generation through EvalContext.generate, lm-eval generate_until and loglikelihood through our lm-eval
# model: every path that journals chunks. --batch-size 2 makes chunks of 8, so each suite has several.
EVAL_ARGS = ["eval", "--model", MODEL, "--scale", "tiny", "--suites", "syn_code,syn_reason,syn_choice",
             "--limit", "12", "--batch-size", "2", "--no-train", "--no-profile"]
SUITES = ("syn_code", "syn_reason", "syn_choice")
VOLATILE = ("tok_s", "wall_s")

# (crash point, n) in order, each resumed from what the previous kill left. Train: checkpoints every 3
# steps of 12, the final one at 12. Eval: n counts the chunks a process generates (journaled ones are
# reused, not counted); from scratch chunks 1-2 are syn_code's, 3-4 syn_reason's, 5-10 syn_choice's.
# Quick: killed after syn_code's first chunk, then tearing syn_reason's second (generate_until) line.
TRAIN_PLAN_QUICK = [("ckpt.write", 3), ("ckpt.sidecar", 6), ("ckpt.prune", 9), ("ckpt.sidecar", 12)]
TRAIN_PLAN_FULL = [("train.metrics", 2), ("ckpt.write", 3), ("ckpt.renamed", 3), ("train.step", 5),
                   ("ckpt.write", 6), ("ckpt.sidecar", 6), ("ckpt.prune", 9), ("ckpt.write", 12),
                   ("ckpt.sidecar", 12), ("ckpt.renamed", 12)]
EVAL_PLAN_QUICK = [("eval.chunk", 1), ("eval.torn", 3)]
EVAL_PLAN_FULL = [("eval.torn", 1), ("eval.chunk", 2), ("eval.chunk", 3), ("eval.torn", 2)]


def run_checks(workdir, quick: bool = True, log=print) -> list[dict]:
    """Kill -9 a tiny training and an evaluation at many points; return one ``{name, ok, detail}`` per check.

    Everything is written under ``workdir/crashsafety/`` (which must be new or empty): ``ref/`` for the
    uninterrupted runs, ``crash/`` for the killed ones, one shared corpus cache. ``quick``: 4 training and
    2 evaluation crash points, one random moment and a samples file cut mid-line, 11 processes (under a
    minute on 2 idle CPU cores); else 10 + 4 crash points and 3 + 2 random moments, 23 processes.
    """
    import pathlib
    import random

    work = pathlib.Path(workdir).resolve() / "crashsafety"
    if work.exists() and any(work.iterdir()):
        raise ValueError(f"{work} is not empty: the crash-safety checks need a fresh folder")
    ref, crash = work / "ref", work / "crash"
    for d in (ref, crash):
        d.mkdir(parents=True)
        (work / "cache").mkdir(exist_ok=True)
        (d / "cache").symlink_to(work / "cache")
    checks: list[dict] = []

    def add(name: str, ok: bool, detail: str) -> bool:
        checks.append({"name": name, "ok": bool(ok), "detail": detail})
        log(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
        return ok

    try:
        _run_all(work, ref, crash, quick, random.Random(0), add)
    except Exception as e:  # a harness bug or a hung process: a failed check, not a crashed selfcheck
        add("crash safety: checks ran to the end", False, f"{type(e).__name__}: {e}")
    return checks


def _run_all(work, ref, crash, quick: bool, rng, add) -> None:
    steps = ["--steps", str(STEPS)]
    r = _harness(["train", *TRAIN_ARGS, *steps], ref)
    if not add("train: uninterrupted reference run", r.returncode == 0, _tail(r) if r.returncode else "trained"):
        return
    plan = TRAIN_PLAN_QUICK if quick else TRAIN_PLAN_FULL
    for point, n in plan:
        r = _harness(["train", *TRAIN_ARGS, *steps, "--resume"], crash, crash=f"{point}:{n}")
        ok, detail = _after_kill(r, crash)
        add(f"train: kill -9 at {point} (step {n})", ok, detail)
    if quick:  # the plan leaves step 9 of 12: this lands in the last steps, the final save or the exit
        add("train: kill -9 at a random moment", *_random_train_kill(crash, rng))
    r = _harness(["train", *TRAIN_ARGS, *steps, "--resume"], crash)
    if r.returncode != 0:
        add("train: resumed run equals the uninterrupted one", False, _tail(r))
        return
    add("train: resumed run equals the uninterrupted one", *_same_training(ref, crash))
    if not quick:  # a run of its own killed at random moments only, from scratch
        rand = work / "random"
        rand.mkdir(exist_ok=True)
        if not (rand / "cache").exists():
            (rand / "cache").symlink_to(work / "cache")
        for _ in range(3):
            add("train: kill -9 at a random moment", *_random_train_kill(rand, rng))
        r = _harness(["train", *TRAIN_ARGS, *steps, "--resume"], rand)
        add("train: run killed at random moments equals the uninterrupted one",
            *(_same_training(ref, rand) if r.returncode == 0 else (False, _tail(r))))

    r = _harness(EVAL_ARGS, ref)
    if not add("eval: uninterrupted reference run", r.returncode == 0, _tail(r) if r.returncode else "evaluated"):
        return
    before: dict[str, list[bytes]] = {}
    done_results: dict[str, bytes] = {}
    for point, n in EVAL_PLAN_QUICK if quick else EVAL_PLAN_FULL:
        r = _harness(EVAL_ARGS, crash, crash=f"{point}:{n}")
        ok, detail = _after_eval_kill(r, crash, before, done_results)
        add(f"eval: kill -9 at {point} (chunk {n} of this run)", ok, detail)
    for _ in range(0 if quick else 2):
        ok, detail = _random_eval_kill(crash, rng, before, done_results)
        add("eval: kill -9 at a random moment", ok, detail)
    # The last rerun also meets a finished suite's samples file cut mid-line (a crash of some other
    # writer, a full disk, a bad copy): it must keep the intact records and rebuild the rest from the
    # journal without generating anything.
    cut = _cut_samples(crash)
    r = _harness(EVAL_ARGS, crash)
    name = "eval: resumed evaluation redoes only missing chunks and equals the uninterrupted one"
    if r.returncode != 0:
        add(name, False, _tail(r))
        return
    ok, detail = _after_eval_kill(r, crash, before, {k: v for k, v in done_results.items() if k != cut[0]},
                                  final=True)
    if ok:
        ok, detail = _same_results(ref, crash, detail)
    add(name, ok, detail)
    add("eval: samples file cut mid-line is rebuilt from the journal", *_rebuilt(r, crash, cut))


def _harness(args: list[str], out, crash: str | None = None, wait: bool = True, timeout: float = 300):
    """``python -m harness ARGS`` with HARNESS_OUT=out (a real process, so a kill is a real kill); with
    ``crash`` (``POINT:N``), the same command killed at that fault point (``harness.verify.killed``)."""
    import pathlib
    import subprocess
    import sys

    env = {**os.environ, "HARNESS_OUT": str(out), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1"}
    cmd = [sys.executable, "-m", *(("harness.verify.killed", crash) if crash else ("harness",)), *args]
    root = pathlib.Path(__file__).resolve().parents[2]
    if not wait:  # output to a file: a full pipe would stall the process and skew where the kill lands
        with open(pathlib.Path(out) / "last-run.log", "w") as log:
            return subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=timeout)


def _tail(r) -> str:
    text = ((r.stdout or "") + (r.stderr or "")).strip().splitlines()
    return f"exit {r.returncode}: " + (text[-1] if text else "(no output)")


def _killed(r) -> bool:
    return r.returncode == -signal.SIGKILL


def _run_dir(out):
    return out / "runs" / "tiny" / MODEL / "s0"


def _inspect_checkpoints(rd) -> tuple[bool, str]:
    """Every checkpoint a resume could pick loads and matches its sidecar; say what the kill left."""
    from harness.train import checkpoint, checkpoint_files

    d = checkpoint_files.ckpt_dir(rd)
    if not d.is_dir():
        return True, "no checkpoint yet"
    problems, notes = [], []
    for p in sorted(d.glob("*.pt")):
        if not p.with_suffix(".json").is_file():
            problems.append(f"{p.name} has no sidecar")
            continue
        try:
            checkpoint.load(p)
        except checkpoint_files.CorruptCheckpointError as e:
            problems.append(str(e).split(";")[0])
    temps = [p.name for p in d.iterdir() if p.name.endswith(".tmp")]
    orphans = [p.name for p in d.glob("*.json") if not p.with_suffix(".pt").exists()]
    if temps:
        notes.append(f"{len(temps)} temp file(s) left (ignored)")
    if orphans:
        notes.append(f"sidecar without .pt: {', '.join(orphans)} (ignored)")
    latest = checkpoint_files.latest_checkpoint(rd)
    notes.insert(0, f"a resume continues from {latest.name if latest else 'scratch'}")
    return not problems, "; ".join(problems or notes)


def _after_kill(r, out) -> tuple[bool, str]:
    if not _killed(r):
        return False, f"expected a kill -9, got {_tail(r)} (crash point not reached?)"
    return _inspect_checkpoints(_run_dir(out))


def _random_train_kill(out, rng) -> tuple[bool, str]:
    """Resume the run and SIGKILL it a random 0-50 ms after it logs a random step between its start and
    the end (whatever it is doing then: a step, a validation, a checkpoint write, the result, the exit)."""
    import json
    import time

    from harness.train.checkpoint_files import final_checkpoint, latest_checkpoint

    rd = _run_dir(out)
    if final_checkpoint(rd):
        return True, "run already finished; nothing to kill"
    latest = latest_checkpoint(rd)
    start = json.loads(latest.with_suffix(".json").read_text())["step"] if latest else 0
    target, extra = rng.randint(start + 1, STEPS), rng.uniform(0.0, 0.05)
    t0 = time.time()
    proc = _harness(["train", *TRAIN_ARGS, "--steps", str(STEPS), "--resume"], out, wait=False)
    cfg, metrics = rd / "config.json", rd / "metrics.jsonl"

    def logged() -> int:  # the newest step this process logged (config.json is rewritten after metrics.jsonl)
        if not (cfg.exists() and cfg.stat().st_mtime >= t0):
            return -1
        try:
            return max((json.loads(x)["step"] for x in metrics.read_text().splitlines() if x.endswith("}")),
                       default=start)
        except (OSError, ValueError):
            return -1

    while proc.poll() is None and logged() < target:
        time.sleep(0.002)
    time.sleep(extra)
    if proc.poll() is not None:
        return proc.returncode == 0, f"finished before the kill (step {target} + {extra * 1000:.0f} ms)"
    proc.kill()
    proc.wait()
    ok, detail = _inspect_checkpoints(rd)
    return ok, f"killed {extra * 1000:.0f} ms after step {target} was logged; {detail}"


def _metrics(rd) -> list[dict]:
    from harness.train.metrics_log import read_metrics

    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in read_metrics(rd / "metrics.jsonl")]


def _same_training(ref, crash) -> tuple[bool, str]:
    import torch

    from harness.train import checkpoint

    a = checkpoint.load(_run_dir(ref) / "ckpt" / "final.pt")
    b = checkpoint.load(_run_dir(crash) / "ckpt" / "final.pt")
    diff = [k for k, v in a["model"].items() if not torch.equal(v, b["model"][k])]
    if diff or a["model"].keys() != b["model"].keys():
        return False, f"{len(diff)} of {len(a['model'])} weight tensors differ (first: {diff[:1]})"
    ma, mb = _metrics(_run_dir(ref)), _metrics(_run_dir(crash))
    if ma != mb:
        return False, "weights equal, but the loss curve differs"
    return True, f"all {len(a['model'])} weight tensors torch.equal, loss curve identical ({len(ma)} log lines)"


# ---- evaluation ------------------------------------------------------------------------------------------
def _res_dir(out):
    return out / "results" / "tiny" / MODEL / "s0"


def _journal_lines(out, suite: str) -> list[bytes]:
    """The complete lines of a suite's journal (a torn tail excluded)."""
    p = _res_dir(out) / f"{suite}.chunks.jsonl"
    if not p.exists():
        return []
    lines = p.read_bytes().split(b"\n")[:-1]  # what follows the last newline is torn
    return [x for x in lines[1:] if x.strip()]


def _after_eval_kill(r, out, before: dict, done_results: dict, final: bool = False) -> tuple[bool, str]:
    """After a kill (or the last run): every chunk journaled before is still there, unchanged and not
    generated twice; a suite whose result existed was not redone."""
    import json

    if not final and not _killed(r):
        return False, f"expected a kill -9, got {_tail(r)} (crash point not reached?)"
    notes, problems = [], []
    for s in SUITES:
        now = _journal_lines(out, s)
        keys = [json.loads(x)["key"] for x in now]
        old = before.get(s, [])
        if now[:len(old)] != old:
            problems.append(f"{s}: journaled chunks changed")
        if len(set(keys)) != len(keys):
            problems.append(f"{s}: a chunk was generated twice")
        if len(now) > len(old):
            notes.append(f"{s} {len(old)}+{len(now) - len(old)}")
        before[s] = now
        res = _res_dir(out) / f"{s}.json"
        if s in done_results and res.read_bytes() != done_results[s]:
            problems.append(f"{s}: finished before, yet evaluated again")
        if res.exists():
            done_results[s] = res.read_bytes()
    head = "kept chunks + new ones: " + (", ".join(notes) or "none new")
    return not problems, "; ".join(problems) or head


def _random_eval_kill(out, rng, before: dict, done_results: dict) -> tuple[bool, str]:
    """Rerun the evaluation and SIGKILL it a random 0-2.5 s after its first journal write."""
    import subprocess
    import time

    t0 = time.time()
    proc = _harness(EVAL_ARGS, out, wait=False)
    delay = rng.uniform(0.0, 2.5)

    def started() -> bool:
        return any(p.stat().st_mtime >= t0 for p in _res_dir(out).glob("*.chunks.jsonl"))

    while proc.poll() is None and not started():
        time.sleep(0.01)
    time.sleep(delay)
    finished = proc.poll() is not None
    proc.kill()
    r = subprocess.CompletedProcess(proc.args, proc.wait(), (out / "last-run.log").read_text(), "")
    if finished:
        ok, detail = _after_eval_kill(r, out, before, done_results, final=True)
        return ok and r.returncode == 0, f"finished before the kill ({delay:.1f} s); {detail}"
    ok, detail = _after_eval_kill(r, out, before, done_results)
    return ok, f"killed {delay:.1f} s after its first journal write; {detail}"


def _records(path) -> list[dict]:
    import json

    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()[1:] if x.strip()]


def _same_results(ref, crash, detail: str) -> tuple[bool, str]:
    import json

    for s in SUITES:
        keys_ref = [json.loads(x)["key"] for x in _journal_lines(ref, s)]
        keys = [json.loads(x)["key"] for x in _journal_lines(crash, s)]
        if sorted(keys) != sorted(keys_ref):
            return False, f"{s}: journaled chunks differ from the uninterrupted run's"
        a, b = (json.loads((_res_dir(o) / f"{s}.json").read_text()) for o in (ref, crash))
        if a["metrics"] != b["metrics"]:
            return False, f"{s}: metrics differ from the uninterrupted run's"
        if _records(_res_dir(ref) / f"{s}.samples.jsonl") != _records(_res_dir(crash) / f"{s}.samples.jsonl"):
            return False, f"{s}: samples differ from the uninterrupted run's"
    return True, f"{detail}; metrics and samples of {len(SUITES)} suites equal"


def _cut_samples(out) -> tuple[str, bytes, int]:
    """Cut the first finished suite's samples file at 60%: (suite, its journal's bytes, intact records)."""
    s = next(s for s in SUITES if (_res_dir(out) / f"{s}.json").exists())
    samples = _res_dir(out) / f"{s}.samples.jsonl"
    raw = samples.read_bytes()
    samples.write_bytes(raw[: int(len(raw) * 0.6)])
    return s, (_res_dir(out) / f"{s}.chunks.jsonl").read_bytes(), raw[: int(len(raw) * 0.6)].count(b"\n") - 1


def _rebuilt(r, out, cut) -> tuple[bool, str]:
    s, journal_before, intact = cut
    samples = _res_dir(out) / f"{s}.samples.jsonl"
    text = (r.stdout or "") + (r.stderr or "")
    if "is damaged" not in text or str(samples) not in text:
        return False, "the rerun did not name the damaged file"
    if (_res_dir(out) / f"{s}.chunks.jsonl").read_bytes() != journal_before:
        return False, "chunks were generated again"
    return True, (f"{samples.name} cut mid-line after {intact} records: named in one line, rebuilt from the "
                  f"journal with 0 chunks generated, equal to the uninterrupted run's")
