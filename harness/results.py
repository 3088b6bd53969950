"""Result files: where they live, their schema, and how everything under ``out/`` is written.

Standard library only, and importing nothing else of the harness: ``reports/`` reads results through this
module alone (it never loads torch, the models or the harness library).

    out/                      (HARNESS_OUT overrides; git-ignored)
      results/<scale>/<model>/s<seed>/  <suite>.json, <suite>.samples.jsonl

One JSON per (run, suite); a profile or a benchmark is a result too:

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

``n < n_total`` marks a ``--limit`` run: :func:`is_complete` never takes it for a full one. Every file is
written atomically (:func:`atomic_write`: temp file + rename), so a reader sees the old content or the new.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import pathlib
import re
import tempfile

SCHEMA = "sparsebench.result/1"
KINDS = ("eval", "train", "profile", "bench", "diversity", "predictor")


# ---- where results live, and atomic writes ------------------------------------------------------
def out_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("HARNESS_OUT", "out")).resolve()


def seed_dir_name(seed: int) -> str:
    if seed < 0:  # numpy's seeding and the folder names need a non-negative seed
        raise ValueError(f"--seed must be a non-negative integer, got {seed}")
    return f"s{seed}"


def results_dir(scale: str, model: str, seed: int) -> pathlib.Path:
    return out_root() / "results" / scale / model / seed_dir_name(seed)


def atomic_write(path: str | os.PathLike, write, before_rename=None) -> None:
    """Call ``write(f)`` on a temp file beside ``path``, fsync, then rename it over ``path``: readers see
    either the old content or the new, never a torn file. Streams, so large checkpoints need no copy.

    ``before_rename(tmp_path)`` runs once the temp file is complete and synced (a checkpoint writes its
    checksum sidecar there, so a checkpoint never exists without it). A killed writer leaves at most a
    ``.<name>.*.tmp`` file, which nothing reads."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if before_rename is not None:
            before_rename(pathlib.Path(tmp))
        os.replace(tmp, path)
    except BaseException as e:
        pathlib.Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno and e.filename is None:  # a full disk: say which file it refused
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    _fsync_dir(path.parent)


def _fsync_dir(d: pathlib.Path) -> None:
    """Make a rename durable (a power cut, unlike a kill, can otherwise lose it); best effort."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


# ---- the schema -----------------------------------------------------------------------------------
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


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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


def act_tag(act: str | None) -> str:
    """The file-name tag of a result computed with another activation than the recipe's: ``.act-<act>``
    with anything but letters, digits, ``.``, ``=`` and ``-`` as ``_`` (``stocha:p=0.7`` →
    ``.act-stocha_p=0.7``); empty for the recipe's own."""
    return "" if act is None else ".act-" + re.sub(r"[^A-Za-z0-9.=-]+", "_", act)


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


def finished_on(path: str | os.PathLike, *, version: str, params: dict, sha256: str | None = None,
                partial_ok: bool = False, **run) -> bool:
    """The skip-if-done check: a finished result at ``path`` of this suite ``version`` and ``params``,
    computed on the checkpoint whose sidecar sha256 is ``sha256``, with these ``run`` fields (``step``,
    ``eval_act``, ...). It must be complete unless ``partial_ok`` (a ``--limit``ed run redone as one)."""
    res = finished_result(path)
    if res is None or res.get("status") != "ok" or not same_checkpoint(res, sha256):
        return False
    if res["suite"].get("version") != version or res["suite"].get("params") != params:
        return False
    if any(res["run"].get(k) != v for k, v in run.items()):
        return False
    return partial_ok or is_complete(res)


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
