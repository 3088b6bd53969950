"""Train one variant at one scale: the run directory, its lock, the model, and the loop of ``harness.train.loop``.

    >>> from harness.train.config import TrainConfig
    >>> from harness.train.trainer import train
    >>> rd = train(TrainConfig.create("tiny", "stocha-p0.7-a0.05", steps=20))   # doctest: +SKIP

(``python -m harness train`` is the command line; ``harness.commands.train`` shows it.) One cosine
learning-rate schedule (linear warm-up, then cosine down to ``min_lr_frac``·lr) spans the whole run; at
``Variant.switch_step(T)`` = (1 − α)·T, Swi+FT and StochA switch every FFN to RELU with no re-warm-up.
AdamW, gradient clipping, gradient accumulation, bf16 autocast on CUDA (fp32 on CPU), validation loss
every ``eval_every`` steps — with the activation being trained and, when it differs, the inference
activation (``val_loss_infer``: the gap StochA is meant to close).

Run directory ``out/runs/<scale>/<model>/s<seed>/``: ``config.json`` (written at launch),
``metrics.jsonl`` (``harness.train.metrics_log``) and ``ckpt/`` (``harness.train.checkpoint``). At the end
rank 0 writes the ``train`` result (``harness.train.result``) to
``out/results/<scale>/<model>/s<seed>/train.json``.

A batch is a function of (seed, step) (``harness.data.corpus``), and checkpoints hold every RNG state, so a
``--resume``d run continues exactly: on CPU its loss curve and final weights equal the uninterrupted
run's bit for bit. A finished run is not retrained unless ``--force``. That holds after a kill -9 at any
moment, in the middle of a checkpoint write included (``harness.verify.crash`` checks it). A second
``train`` of the same run while one is going refuses at once, naming the first one's pid.
"""

from __future__ import annotations

import contextlib
import shutil

import torch

from harness.data.config import DataConfig
from harness.data.corpus import training_data
from harness.data.tokenizer import get_tokenizer
from harness.paths import lock_path, run_dir, run_lock
from harness.results import atomic_write_json, result_path
from harness.train import checkpoint, dist
from harness.train.checkpoint_files import final_checkpoint
from harness.train.config import TrainConfig
from harness.train.loop import make_optimizer, run_steps
from harness.train.metrics_log import reset_metrics
from harness.train.result import write_train_result
from harness.train.resume import check_compatible, check_same_corpus, resume_state, rng_state, seed_or_resume
from harness.train.run_record import checkpoint_state, run_config
from models.registry import build_model, get_scale, get_variant


def _rank0_first(env: dist.DistEnv, fn):
    """Run ``fn`` on rank 0 (which builds caches), then on the others; rank 0's error stops them all."""
    err = None
    if env.is_main:
        try:
            out = fn()
        except (ValueError, FileNotFoundError, RuntimeError) as e:
            err = e
    msg = dist.broadcast_object(env, None if err is None else f"{type(err).__name__}\0{err}")
    if err is not None:
        raise err
    if msg is not None:
        kind, text = msg.split("\0", 1)
        raise {"ValueError": ValueError, "FileNotFoundError": FileNotFoundError}.get(kind, RuntimeError)(text)
    return out if env.is_main else fn()


def _build(cfg: TrainConfig, variant, act, env: dist.DistEnv, fsdp: bool):
    sc = get_scale(cfg.scale)
    if fsdp and sc.name in dist.FSDP_SCALES:
        # The paper's sizes: shapes on the meta device, shard, then materialise each shard on its GPU
        # (no rank ever holds the whole model; the init draws differ from an unsharded init's).
        model = build_model(sc, variant, seed=cfg.seed, device="meta", act=act)
        model = dist.wrap(model, env, fsdp=True)
        model.to_empty(device=env.device)
        torch.manual_seed(cfg.seed)
        model.reset_parameters()
        model.init_rope(env.device)
        return model, model
    raw = build_model(sc, variant, seed=cfg.seed, act=act).to(env.device)
    wrapped = dist.wrap(raw, env, fsdp=fsdp)  # FSDP shards the initialised model in place
    return raw, wrapped


