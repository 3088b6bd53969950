"""Bad input through the command line: each case must end with one clear line, exit 2, and touch nothing.

    python -m harness selfcheck                      # runs these among its checks
    python -c "import pathlib, tempfile; from harness.verify.badinput import run; run(pathlib.Path(tempfile.mkdtemp()))"

:func:`run` trains a tiny model once and evaluates it on two items (about 15 s on 2 CPU cores), then runs
every case of :data:`CASES` on its own copy of that output folder, in this process (the command line's
own parser and error handling, ``harness.commands.cli``, over the commands the cases use) or, where the
exit status and resource limits matter, as a separate
``python -m harness`` with ``RLIMIT_FSIZE`` lowered so that writes fail with ``EFBIG``, as on a full disk.
A case is *handled* when the command exits 2, stderr ends with one line ``error: ...`` that contains the
expected words (and holds no traceback), and every file that existed before is still there, byte for byte,
with no temp file left beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from harness.commands import cli, evaluate, ls, train

TRAIN = ["--scale", "tiny", "--steps", "12", "--batch-size", "4", "--seq-len", "32", "--warmup", "2",
         "--eval-every", "6", "--eval-seqs", "2", "--ckpt-every", "6", "--log-every", "3",
         "--mix", "synth_code=0.5,synth_reason=0.5", "--synth-docs", "300", "--no-progress"]
EVAL = ["eval", "--model", "relu", "--scale", "tiny", "--suites", "syn_code", "--limit", "2"]
COMMANDS = {"ls": ls, "train": train, "eval": evaluate}  # what the cases run, as python -m harness runs them
RUN = pathlib.Path("runs/tiny/relu/s0")
SAMPLES = pathlib.Path("results/tiny/relu/s0/syn_code.samples.jsonl")
# A separate process whose writes fail past a few bytes, as on a full disk (SIGXFSZ ignored → EFBIG).
_DISK_FULL = ("import resource, runpy, signal, sys\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
              "sys.argv = ['harness'] + sys.argv[1:]\nrunpy.run_module('harness', run_name='__main__')\n")


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple
    expect: str  # words the error line must contain
    setup: str = ""  # damage done to the case's copy of the output folder first (see _setup)
    disk_full: bool = False  # run as a separate process with writes failing


CASES = [
    Case("unknown model", ("eval", "--model", "sigmoid", "--scale", "tiny", "--no-train"), "unknown model 'sigmoid'"),
    Case("unknown scale", ("train", "--model", "relu", "--scale", "huge"), "unknown scale 'huge'"),
    Case("unknown suite", ("eval", "--model", "relu", "--scale", "tiny", "--suites", "nope"), "unknown suite 'nope'"),
    Case("p out of range", ("train", "--model", "stocha-p1.5-a0.05", "--scale", "tiny"), "p must be in [0, 1]"),
    Case("alpha out of range", ("train", "--model", "swi-ft-a1.5", "--scale", "tiny"), "alpha must be in [0, 1)"),
    Case("alpha = 1", ("train", "--model", "stocha-p0.5-a1", "--scale", "tiny"), "alpha must be in [0, 1)"),
    Case("malformed name: no p", ("train", "--model", "stocha-p-a0.05", "--scale", "tiny"), "valid forms"),
    Case("malformed name: suffix order", ("train", "--model", "stocha-p0.5-a0.05-tok-full", "--scale", "tiny"),
         "valid forms"),
    Case("malformed name: a path", ("eval", "--model", "../relu", "--scale", "tiny"), "unknown model '../relu'"),
    Case("malformed scale: a path", ("eval", "--model", "relu", "--scale", "../tiny"), "unknown scale '../tiny'"),
    Case("malformed name in ls", ("ls", "stocha-p0.5"), "unknown model 'stocha-p0.5'"),
    Case("--limit 0", (*EVAL, "--limit", "0"), "--limit must be >= 1, got 0"),
    Case("--limit negative", (*EVAL, "--limit", "-3"), "--limit must be >= 1, got -3"),
    Case("--n-samples 0", (*EVAL, "--n-samples", "0"), "--n-samples must be >= 1, got 0"),
    Case("--items 0", (*EVAL, "--items", "0"), "--items must be >= 1, got 0"),
    Case("--steps 0", ("train", "--model", "relu", "--scale", "tiny", "--steps", "0"), "steps must be a positive"),
    Case("--seed negative", ("train", "--model", "relu", "--scale", "tiny", "--seed", "-1"),
         "--seed must be a non-negative integer"),
    Case("unknown --eval-act", (*EVAL, "--eval-act", "bogus"), "unknown activation 'bogus'"),
    Case("missing checkpoint", ("eval", "--model", "silu", "--scale", "tiny", "--suites", "syn_code", "--no-train"),
         "train it first"),
    Case("corrupt checkpoint (eval)", EVAL, "corrupt checkpoint", setup="truncate_final"),
    Case("corrupt checkpoint (resume)", ("train", "--model", "relu", *TRAIN, "--resume"), "sha256 differs",
         setup="flip_periodic"),
    Case("checkpoint of another variant (eval)", ("eval", "--model", "silu", "--scale", "tiny", "--suites",
                                                  "syn_code", "--limit", "2"), "belongs to the run tiny/relu/s0",
         setup="relu_as_silu"),
    Case("checkpoint of another variant (resume)", ("train", "--model", "silu", *TRAIN, "--resume"),
         "'relu' in the checkpoint, 'silu' now", setup="relu_as_silu_partial"),
    Case("truncated samples file (--rescore)", (*EVAL, "--rescore"), "is damaged", setup="truncate_samples"),
    Case("unwritable output folder", ("train", "--model", "relu", *TRAIN), "Not a directory", setup="out_under_file"),
    Case("disk full while evaluating", (*EVAL, "--rescore"), "File too large", disk_full=True),
    Case("disk full while training", ("train", "--model", "relu", *TRAIN, "--resume"), "File too large",
         setup="partial", disk_full=True),
]
if hasattr(os, "geteuid") and os.geteuid() != 0:  # root writes through a 0o500 folder: nothing to test there
    CASES.append(Case("read-only output folder", ("train", "--model", "silu", *TRAIN), "Permission denied",
                      setup="read_only"))


@contextlib.contextmanager
def _env(**kw):
    old = {k: os.environ.get(k) for k in kw}
    os.environ.update(kw)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cli(argv, out: pathlib.Path) -> tuple[int, str]:
    """Run ``python -m harness ARGV`` in this process with HARNESS_OUT=out: (exit status, stderr)."""
    err = io.StringIO()
    with _env(HARNESS_OUT=str(out)), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = cli.main(list(argv), COMMANDS)
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 1
    return rc, err.getvalue()


def prepare(base: pathlib.Path, log=print) -> pathlib.Path:
    """A tiny finished run (relu, 12 steps) evaluated on 2 syn_code items: the folder every case copies."""
    if not (base / SAMPLES).exists():
        t0 = time.perf_counter()
        for argv in (["train", "--model", "relu", *TRAIN], [*EVAL, "--no-train"]):
            rc, err = _cli(argv, base)
            if rc != 0:
                raise RuntimeError(f"bad-input fixture failed: {' '.join(argv)}: {err.strip()[-300:]}")
        log(f"bad inputs: trained and evaluated a tiny run in {time.perf_counter() - t0:.1f} s")
    return base


def _setup(kind: str, out: pathlib.Path) -> pathlib.Path:
    """Damage the case's copy of the output folder; returns the HARNESS_OUT the command gets."""
    ckpt = out / RUN / "ckpt"
    if kind == "truncate_final":
        p = ckpt / "final.pt"
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif kind in ("partial", "flip_periodic", "relu_as_silu_partial"):
        for p in (ckpt / "final.pt", ckpt / "final.json"):
            p.unlink()
        if kind == "flip_periodic":
            p = ckpt / "step_0000006.pt"
            raw = bytearray(p.read_bytes())
            raw[1000] ^= 0xFF
            p.write_bytes(bytes(raw))
    if kind.startswith("relu_as_silu"):
        shutil.copytree(out / RUN, out / "runs/tiny/silu/s0")
    elif kind == "truncate_samples":
        p = out / SAMPLES
        raw = p.read_bytes()
        p.write_bytes(raw[: len(raw) - 25])  # the last record cut mid-line
    elif kind == "out_under_file":
        (out / "a-file").write_text("not a folder\n")
        return out / "a-file" / "out"
    elif kind == "read_only":
        out.chmod(0o500)
    return out


