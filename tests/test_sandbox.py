"""Sandbox containment: the harness survives, and nothing but a finished check() passes."""

import os

from harness.sandbox import count, run_many, run_program

CHECK = "\ndef check(c):\n    assert c(1) == 2\ncheck(f)\n"
GOOD = "def f(x):\n    return x + 1\n"


def test_pass_and_fail():
    ok, wrong = run_many([GOOD + CHECK, "def f(x):\n    return x\n" + CHECK], timeout=5)
    assert ok.status == "passed" and wrong.status == "failed" and "AssertionError" in wrong.detail


def test_infinite_loop_times_out():
    r = run_program("def f(x):\n    while True:\n        pass\n" + CHECK, timeout=1)
    assert r.status == "timeout"


def test_memory_bomb_fails():
    r = run_program("def f(x):\n    b = bytearray(16 * 2**30)\n    return x + 1\n" + CHECK, timeout=5, memory_mb=512)
    assert r.status == "failed" and "MemoryError" in r.detail


def test_exit_before_tests_does_not_pass():
    progs = ["import sys\nsys.exit(0)\n" + GOOD + CHECK, "import os\nos._exit(0)\n" + GOOD + CHECK,
             GOOD + "exit(0)\n" + CHECK, GOOD + "raise SystemExit(0)\n" + CHECK]
    outs = run_many(progs, timeout=5)
    assert [o.passed for o in outs] == [False] * 4
    assert outs[1].status == "crashed"


def test_killing_the_parent_does_not_kill_the_harness():
    progs = ["import os\nos.kill(os.getppid(), 9)\n" + GOOD + CHECK,
             "import os, posix\nposix.kill(os.getppid(), 9)\n" + GOOD + CHECK,
             f"import os\nos.system('kill -9 {os.getpid()}')\n" + GOOD + CHECK]
    outs = run_many(progs, timeout=5)
    assert outs[0].status == "failed" and outs[2].status == "failed"  # os.kill / os.system are disabled
    assert os.getpid()  # still here


def test_files_go_to_a_temp_dir_and_fork_is_contained(tmp_path):
    marker = tmp_path / "escape.txt"
    outs = run_many([f"open('local.txt', 'w').write('x')\nimport os\nos.remove({str(marker)!r})\n" + GOOD + CHECK,
                     "open('big', 'w').write('a' * (64 << 20))\n" + GOOD + CHECK,
                     "import os\nos.fork()\n" + GOOD + CHECK], timeout=5)
    assert outs[0].status == "failed"  # os.remove is disabled
    assert outs[1].status == "failed" and "File too large" in outs[1].detail
    assert outs[2].status == "failed"
    assert not (tmp_path / "local.txt").exists()
    assert count(outs) == {"passed": 0, "failed": 3, "timeout": 0, "crashed": 0}
