"""Bad input through the command line: one clear line, exit 2, nothing existing overwritten — a test each.

A tiny run is trained and evaluated on 2 items once (module fixture, ~5 s); every case works on its own copy.
"""

import errno
import os
import pathlib
import subprocess
import sys

import pytest

from harness.__main__ import main
from harness.commands.cli import one_line as _one_line
from harness.verify import badinput

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return badinput.prepare(tmp_path_factory.mktemp("badinput") / "base", log=lambda *a: None)


@pytest.mark.parametrize("case", badinput.CASES, ids=[c.name for c in badinput.CASES])
def test_bad_input_is_one_clear_line_and_touches_nothing(case, base, tmp_path):
    r = badinput.run_case(case, base, tmp_path)
    assert r["rc"] == 2
    assert r["error"].startswith("error: ") and case.expect in r["error"], r["error"]
    assert r["ok"], r["why"]  # and no traceback, every existing file byte-identical, no temp file left


def test_the_matrix_covers_the_issue():
    names = " ".join(c.name for c in badinput.CASES)
    for words in ("unknown model", "unknown scale", "unknown suite", "p out of range", "alpha out of range",
                  "malformed name", "--limit 0", "--limit negative", "missing checkpoint", "corrupt checkpoint",
                  "another variant", "truncated samples", "unwritable output", "disk full"):
        assert words in names


def test_a_damaged_case_is_detected(base, tmp_path):
    """The checker itself: a command that changes an existing file, or exits 0, is not 'handled'."""
    case = badinput.Case("fine command", ("ls", "relu"), "anything")
    r = badinput.run_case(case, base, tmp_path)
    assert not r["ok"] and "exit status 0" in r["why"]


def test_system_errors_become_one_line():
    assert _one_line(OSError(errno.ENOSPC, "No space left on device", "/o/x.json")) == \
        "cannot write /o/x.json: No space left on device"
    assert _one_line(PermissionError(errno.EACCES, "Permission denied", "/o/runs")) == \
        "cannot use /o/runs: Permission denied"
    assert _one_line(OSError(errno.EFBIG, "File too large")) == \
        "cannot write output: File too large (disk full or file size limit)"
    assert _one_line(RuntimeError("first line\nsecond line")) == "first line"


def test_permission_denied_in_process(monkeypatch, capsys, tmp_path):
    """An EACCES anywhere under a command (here: creating the output folder) is one line, exit 2."""
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path / "out"))

    def refuse(self, *a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refuse)
    assert main(["train", "--model", "relu", "--scale", "tiny", "--steps", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot use ") and err.endswith(": Permission denied\n") and err.count("\n") == 1


def test_exit_status_and_stderr_of_a_real_process(tmp_path):
    r = subprocess.run([sys.executable, "-m", "harness", "train", "--model", "stocha-p1.5-a0.1", "--scale", "tiny"],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HARNESS_OUT": str(tmp_path)})
    assert r.returncode == 2 and r.stderr == "error: p must be in [0, 1] (probability of the SILU branch), got 1.5\n"
    assert not any(tmp_path.iterdir())  # refused before anything was written
