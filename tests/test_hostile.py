"""Hostile completions through the code suites' scoring path: each is contained, none passes.

One run of every case of harness.verify.hostile (in parallel, ~10 s), then a test per case with its known answer.
"""

import os
import socket
import time

import pytest

from harness.sandbox.execute import check_program, run_many
from harness.verify import hostile

TIMEOUT = 2.0


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile")
    t0 = time.perf_counter()
    rows = hostile.run(work, timeout=TIMEOUT, log=lambda *a: None)
    return {"rows": {r["name"]: r for r in rows}, "wall": time.perf_counter() - t0, "work": work}


@pytest.mark.parametrize("case", hostile.CASES, ids=[c.name for c in hostile.CASES])
def test_case_is_contained(case, outcome):
    r = outcome["rows"][case.name]
    assert r["status"] == case.expect, r
    assert case.detail in r["detail"], r
    if case.hostile:
        assert r["status"] != "passed"
    assert r["wall_s"] < TIMEOUT + 10  # a safety bound, not a speed claim
    assert r["ok"], r["why"]  # also: the decoy outside is intact and 127.0.0.1 got no connection


def test_decoy_outside_the_sandbox_is_intact(outcome):
    decoy = outcome["work"] / "decoy"
    assert (decoy / "keep.txt").read_text() == "must survive\n"
    assert (decoy / "sub" / "data.bin").read_bytes() == bytes(range(256))
    assert sorted(p.name for p in decoy.rglob("*")) == ["data.bin", "keep.txt", "sub"]
    assert sorted(p.name for p in outcome["work"].iterdir()) == ["decoy"]


def test_the_whole_set_is_bounded(outcome):
    assert len(outcome["rows"]) == len(hostile.CASES) >= 50
    assert outcome["wall"] < 120


def test_no_connection_reaches_a_listener():
    with socket.create_server(("127.0.0.1", 0)) as srv:
        srv.settimeout(0.5)
        port = srv.getsockname()[1]
        tries = [f"    import socket\n    socket.create_connection(('127.0.0.1', {port}))\n    return a + b\n",
                 f"    import _socket\n    s = _socket.socket()\n    s.connect(('127.0.0.1', {port}))\n    return a + b\n",
                 f"    import os\n    os.system('exec 3<>/dev/tcp/127.0.0.1/{port}')\n    return a + b\n"]
        outs = run_many([check_program(hostile.PROMPT, t, hostile.TEST, hostile.ENTRY) for t in tries], timeout=2)
        assert [o.status for o in outs] == ["failed"] * 3
        with pytest.raises(TimeoutError):
            srv.accept()


def test_scored_by_a_code_suite_only_the_control_passes():
    """The path `eval` takes: CodeSuite.score on completion records → pass@1 and exec_* counts."""
    from suites import EvalContext
    from suites.humaneval import CodeSuite

    class Hostile(CodeSuite):
        name, version = "hostile", "1"

        def tasks(self):
            return [{"task_id": "add", "prompt": hostile.PROMPT, "test": hostile.TEST, "entry_point": hostile.ENTRY}]

    fast = [c for c in hostile.CASES if c.expect != "timeout" and "$" not in c.code]  # no slow or templated ones
    records = [{"task_id": "add", "sample": i, "completion": c.code} for i, c in enumerate(fast)]
    suite = Hostile(timeout_s=TIMEOUT, n_samples=len(records))
    metrics, scored = suite.score(records, EvalContext(progress=False))
    m = {x["name"]: x["value"] for x in metrics}
    assert m["exec_passed"] == 1 and m["pass@1"] == pytest.approx(1 / len(records))
    assert [s["passed"] for s in scored] == [not c.hostile and c.expect == "passed" for c in fast]
    assert os.getpid()  # and the harness is still here
