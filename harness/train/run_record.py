"""What a run directory records: ``config.json`` at launch and the state in every checkpoint, one list of
fields for ``train`` and ``finetune`` alike (each adds its own: FSDP for a trained run, the source
checkpoint and its measurements for a fine-tune).
"""

from __future__ import annotations

import sys

from harness.provenance import git_state
from harness.results import now_iso


def run_config(cfg, variant, *, scale: dict, num_params: int, world_size: int, device: str, threads: int,
               corpus, tokenizer, start: int, **extra) -> dict:
    """``config.json``: the settings, the variant and its schedule, the model's size, where it runs, the
    corpus, the tokenizer, the code's git sha and when (and from which step) this launch started."""
    T = cfg.steps
    return {"train_config": cfg.to_dict(), "variant": variant.to_dict(), "label": variant.label, "scale": scale,
            "num_params": num_params, "schedule": variant.schedule(T), "switch_step": variant.switch_step(T),
            "world_size": world_size, "device": device, "dtype": "bf16" if device.startswith("cuda") else "fp32",
            "threads": threads, "tokens_per_step": cfg.batch_size * cfg.seq_len, "corpus": corpus.info(),
            "tokenizer": tokenizer.to_dict(), **extra, "git_sha": git_state()[0], "started_at": now_iso(),
            "resumed_from_step": start or None, "argv": list(sys.argv)}


def checkpoint_state(cfg, variant, *, step: int, model: dict, optimizer: dict | None, rng: list, corpus,
                     scale: str, model_config: dict, tokenizer, world_size: int, wall_s: float,
                     log_acc: tuple[float, int], **extra) -> dict:
    """A checkpoint's state: weights, optimizer, every rank's RNG states, the data position (batches are a
    function of the step), and what identifies the run (``harness.train.checkpoint.load`` checks them)."""
    return {"step": step, "model": model, "optimizer": optimizer, "rng": rng,
            "data": {"next_step": step, "seed": cfg.seed, "corpus": corpus.digest},
            "variant": variant.to_dict(), "scale": scale, "model_config": model_config,
            "train_config": cfg.to_dict(), "tokenizer": tokenizer.to_dict(), **extra,
            "git_sha": git_state()[0], "world_size": world_size, "wall_s": wall_s, "log_acc": list(log_acc)}
