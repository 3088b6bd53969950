"""Self-describing, atomic training checkpoints: saving and verified loading.

A run directory's ``ckpt/`` holds ``step_0000200.pt`` (periodic) and ``final.pt`` (end of training),
each with a ``.json`` sidecar (step, final flag, sha256 of the ``.pt``, variant, scale) that can be
read without torch. A ``.pt`` holds everything needed to continue or to use the run without any other
file: weights, optimizer state, every RNG state (python, numpy, torch, CUDA, the model's activation
generator — per rank), the data position (the next step; batches are a function of it), the variant,
the model and train configs, the tokenizer and the git sha.

    >>> from harness.train.checkpoint import load
    >>> state = load("out/runs/small/stocha-p0.7-a0.05/s0/ckpt/final.pt")   # doctest: +SKIP
    >>> state["variant"]["name"], state["step"]                              # doctest: +SKIP
    ('stocha-p0.7-a0.05', 800)

Files are written to a temp file, fsync'ed and renamed (the sidecar before the rename), so a crash leaves
the old checkpoint or the new one, never a torn file or a checkpoint without its checksum; a kill -9 at
every step of a save (the ``ckpt.*`` fault points) is exercised by ``harness.verify.crash``. A file that
fails to load, or whose sha256 differs from its sidecar, raises :class:`CorruptCheckpointError`, and
nothing here ever deletes or overwrites it. Finding a run's checkpoints needs no torch
(``harness.train.checkpoint_files``); a finished run as a model for inference: ``harness.infer.load``.
"""

from __future__ import annotations

import json
import pathlib

import torch

from harness import faults
from harness.results import atomic_write, atomic_write_json
from harness.train.checkpoint_files import (
    FORMAT,
    STEP_RE,
    CorruptCheckpointError,
    ckpt_dir,
    periodic,
    sha256_of,
)


def save(run_dir, state: dict, *, final: bool, keep: int = 2) -> pathlib.Path:
    """Write ``state`` atomically as ``final.pt`` or ``step_<step>.pt`` (+ sidecar); prune old periodic
    checkpoints beyond the newest ``keep`` (0 keeps all)."""
    d = ckpt_dir(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / ("final.pt" if final else f"step_{state['step']:07d}.pt")
    side = path.with_suffix(".json")
    state = {"format": FORMAT, "final": final, **state}
    step = int(state["step"])

    def write(f):
        torch.save(state, f)
        faults.point("ckpt.write", step, file=f)

    def seal(tmp: pathlib.Path):
        # Order matters for kill -9 at any instant: the sidecar (checksum of the finished temp file) is
        # written *before* the .pt appears under its name, and an older .pt of that name goes first. So a
        # kill leaves the previous state, or a sidecar without its .pt (never picked; the next save replaces
        # it), never a .pt whose sidecar is missing or stale. A .pt without a sidecar is therefore damage.
        path.unlink(missing_ok=True)
        atomic_write_json(side, {
            "format": FORMAT, "file": path.name, "step": step, "final": final,
            "sha256": sha256_of(tmp), "variant": state["variant"]["name"], "scale": state["scale"],
            "seed": state["train_config"]["seed"], "git_sha": state.get("git_sha")})
        faults.point("ckpt.sidecar", step)

    atomic_write(path, write, before_rename=seal)
    faults.point("ckpt.renamed", step)
    if keep:
        for old in periodic(run_dir)[:-keep]:
            old.unlink(missing_ok=True)  # the .pt first: a kill in between leaves an orphan sidecar, not a .pt
            faults.point("ckpt.prune", step)
            old.with_suffix(".json").unlink(missing_ok=True)
    _sweep(d)
    return path


def _sweep(d: pathlib.Path) -> None:
    """Remove what killed saves left behind: temp files and sidecars whose .pt never appeared. Safe because
    only one process trains a run at a time (harness.paths.run_lock)."""
    for p in d.iterdir():
        if p.name.startswith(".") and p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)
        elif p.suffix == ".json" and (p.name == "final.json" or STEP_RE.match(p.stem + ".pt")) \
                and not p.with_suffix(".pt").exists():
            p.unlink(missing_ok=True)


def load(path, map_location="cpu") -> dict:
    """Load and verify one checkpoint. Raises CorruptCheckpointError with one clear line."""
    path = pathlib.Path(path)
    hint = "it was left untouched; move it away to resume from an earlier checkpoint, or --force to retrain"
    side = path.with_suffix(".json")
    if side.is_file():
        try:
            expected = json.loads(side.read_text()).get("sha256")
        except (json.JSONDecodeError, OSError) as e:
            raise CorruptCheckpointError(f"corrupt checkpoint sidecar {side}: {e}; {hint}") from None
        if expected and sha256_of(path) != expected:
            raise CorruptCheckpointError(f"corrupt checkpoint {path}: sha256 differs from {side.name}; {hint}")
    try:
        # weights_only: a checkpoint is data; loading one never runs code.
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torn zip, truncated file, foreign pickle: all the same to the user
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CorruptCheckpointError(f"corrupt checkpoint {path}: {msg}; {hint}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CorruptCheckpointError(f"incompatible checkpoint {path}: format {got!r}, expected {FORMAT!r}")
    missing = [k for k in ("step", "model", "variant", "scale", "model_config", "train_config") if k not in state]
    if missing:
        raise CorruptCheckpointError(f"incompatible checkpoint {path}: missing {', '.join(missing)}")
    return state
