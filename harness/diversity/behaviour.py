"""Code behaviour in the sandbox: what a candidate returns on a task's test inputs, so k samples can be told
apart by what they do (``functional_diversity``), not by how they are spelled.

A candidate runs as a behaviour probe (:func:`behaviour_program`): each test statement in its own
try/except, every value (or exception type) the candidate returns recorded and hashed. A pass still needs
the plain check (``harness.sandbox.execute.check_program``) and its pass token; :class:`Executor` runs
the probe first and the check only where the probe does not already prove a failure.
"""

from __future__ import annotations

import ast

from harness.sandbox.execute import check_program, run_many

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

    def __init__(self, job, progress: bool = False, isolation: str = "auto"):
        self.job, self.progress, self.isolation = job, progress, isolation
        self.by_id = {t["task_id"]: t for t in job.items}
        self.cache: dict[tuple[str, str], tuple[str, str]] = {}  # (task_id, completion) → (status, behaviour)

    def run(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """(status, behaviour) of each (task_id, completion), each distinct pair run once."""
        p = self.job.suite.params
        todo = list(dict.fromkeys(x for x in pairs if x not in self.cache))
        if not todo:
            return [self.cache[x] for x in pairs]
        tasks = [self.by_id[tid] for tid, _ in todo]

        def execute(programs, what):
            return run_many(programs, timeout=p["timeout_s"], memory_mb=p["memory_mb"], progress=self.progress,
                            desc=f"{self.job.name} {what}", isolation=self.isolation)

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
