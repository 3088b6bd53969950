"""A run's checkpoint files, found and identified without torch: which exist, which one a resume or an
evaluation takes, and the checksum their sidecars record.

``ckpt/`` holds ``step_0000200.pt`` (periodic) and ``final.pt`` (end of training), each with a ``.json``
sidecar (step, final flag, sha256 of the ``.pt``, variant, scale). Saving and loading: ``harness.train.checkpoint``.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re

FORMAT = "sparsebench.ckpt/1"
STEP_RE = re.compile(r"^step_(\d+)\.pt$")


class CorruptCheckpointError(ValueError):
    """A checkpoint that cannot be read, fails its checksum, or does not match the run being resumed."""


def ckpt_dir(run_dir) -> pathlib.Path:
    return pathlib.Path(run_dir) / "ckpt"


def sha256_of(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def sidecar_sha256(path) -> str | None:
    """The sha256 a checkpoint's sidecar records (None if unreadable): identifies the weights, so a run
    retrained with ``--force`` to the same step is recognised as another model by finished results."""
    side = pathlib.Path(path).with_suffix(".json") if path else None
    try:
        return json.loads(side.read_text()).get("sha256") if side else None
    except (OSError, ValueError):
        return None


def periodic(run_dir) -> list[pathlib.Path]:
    """Periodic checkpoints, oldest first."""
    d = ckpt_dir(run_dir)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := STEP_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def final_checkpoint(run_dir) -> pathlib.Path | None:
    """``ckpt/final.pt`` once training has finished (its sidecar is written before it appears), else None."""
    p = ckpt_dir(run_dir) / "final.pt"
    return p if p.is_file() and p.with_suffix(".json").is_file() else None


def latest_checkpoint(run_dir) -> pathlib.Path | None:
    """The checkpoint a resume continues from: the final one, else the newest periodic one."""
    return final_checkpoint(run_dir) or (periodic(run_dir) or [None])[-1]
