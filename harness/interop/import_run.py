"""Register a pretrained checkpoint as it is — a transformers Llama directory or a llama.cpp ``.gguf`` file — as
the harness run ``hf-NAME/<its activation>/s0``: step 0, no training.

    >>> from harness.interop.import_run import import_checkpoint
    >>> rd = import_checkpoint("SmolLM2-135M-Instruct.Q4_1.gguf", name="smollm2-135m-instruct")  # doctest: +SKIP
    >>> rd                                                                                       # doctest: +SKIP
    PosixPath('out/runs/hf-smollm2-135m-instruct/silu/s0')

(``python -m harness import`` is the command line: ``harness.commands.import_checkpoint``.)

The run directory is an ordinary one: ``ckpt/final.pt`` (our checkpoint format, fp32 weights converted by
``harness.interop.hf``, step 0, the variant named by the checkpoint's ``hidden_act``: silu, relu or gelu),
``tokenizer/`` (the checkpoint's own, with its chat template) and ``config.json``; so ``eval``, ``profile``,
``diversity``, ``export``, ``bench decode`` and the reports work on it like on a trained run, and
``eval --eval-act relu`` measures zero-shot relufication (RELU swapped in, untrained).

The ``train`` result it writes (``out/results/hf-NAME/<act>/s0/train.json``) holds what the checkpoint is
before any fine-tuning, on ``eval_seqs`` held-out windows of the harness corpus in its own tokens: the loss
and bits per byte with its own activation, and with RELU swapped in, plus FFN sparsity under RELU.

Importing the same file again does nothing; another checkpoint under the same name is refused (``--name``
keeps both, ``--force`` replaces it). Everything is checked before anything is written.
"""

from __future__ import annotations

import json
import math
import pathlib
import re
import shutil
import sys
import time

import torch

from harness.data.tokenizer import HF_TOKENIZER_DIR
from harness.paths import lock_path, run_dir, run_lock
from harness.provenance import git_state, provenance
from harness.results import (
    atomic_write_json,
    make_result,
    metric,
    now_iso,
    result_path,
    sha256_text,
    write_result,
)
from harness.train import checkpoint
from harness.train.checkpoint_files import final_checkpoint
from models.registry import get_variant, is_imported_scale

VERSION = "1"
ZERO_SHOT_ACT = "relu"  # what "zero-shot relufication" swaps in


def default_name(path) -> str:
    """Run name of a checkpoint: a directory's name, a file's stem, lower-cased ([a-z0-9._-]); Hub cache
    snapshots by their repository."""
    p = pathlib.Path(path).expanduser().resolve()
    name = p.stem if p.is_file() else p.name
    if p.parent.name == "snapshots" and p.parent.parent.name.startswith("models--"):
        name = p.parent.parent.name[len("models--"):]
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "model"


def scale_for(path, name: str | None) -> str:
    scale = "hf-" + (name or default_name(path))
    if not is_imported_scale(scale):
        raise ValueError(f"--name {name!r}: use lower-case letters, digits, '.', '_' and '-'")
    return scale


def import_checkpoint(source, name: str | None = None, *, force: bool = False, eval_seqs: int = 8,
                      seq_len: int = 256, log=print) -> pathlib.Path:
    """Import ``source`` as the run ``hf-NAME/<act>/s0`` (see the module docstring); returns its directory."""
    from harness.interop.hf import read_hf_config

    path = pathlib.Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: pass a transformers checkpoint directory or a .gguf file")
    path = path.resolve()
    if eval_seqs < 1 or seq_len < 2:
        raise ValueError(f"need eval_seqs >= 1 and seq_len >= 2, got {eval_seqs} and {seq_len}")
    scale = scale_for(path, name)
    _, act, _ = read_hf_config(path)  # refuses what cannot be imported before anything is read or written
    variant = get_variant(act)
    rd = run_dir(scale, variant.name, 0)
    with run_lock(lock_path("train", scale, variant.name, 0), f"import into {scale}/{variant.name}/s0"):
        return _import(path, scale, variant, rd, force, eval_seqs, seq_len, log)


def _recorded_source(rd: pathlib.Path) -> dict | None:
    try:
        return json.loads((rd / "config.json").read_text()).get("source")
    except (OSError, ValueError):
        return None


