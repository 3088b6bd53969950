"""Self-describing, atomic training checkpoints, and loading a trained run for inference.

A run directory's ``ckpt/`` holds ``step_0000200.pt`` (periodic) and ``final.pt`` (end of training),
each with a ``.json`` sidecar (step, final flag, sha256 of the ``.pt``, variant, scale) that can be
read without torch. A ``.pt`` holds everything needed to continue or to use the run without any other
file: weights, optimizer state, every RNG state (python, numpy, torch, CUDA, the model's activation
generator — per rank), the data position (the next step; batches are a function of it), the variant,
the model and train configs, the tokenizer and the git sha.

    >>> from harness.checkpoint import load_for_inference
    >>> model, info = load_for_inference("out/runs/small/stocha-p0.7-a0.05/s0")   # doctest: +SKIP
    >>> info["variant"].name, info["step"], str(model.activation)                 # doctest: +SKIP
    ('stocha-p0.7-a0.05', 900, 'relu')

Files are written to a temp file, fsync'ed and renamed (the sidecar before the rename), so a crash leaves
the old checkpoint or the new one, never a torn file or a checkpoint without its checksum; a kill -9 at
every step of a save is exercised by ``harness.crashsafety``. A file that fails to load, or whose sha256
differs from its sidecar, raises :class:`CorruptCheckpointError`, and nothing here ever deletes or
overwrites it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re

import torch

from harness.crashsafety import crash_point
from harness.paths import atomic_write, atomic_write_json

FORMAT = "sparsebench.ckpt/1"
_STEP_RE = re.compile(r"^step_(\d+)\.pt$")


class CorruptCheckpointError(ValueError):
    """A checkpoint that cannot be read, fails its checksum, or does not match the run being resumed."""


def ckpt_dir(run_dir) -> pathlib.Path:
    return pathlib.Path(run_dir) / "ckpt"


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


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
        crash_point("ckpt.write", step, before=lambda: _tear(f))

    def seal(tmp: pathlib.Path):
        # Order matters for kill -9 at any instant: the sidecar (checksum of the finished temp file) is
        # written *before* the .pt appears under its name, and an older .pt of that name goes first. So a
        # kill leaves the previous state, or a sidecar without its .pt (never picked; the next save replaces
        # it), never a .pt whose sidecar is missing or stale. A .pt without a sidecar is therefore damage.
        path.unlink(missing_ok=True)
        atomic_write_json(side, {
            "format": FORMAT, "file": path.name, "step": step, "final": final,
            "sha256": _sha256(tmp), "variant": state["variant"]["name"], "scale": state["scale"],
            "seed": state["train_config"]["seed"], "git_sha": state.get("git_sha")})
        crash_point("ckpt.sidecar", step)

    atomic_write(path, write, before_rename=seal)
    crash_point("ckpt.renamed", step)
    if keep:
        for old in periodic(run_dir)[:-keep]:
            old.unlink(missing_ok=True)  # the .pt first: a kill in between leaves an orphan sidecar, not a .pt
            crash_point("ckpt.prune", step)
            old.with_suffix(".json").unlink(missing_ok=True)
    _sweep(d)
    return path


def _tear(f) -> None:
    """Crash injection: leave the temp file half written, as a kill in the middle of torch.save would."""
    f.flush()
    f.truncate(max(1, f.tell() // 2))
    f.flush()
    os.fsync(f.fileno())


def _sweep(d: pathlib.Path) -> None:
    """Remove what killed saves left behind: temp files and sidecars whose .pt never appeared. Safe because
    only one process trains a run at a time (harness.paths.run_lock)."""
    for p in d.iterdir():
        if p.name.startswith(".") and p.name.endswith(".tmp"):
            p.unlink(missing_ok=True)
        elif p.suffix == ".json" and (p.name == "final.json" or _STEP_RE.match(p.stem + ".pt")) \
                and not p.with_suffix(".pt").exists():
            p.unlink(missing_ok=True)


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
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _STEP_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def final_checkpoint(run_dir) -> pathlib.Path | None:
    """``ckpt/final.pt`` once training has finished (its sidecar is written before it appears), else None."""
    p = ckpt_dir(run_dir) / "final.pt"
    return p if p.is_file() and p.with_suffix(".json").is_file() else None


def latest_checkpoint(run_dir) -> pathlib.Path | None:
    """The checkpoint a resume continues from: the final one, else the newest periodic one."""
    return final_checkpoint(run_dir) or (periodic(run_dir) or [None])[-1]


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
        if expected and _sha256(path) != expected:
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


def _check_belongs(path, run_dir, scale: str, model: str, seed: int) -> None:
    """A checkpoint in the run folder of another (scale, model, seed) — copied or moved there — is refused:
    its results would be filed, and compared, under the wrong run. Folders outside out/runs are not checked."""
    from harness.paths import out_root
    from harness.paths import run_dir as run_dir_of

    rd, runs = pathlib.Path(run_dir).resolve(), (out_root() / "runs").resolve()
    if runs in rd.parents and rd != run_dir_of(scale, model, seed).resolve():
        raise CorruptCheckpointError(
            f"checkpoint {path} belongs to the run {scale}/{model}/s{seed}, not to {rd.relative_to(runs)}: it was "
            f"copied or moved there; it was left untouched: move it back, or retrain this run with --force")


def load_for_inference(run_dir, device="cpu"):
    """(model in eval mode with the variant's inference activation, info) from a finished run.

    info = dict(variant=Variant, scale, seed, step, checkpoint=str path, config=train config dict,
    tokenizer=dict, tok=the tokenizer itself, sha256=the checkpoint's, from its sidecar). Needs nothing but the run directory: the model config is in
    the checkpoint, and a run fine-tuned from a Hugging Face checkpoint keeps its tokenizer in
    ``<run>/tokenizer/`` (``harness.finetune``).
    """
    from harness.tokenizer import get_tokenizer
    from models.llama import ModelConfig, Transformer
    from models.registry import Variant

    path = final_checkpoint(run_dir)
    if path is None:
        raise FileNotFoundError(f"no final checkpoint in {run_dir}; train first: python -m harness train "
                                f"--model M --scale S --seed N")
    state = load(path)
    variant = Variant.from_dict(state["variant"])
    cfg = ModelConfig.from_dict(state["model_config"])
    seed = int(state["train_config"]["seed"])
    _check_belongs(path, run_dir, state["scale"], variant.name, seed)
    model = Transformer(cfg, variant.inference_act, seed=seed)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise CorruptCheckpointError(f"incompatible checkpoint {path}: {str(e).splitlines()[0]}") from None
    model.to(device).eval()
    info = {"variant": variant, "scale": state["scale"], "seed": seed, "step": int(state["step"]),
            "checkpoint": str(path), "config": dict(state["train_config"]),
            "tokenizer": dict(state.get("tokenizer") or {"name": "byte"}), "sha256": sidecar_sha256(path)}
    info["tok"] = get_tokenizer(info["tokenizer"], run_dir)
    return model, info
