"""Where runs, caches and locks live under ``out/`` (results: ``harness.results``), and the run lock.

    out/                      (HARNESS_OUT overrides; git-ignored)
      runs/<scale>/<model>/s<seed>/     config.json, metrics.jsonl, ckpt/
      results/<scale>/<model>/s<seed>/  <suite>.json, <suite>.samples.jsonl   (harness.results)
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
import os
import pathlib

from harness.results import out_root, seed_dir_name


def run_dir(scale: str, model: str, seed: int) -> pathlib.Path:
    return out_root() / "runs" / scale / model / seed_dir_name(seed)


def cache_dir() -> pathlib.Path:
    return out_root() / "cache"


def lock_path(kind: str, scale: str, model: str, seed: int, tag: str = "") -> pathlib.Path:
    """``out/locks/<kind>-<scale>-<model>-s<seed><tag>.lock``: outside the run's own folders, so a start
    refused for bad input leaves no run or result directory behind."""
    return out_root() / "locks" / f"{kind}-{scale}-{model}-s{seed}{tag}.lock"


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