def _files(d: pathlib.Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and not p.is_symlink()}


def run_case(case: Case, base: pathlib.Path, workdir: pathlib.Path) -> dict:
    """One case on a fresh copy of ``base``: {name, ok, rc, error, why}."""
    out = workdir / re.sub(r"[^A-Za-z0-9]+", "-", case.name).strip("-")
    if out.exists():
        out.chmod(0o755)
        shutil.rmtree(out)
    shutil.copytree(base, out, ignore=shutil.ignore_patterns("locks"))
    harness_out = _setup(case.setup, out)
    before = _files(out)
    try:
        if case.disk_full:
            env = {**os.environ, "HARNESS_OUT": str(harness_out), "TQDM_DISABLE": "1"}
            r = subprocess.run([sys.executable, "-c", _DISK_FULL, *case.argv], capture_output=True, text=True,
                               env=env, timeout=600)
            rc, err = r.returncode, r.stderr
        else:
            rc, err = _cli(case.argv, harness_out)
    finally:
        out.chmod(0o755)
    after = _files(out)
    lines = [ln for ln in re.split(r"[\r\n]+", err) if ln.strip()]
    last = lines[-1] if lines else ""
    why = []
    if rc != 2:
        why.append(f"exit status {rc}, expected 2")
    if not last.startswith("error: ") or sum(ln.startswith("error: ") for ln in lines) != 1:
        why.append("stderr does not end with one 'error: ...' line")
    if case.expect not in last:
        why.append(f"the error line lacks {case.expect!r}")
    if "Traceback" in err:
        why.append("a traceback")
    changed = [k for k, v in before.items() if after.get(k) != v]
    if changed:
        why.append(f"existing files changed: {', '.join(changed[:3])}")
    temps = [k for k in after if k.rsplit("/", 1)[-1].startswith(".") and k.endswith(".tmp")]
    if temps:
        why.append(f"temp files left: {', '.join(temps[:3])}")
    return {"name": case.name, "ok": not why, "rc": rc, "error": last[:300], "why": "; ".join(why)}


def run(workdir: pathlib.Path, log=print) -> list[dict]:
    """Every case of :data:`CASES`; one dict per case (see :func:`run_case`)."""
    base = prepare(workdir / "base", log)
    t0 = time.perf_counter()
    rows = [run_case(c, base, workdir / "cases") for c in CASES]
    log(f"bad inputs: {len(rows)} tried, {sum(r['ok'] for r in rows)} handled ({time.perf_counter() - t0:.1f} s)")
    for r in rows:
        if not r["ok"]:
            log(f"  NOT handled: {r['name']}: {r['why']} [{r['error']}]")
    return rows
