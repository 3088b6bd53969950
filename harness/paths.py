"""Where runs and results live, and how they are written (atomically: temp file + rename).

    out/                      (HARNESS_OUT overrides; git-ignored)
      runs/<scale>/<model>/s<seed>/     config.json, metrics.jsonl, ckpt/
      results/<scale>/<model>/s<seed>/  <suite>.json, <suite>.samples.jsonl
      reports/                          tables and figures
      cache/                            generated corpora, token files
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile


def out_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("HARNESS_OUT", "out")).resolve()


def run_dir(scale: str, model: str, seed: int) -> pathlib.Path:
    return out_root() / "runs" / scale / model / f"s{seed}"


def results_dir(scale: str, model: str, seed: int) -> pathlib.Path:
    return out_root() / "results" / scale / model / f"s{seed}"


def cache_dir() -> pathlib.Path:
    return out_root() / "cache"


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(f)`` on a temp file beside ``path``, fsync, then rename it over ``path``: readers see
    either the old content or the new, never a torn file. Streams, so large checkpoints need no copy."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
