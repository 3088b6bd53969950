"""A finished run as a model for inference: its final checkpoint, verified, with the recipe's inference
activation and the run's own tokenizer.

    >>> from harness.infer.load import load_for_inference
    >>> model, info = load_for_inference("out/runs/small/stocha-p0.7-a0.05/s0")   # doctest: +SKIP
    >>> info["variant"].name, info["step"], str(model.activation)                 # doctest: +SKIP
    ('stocha-p0.7-a0.05', 800, 'relu')
"""

from __future__ import annotations

import pathlib

from harness.data.tokenizer import get_tokenizer
from harness.paths import run_dir as run_dir_of
from harness.results import out_root
from harness.train.checkpoint import load
from harness.train.checkpoint_files import CorruptCheckpointError, final_checkpoint, sidecar_sha256
from models.config import ModelConfig
from models.llama import Transformer
from models.registry import Variant


def _check_belongs(path, run_dir, scale: str, model: str, seed: int) -> None:
    """A checkpoint in the run folder of another (scale, model, seed) — copied or moved there — is refused:
    its results would be filed, and compared, under the wrong run. Folders outside out/runs are not checked."""
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
    ``<run>/tokenizer/`` (``harness.interop.finetune``).
    """
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