def _import(path, scale, variant, rd, force, eval_seqs, seq_len, log) -> pathlib.Path:
    from harness.data.corpus import validation_tokens
    from harness.interop.hf import load_hf_checkpoint

    old = _recorded_source(rd)
    if old and not force:
        if old.get("path") != str(path):
            raise ValueError(f"{rd} holds {old.get('path')}, not {path}: pass --name to keep both, or --force "
                             f"to replace it")
        if final_checkpoint(rd) and result_path(scale, variant.name, 0, "train").exists():
            log(f"{rd}: already imported from {path}; --force redoes it")
            return rd
    started, t0 = now_iso(), time.perf_counter()
    log(f"reading {path}")
    model, tok, source = load_hf_checkpoint(path)
    L = min(seq_len, model.cfg.max_seq_len)
    log(f"measuring it on {eval_seqs} held-out windows of {L} tokens (own activation {model.activation}, "
        f"then {ZERO_SHOT_ACT} swapped in)")
    val = validation_tokens(eval_seqs, L, seed=0, tokenizer=tok)
    measured = measure(model, val, tok)

    # Everything read and checked: now the run directory may change.
    if force and rd.exists():
        shutil.rmtree(rd)
    rd.mkdir(parents=True, exist_ok=True)
    _save_tokenizer(tok, rd)
    model_cfg = model.cfg.to_dict()
    src = {"path": str(path), "format": source["format"], "hidden_act": source["hidden_act"],
           "files": source["files"], "hf_config": source["hf_config"]}
    import_config = {"source": str(path), "format": source["format"], "seed": 0, "steps": 0, "imported": True,
                     "eval_seqs": eval_seqs, "seq_len": L}
    atomic_write_json(rd / "config.json", {
        "train_config": import_config, "variant": variant.to_dict(), "label": variant.label,
        "scale": {"name": scale, "imported": True, "model": model_cfg}, "num_params": model.num_params(),
        "schedule": [], "switch_step": None, "world_size": 1, "device": "cpu", "dtype": "fp32",
        "threads": torch.get_num_threads(), "tokenizer": tok.to_dict(), "source": src, "measured": measured,
        "git_sha": git_state()[0], "started_at": started, "argv": list(sys.argv)})
    checkpoint.save(rd, {
        "step": 0, "model": model.state_dict(), "optimizer": None, "rng": [], "data": None,
        "variant": variant.to_dict(), "scale": scale, "model_config": model_cfg, "train_config": import_config,
        "tokenizer": tok.to_dict(), "source": {k: src[k] for k in ("path", "format", "files")},
        "git_sha": git_state()[0], "world_size": 1, "wall_s": 0.0, "log_acc": [0.0, 0]}, final=True, keep=0)
    write_import_result(rd, scale, variant, model, val, measured, started, time.perf_counter() - t0)
    return rd


def measure(model, val: torch.Tensor, tok) -> dict:
    """Loss, bits per byte and FFN sparsity on the windows ``val`` (n, L) with the model's own activation and
    with RELU swapped in (zero-shot relufication)."""
    from harness.infer.generate import activation
    from harness.infer.sparsity import profile_model
    from harness.train.loop import val_loss

    n_bytes = sum(len(tok.decode(row[1:].tolist()).encode("utf-8")) for row in val)
    n_tok = val[:, 1:].numel()
    to_bpb = n_tok / max(1, n_bytes) / math.log(2)  # a window may cut a multi-byte character: approximate
    own = str(model.activation)
    out = {"act": own, "zero_shot_act": ZERO_SHOT_ACT, "val_tokens": n_tok, "val_bytes": n_bytes}
    with torch.no_grad():
        out["val_loss"] = val_loss(model, val, model.activation, micro=4)
        out["val_loss_zero_shot"] = val_loss(model, val, ZERO_SHOT_ACT, micro=4)
        with activation(model, ZERO_SHOT_ACT):
            out["sparsity_zero_shot"] = profile_model(model, val[:, :-1], batch_size=4)["sparsity"]
    out["val_bpb"], out["val_bpb_zero_shot"] = out["val_loss"] * to_bpb, out["val_loss_zero_shot"] * to_bpb
    return out


def _save_tokenizer(tok, rd: pathlib.Path) -> None:
    """The checkpoint's tokenizer in ``<run>/tokenizer`` (written beside, then renamed into place)."""
    dest, tmp = rd / HF_TOKENIZER_DIR, rd / f".{HF_TOKENIZER_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tok.save(tmp)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def write_import_result(rd, scale, variant, model, val, m: dict, started: str, wall_s: float) -> pathlib.Path:
    """The run's ``train`` result: step 0, no curve; its metrics are the checkpoint as shipped."""
    cfgd = json.loads((rd / "config.json").read_text())
    n, low = m["val_tokens"], {"higher_is_better": False, "n": m["val_tokens"]}
    z = m["zero_shot_act"]
    metrics = [metric("val_loss", m["val_loss"], act=m["act"], **low),
               metric("val_bpb", m["val_bpb"], act=m["act"], **low),
               metric("val_loss_zero_shot", m["val_loss_zero_shot"], act=z, **low),
               metric("val_bpb_zero_shot", m["val_bpb_zero_shot"], act=z, **low),
               metric("ffn_sparsity_zero_shot", m["sparsity_zero_shot"], act=z, n=n),
               metric("tokens", 0), metric("wall_s", wall_s, higher_is_better=False)]
    run = {"scale": scale, "model": variant.name, "seed": 0, "step": 0, "checkpoint": str(rd / "ckpt" / "final.pt"),
           "variant": variant.to_dict(), "eval_act": str(variant.inference_act)}
    suite = {"name": "train", "version": VERSION, "backend": "sparsebench-import",
             "dataset": {"name": "validation_tokens", "sha256": sha256_text(str(val.tolist()))},
             "params": cfgd["train_config"]}
    res = make_result("train", run=run, suite=suite, metrics=metrics,
                      provenance=provenance(threads=torch.get_num_threads(), dtype="fp32", started_at=started,
                                            wall_s=wall_s),
                      curve=[], switch_step=None, num_params=model.num_params(),
                      imported={"source": cfgd["source"]["path"], "format": cfgd["source"]["format"],
                                "hidden_act": cfgd["source"]["hidden_act"], "measured": m})
    return write_result(res, result_path(scale, variant.name, 0, "train"))
