"""Starting or resuming a run (``train`` and ``finetune`` alike): seeds, RNG states, the checkpoint to
continue from and the checks that it continues the same run.

Checkpoints hold every RNG state (python, numpy, torch, CUDA and the model's activation generator, per
rank), so a resumed run draws exactly what the uninterrupted one would have.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from harness.train import checkpoint, dist
from harness.train.checkpoint_files import CorruptCheckpointError, latest_checkpoint
from harness.train.config import FREE_KEYS

_ONE_PROCESS = dist.DistEnv()  # rank 0 of 1: the default without torchrun


def rng_state(model) -> dict:
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    st = {"python": random.getstate(), "numpy": (kind, torch.from_numpy(key.astype(np.int64)), pos,
                                                  has_gauss, gauss),
          "torch": torch.get_rng_state(), "act": model.act_generator.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state()
    return st


def set_rng_state(model, st: dict) -> None:
    random.setstate(st["python"])
    kind, key, pos, has_gauss, gauss = st["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(st["torch"])
    model.act_generator.set_state(st["act"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state(st["cuda"])


def resume_state(rd, resume: bool, force: bool):
    """(path, state) of the newest checkpoint to continue from, or (None, None) for a fresh start; an
    unfinished run is continued only when asked (``--resume``) and ignored with ``--force``."""
    latest = None if force else latest_checkpoint(rd)
    if latest is not None and not resume:
        raise RuntimeError(f"{rd} has a checkpoint ({latest.name}); pass --resume to continue it "
                           f"or --force to start over")
    return latest, (checkpoint.load(latest) if latest is not None else None)


def check_compatible(state: dict, cfg, path, model_config: dict, more: list[str] = ()) -> None:
    """A resume must continue the same run: the same settings (all but ``FREE_KEYS``), the same model
    config, and none of the caller's other differences ``more`` (world size, source files)."""
    old = state["train_config"]
    diffs = [f"{k}: {old.get(k)!r} in the checkpoint, {v!r} now" for k, v in cfg.to_dict().items()
             if k not in FREE_KEYS and old.get(k) != v]
    if state["model_config"] != model_config:
        diffs.append("the model config differs from the checkpoint's")
    diffs += list(more)
    if diffs:
        raise CorruptCheckpointError(
            f"incompatible checkpoint {path}: {'; '.join(diffs[:3])} (resume with the same settings, "
            f"or pass --force to start over)")


def check_same_corpus(state: dict | None, corpus, path) -> None:
    """The corpus tokens must be those the checkpoint was trained on, or a resume would not continue the
    same run."""
    if state is not None and state["data"]["corpus"] != corpus.digest:
        raise CorruptCheckpointError(
            f"incompatible checkpoint {path}: the corpus tokens changed since it was written (new Python "
            f"stdlib, edited harness/data/synth.py, or other --data); resuming would not continue the same run "
            f"(pass --force to start over)")


def seed_or_resume(raw, model, opt, seed: int, state: dict | None, env: dist.DistEnv = _ONE_PROCESS,
                   fsdp: bool = False) -> tuple[float, tuple[float, int]]:
    """Seed python, numpy, torch and the activation draws with ``seed``; then, when resuming, load the
    checkpoint ``state``'s weights, optimizer and this rank's RNG states. Returns (wall0, log_acc), where
    ``harness.train.loop.run_steps`` continues from."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    raw.seed_activation(seed)
    if state is None:
        return 0.0, (0.0, 0)
    dist.load_full_state(model, opt, state["model"], state["optimizer"], fsdp)
    set_rng_state(raw, state["rng"][env.rank])
    return state["wall_s"], tuple(state["log_acc"])
