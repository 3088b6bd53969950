"""Where runs and results live, and how they are written (atomically: temp file + rename).

    out/                      (HARNESS_OUT overrides; git-ignored)
      runs/<scale>/<model>/s<seed>/     config.json, metrics.jsonl, ckpt/
      results/<scale>/<model>/s<seed>/  <suite>.json, <suite>.samples.jsonl
      reports/                          tables and figures
      cache/                            generated corpora, token files
      locks/                            one lock file per run being trained or evaluated (run_lock)

Two processes never work on one run at once: ``train`` and ``eval`` hold :func:`run_lock` on the run's
lock file (:func:`lock_path`), and a second start of the same run refuses at once with one line naming the holder's
pid (it does not wait: a benchmark that silently queues behind an hours-long run looks hung).
Everything two *different* runs share (the corpus cache, generated lm-eval task files, other runs'
results read for the table) is written atomically with identical content, so they need no lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import tempfile


def out_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("HARNESS_OUT", "out")).resolve()


def _seed(seed: int) -> str:
    if seed < 0:  # numpy's seeding and the folder names need a non-negative seed
        raise ValueError(f"--seed must be a non-negative integer, got {seed}")
    return f"s{seed}"


def run_dir(scale: str, model: str, seed: int) -> pathlib.Path:
    return out_root() / "runs" / scale / model / _seed(seed)


def results_dir(scale: str, model: str, seed: int) -> pathlib.Path:
    return out_root() / "results" / scale / model / _seed(seed)


def cache_dir() -> pathlib.Path:
    return out_root() / "cache"


def lock_path(kind: str, scale: str, model: str, seed: int, tag: str = "") -> pathlib.Path:
    """``out/locks/<kind>-<scale>-<model>-s<seed><tag>.lock``: outside the run's own folders, so a start
    refused for bad input leaves no run or result directory behind."""
    return out_root() / "locks" / f"{kind}-{scale}-{model}-s{seed}{tag}.lock"


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


@contextlib.contextmanager
def run_lock(path: str | os.PathLike, what: str):
    """Hold an exclusive ``fcntl.flock`` on ``path`` for the block, or raise RuntimeError at once naming the
    process that holds it. The kernel drops the lock when its holder dies (kill -9 included), so a stale
    lock file never blocks anything; the file itself stays (deleting it would race with a new holder)."""
    import fcntl

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip()
            raise RuntimeError(f"{what} is already running in {'pid ' + pid if pid.isdigit() else 'another process'} "
                               f"(lock {path}); wait for it to finish or stop that process") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        yield path
    finally:
        f.close()  # closing the descriptor releases the lock
