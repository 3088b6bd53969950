"""Hostile completions through the code suites' scoring path: each is contained, none passes.

One run of every case of harness.verify.hostile (in parallel, ~10 s), then a test per case with its known answer.
"""

import os
import pathlib
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


LAYERS, NO_NAMESPACES = hostile.available_layers()
ALONE = [c for c in hostile.CASES if c.alone is not None]


@pytest.mark.parametrize("case", hostile.CASES, ids=[c.name for c in hostile.CASES])
def test_inside_namespaces_with_the_guard_the_verdict_is_the_same(case, outcome):
    if "namespaces" not in LAYERS:
        pytest.skip(f"no namespaces here: {NO_NAMESPACES}")
    r = outcome["rows"][case.name]["layers"]["namespaces"]
    assert r["status"] == case.expect, r
    assert (case.ns_detail if case.ns_detail is not None else case.detail) in r["detail"], r
    assert r["ok"], r["why"]


@pytest.mark.parametrize("case", ALONE, ids=[c.name for c in ALONE])
def test_what_only_an_os_boundary_stops_the_namespaces_stop_alone(case, outcome):
    if "namespaces alone" not in LAYERS:
        pytest.skip(f"no namespaces here: {NO_NAMESPACES}")
    row = outcome["rows"][case.name]
    r = row["layers"]["namespaces alone"]
    status, frag = case.alone
    assert r["status"] == status and any(f in r["detail"] for f in ((frag,) if isinstance(frag, str) else frag)), r
    assert r["ok"], r["why"]  # and nothing outside was harmed: decoy, listener, secret, stand-in, site-packages
    assert row["stopped_by"] == ["guard", "namespaces"] and row["layers"]["guard"]["ok"]


def test_without_either_layer_those_programs_do_harm(tmp_path, monkeypatch):
    """The control: the same programs with the guard off and no namespaces (never possible through
    run_program) are caught doing what they try: the checks above can fail."""
    from harness.sandbox import execute

    def unprotected(jobs, timeout, workers, isolation, guard):
        return [execute._run(j, timeout=timeout, memory_mb=1024, ns=None, guard=False) for j in jobs]

    monkeypatch.setattr(hostile, "run_many", unprotected)
    rows = {r["name"]: r for r in hostile.run(tmp_path, timeout=TIMEOUT, log=lambda *a: None,
                                              layers=["namespaces alone"]) if r["name"] in {c.name for c in ALONE}}
    assert len(rows) == len(ALONE) == 5 and not any(r["ok"] for r in rows.values())
    why = rows[ALONE[0].name]["why"]
    for harm in (".pth was planted", "connection(s) reached 127.0.0.1", "stand-in for the harness was killed",
                 "process(es) left behind"):
        assert harm in why, why
    assert rows["read a secret file (like /etc/shadow)"]["status"] == "passed"  # it read the secret
    assert not list(hostile.sysconfig.get_paths()["purelib"] and
                    pathlib.Path(hostile.sysconfig.get_paths()["purelib"]).glob("zz-sparsebench-hostile-*.pth"))


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