def train(cfg: TrainConfig, resume: bool = False, force: bool = False, progress: bool = True):
    """Train (or resume, or skip if finished) the run ``cfg`` describes; returns its run directory.

    The run is locked while it trains (``harness.paths.run_lock``): a second start of the same
    (scale, model, seed) refuses at once, naming the first one's pid."""
    env = dist.setup(cfg.device)
    try:
        # Rank 0 alone writes the run directory, so it alone holds the lock (torchrun stops the other
        # ranks when it refuses).
        name = (get_scale(cfg.scale).name, get_variant(cfg.model).name, cfg.seed)
        lock = (run_lock(lock_path("train", *name), "training of {}/{}/s{}".format(*name)) if env.is_main
                else contextlib.nullcontext())
        with lock:
            return _train(cfg, env, resume, force, progress)
    finally:
        dist.shutdown(env)


def _train(cfg: TrainConfig, env: dist.DistEnv, resume: bool, force: bool, progress: bool):
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    variant, sc = get_variant(cfg.model), get_scale(cfg.scale)
    rd = run_dir(sc.name, variant.name, cfg.seed)
    B, A, W = cfg.batch_size, cfg.grad_accum, env.world_size
    if B % (W * A):
        raise ValueError(f"batch_size {B} is not divisible by processes × grad_accum = {W} × {A}")
    if final_checkpoint(rd) and not force:
        if env.is_main:
            print(f"{rd}: already trained (ckpt/final.pt); --force retrains")
            if not result_path(sc.name, variant.name, cfg.seed, "train").exists():  # lost: rebuild it
                write_train_result(rd)
        return rd
    latest, state = resume_state(rd, resume, force)
    model_cfg = sc.model.to_dict()
    if state is not None:
        written_by = state.get("world_size", 1)
        check_compatible(state, cfg, latest, model_cfg,
                         [f"written by {written_by} processes, resumed with {W}"] if written_by != W else [])
    start = int(state["step"]) if state else 0
    # a bad --data fails here, before anything is written
    corpus, val = _rank0_first(env, lambda: training_data(DataConfig(**cfg.data), cfg.seq_len, cfg.eval_seqs))
    check_same_corpus(state, corpus, latest)

    # Everything checked: now the run directory may change.
    if env.is_main:
        if force and (rd / "ckpt").exists():
            shutil.rmtree(rd / "ckpt")
        reset_metrics(rd / "metrics.jsonl", start)
    dist.barrier(env)
    fsdp = dist.use_fsdp(env, sc.name, cfg.fsdp)
    raw, model = _build(cfg, variant, variant.act_at(start, cfg.steps), env, fsdp)
    opt = make_optimizer(model, cfg)
    wall0, log_acc = seed_or_resume(raw, model, opt, dist.rank_seed(cfg.seed, env.rank), state, env, fsdp)
    del state  # the full state dicts: as large as the model and its optimizer
    if env.is_main:
        atomic_write_json(rd / "config.json", run_config(
            cfg, variant, scale=sc.to_dict(), num_params=raw.num_params(), world_size=W, device=env.device,
            threads=torch.get_num_threads(), corpus=corpus, tokenizer=get_tokenizer(), start=start, fsdp=fsdp))

    def save(step: int, final: bool, wall_s: float, log_acc: tuple[float, int]):
        rngs = dist.all_gather_object(env, rng_state(raw))
        model_sd, optim_sd = dist.full_state(model, opt, fsdp)
        if env.is_main:
            checkpoint.save(rd, checkpoint_state(
                cfg, variant, step=step, model=model_sd, optimizer=optim_sd, rng=rngs, corpus=corpus,
                scale=sc.name, model_config=model_cfg, tokenizer=get_tokenizer(), world_size=W, wall_s=wall_s,
                log_acc=log_acc, fsdp=fsdp), final=final, keep=cfg.keep_ckpts)
        dist.barrier(env)

    run_steps(cfg, variant, raw, model, opt, corpus, val, env=env, save=save, metrics_path=rd / "metrics.jsonl",
              start=start, wall0=wall0, log_acc=log_acc, fsdp=fsdp, progress=progress, desc=f"{variant.name}@{sc.name}")
    if env.is_main:
        write_train_result(rd)
    return rd


def ensure_trained(scale: str, model: str, seed: int = 0, steps: int | None = None, **overrides):
    """The run directory of (scale, model, seed), training or resuming it first if not finished."""
    variant = get_variant(model)
    rd = run_dir(scale, variant.name, seed)
    if final_checkpoint(rd):
        return rd
    return train(TrainConfig.create(scale, variant.name, seed, steps=steps, **overrides), resume=True)
