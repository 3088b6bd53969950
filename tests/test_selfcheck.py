"""`python -m harness selfcheck`: real hostile and bad-input parts (trimmed), the counts, the exit status."""

import json

import pytest

from harness.__main__ import main
from harness.sandbox import isolation
from harness.verify import badinput, hostile, selfcheck
from harness.verify import crash as crashsafety


def test_selfcheck_runs_its_parts_and_reports_counts(out_dir, monkeypatch, capsys):
    # The real parts on a few cases each (the full sets have their own tests): a control, a hostile program
    # per kind of outcome, two bad inputs.
    keep = {"control: right answer", "infinite loop", "posix.system('rm -rf decoy')", "os._exit(0) before the tests"}
    monkeypatch.setattr(hostile, "CASES", [c for c in hostile.CASES if c.name in keep])
    monkeypatch.setattr(badinput, "CASES", [c for c in badinput.CASES if c.name in ("unknown model", "--limit 0")])
    monkeypatch.setattr(crashsafety, "run_checks", lambda d, quick, log: [{"name": "k", "ok": True, "detail": ""}])
    assert main(["selfcheck", "--quick"]) == 0
    out = capsys.readouterr().out
    # each hostile program under each layer: the guard alone, and namespaces + guard where this machine has them
    layers, why = hostile.available_layers()
    per_layer = "  in-process guard alone: 3 tried, 3 contained\n" + (
        f"  namespaces ({isolation.probe().tool}) + guard: 3 tried, 3 contained\n" if not why else
        f"  namespaces: not run ({why})\n")
    assert ("hostile programs: 3 tried, 3 contained\n" + per_layer + "crash points: 1 tried, 1 recovered\n"
            "bad inputs: 2 tried, 2 handled\n") in out
    report = json.loads((out_dir / "reports" / "selfcheck.json").read_text())
    assert report["ok"] and report["quick"] and report["summary"][0] == "hostile programs: 3 tried, 3 contained"
    rows = {r["name"]: r for r in report["parts"]["hostile"]["rows"]}
    assert rows["infinite loop"]["status"] == "timeout" and rows["os._exit(0) before the tests"]["status"] == "crashed"
    assert "control: right answer" not in rows  # controls are not hostile programs (unless they fail)


@pytest.mark.parametrize("broken", ["hostile", "crash", "bad", "crash-empty"])
def test_selfcheck_exits_1_unless_everything_holds(broken, out_dir, monkeypatch, capsys):
    def rows(part):
        return [{"name": "a", "hostile": True, "ok": True}, {"name": "b", "hostile": True, "ok": broken != part}]

    monkeypatch.setattr(hostile, "run", lambda d, log: rows("hostile"))
    monkeypatch.setattr(badinput, "run", lambda d, log: rows("bad"))
    monkeypatch.setattr(crashsafety, "run_checks", lambda d, quick, log: [] if broken == "crash-empty" else rows("crash"))
    assert main(["selfcheck", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"]
    if broken == "crash-empty":  # a part that tried nothing has not shown anything
        assert "crash points: 0 tried, 0 recovered" in report["summary"]
    else:
        label, verb = selfcheck.PARTS[broken]
        assert f"{label}: 2 tried, 1 {verb}" in report["summary"]


def test_selfcheck_all_good_exits_0_and_bad_parts_are_refused(out_dir, monkeypatch, capsys):
    monkeypatch.setattr(hostile, "run", lambda d, log: [{"name": "a", "hostile": True, "ok": True}])
    assert main(["selfcheck", "--only", "hostile"]) == 0
    assert main(["selfcheck", "--only", "hostile,nope"]) == 2
    assert "unknown selfcheck part(s) nope" in capsys.readouterr().err


def test_selfcheck_without_user_namespaces_says_so_and_passes_on_the_guard(out_dir, monkeypatch, capsys):
    """A machine whose kernel refuses user namespaces (simulated): the guard's counts, one line on why the
    namespaces did not run, exit 0 (auto runs the guard alone there; that is not a failure of containment)."""
    keep = {"control: right answer", "posix.system('rm -rf decoy')", "signal the harness (SIGKILL to a stand-in outside)"}
    monkeypatch.setattr(hostile, "CASES", [c for c in hostile.CASES if c.name in keep])
    monkeypatch.setenv(isolation.NO_USERNS_ENV, "1")
    assert main(["selfcheck", "--only", "hostile"]) == 0
    out = capsys.readouterr().out
    assert ("hostile programs: 2 tried, 2 contained\n  in-process guard alone: 2 tried, 2 contained\n"
            "  namespaces: not run (the kernel refuses user namespaces (SPARSEBENCH_NO_USERNS=1: a simulation))\n") in out
    report = json.loads((out_dir / "reports" / "selfcheck.json").read_text())
    rows = report["parts"]["hostile"]["rows"]
    assert report["ok"] and all(list(r["layers"]) == ["guard"] and r["stopped_by"] == ["guard"] for r in rows)
