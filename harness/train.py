"""Train one variant at one scale: a flat loop with the variant's activation schedule, resumable bitwise.

    python -m harness train --model stocha-p0.7-a0.05 --scale tiny            # seconds
    python -m harness train --model swi-ft-a0.1 --scale small --seed 1 --resume
    python -m harness train --model relu --scale tiny --data ~/corpus.jsonl --steps 200
    torchrun --standalone --nproc_per_node=2 -m harness train --model silu --scale tiny   # DDP (gloo on CPU)

One cosine learning-rate schedule (linear warm-up, then cosine down to ``min_lr_frac``·lr) spans the
whole run; at ``Variant.switch_step(T)`` = (1 − α)·T, Swi+FT and StochA switch every FFN to RELU with no
re-warm-up. AdamW, gradient clipping, gradient accumulation, bf16 autocast on CUDA (fp32 on CPU),
validation loss every ``eval_every`` steps — with the activation being trained and, when it differs, the
inference activation (``val_loss_infer``: the gap StochA is meant to close).

Run directory ``out/runs/<scale>/<model>/s<seed>/``: ``config.json`` (written at launch),
``metrics.jsonl`` (one line per log step: step, loss, val_loss when computed, lr, phase, act, tokens,
tok_s, grad_norm, wall_s) and ``ckpt/`` (see harness.checkpoint). At the end rank 0 writes the
``train`` result (final losses, tokens, wall time, the loss curve and the switch step) to
``out/results/<scale>/<model>/s<seed>/train.json``.

A batch is a function of (seed, step) (harness.data), and checkpoints hold every RNG state, so a
``--resume``d run continues exactly: on CPU its loss curve and final weights equal the uninterrupted
run's bit for bit. A finished run is not retrained unless ``--force``. That holds after a kill -9 at any
moment, in the middle of a checkpoint write included (``harness.crashsafety`` checks it). A second
``train`` of the same run while one is going refuses at once, naming the first one's pid.

The optimizer-step loop itself (:func:`run_steps`), the AdamW set-up, seeding and resuming, and the
validation loss are shared with ``harness finetune``, which runs the same steps on an imported checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from harness import checkpoint, data, dist
from harness.crashsafety import crash_point, half_write
from harness.paths import atomic_write_json, atomic_write_text, lock_path, run_dir, run_lock
from harness.results import git_state, make_result, metric, now_iso, provenance, result_path, write_result
from harness.tokenizer import get_tokenizer
from models.registry import build_model, get_scale, get_variant

# Settings that do not change the trained weights: they may differ between a run and its resume.
_FREE_KEYS = ("eval_every", "log_every", "ckpt_every", "keep_ckpts", "device", "threads")
_ONE_PROCESS = dist.DistEnv()  # rank 0 of 1: what the helpers below assume without torchrun


@dataclass
class TrainConfig:
    """Everything that defines a training run. Defaults come from ``SCALES[scale].train``."""

    scale: str
    model: str
    seed: int = 0
    steps: int = 1000
    batch_size: int = 32  # global sequences per optimizer step (all processes, all micro-batches)
    seq_len: int = 256
    lr: float = 3e-3
    warmup: int = 50
    min_lr_frac: float = 0.1  # the cosine ends at min_lr_frac · lr
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    grad_accum: int = 1  # micro-batches per optimizer step and process
    eval_every: int = 200
    eval_seqs: int = 32  # validation sequences (fixed, held out; harness.data.validation_tokens)
    log_every: int = 10
    ckpt_every: int = 200
    keep_ckpts: int = 2  # periodic checkpoints kept (0 = all); the final one is always kept
    data: dict = field(default_factory=lambda: data.DataConfig().to_dict())
    device: str = "auto"  # auto | cpu | cuda
    fsdp: str = "auto"  # auto (1.5b/3b on GPUs) | on | off
    threads: int | None = None  # torch intra-op threads (None: torch's default)

    @classmethod
    def create(cls, scale: str, model: str, seed: int = 0, **overrides) -> TrainConfig:
        """The scale's defaults, then ``overrides`` (None values ignored); unknown keys raise."""
        sc = get_scale(scale)
        known = {f.name for f in dataclasses.fields(cls)}
        base = {k: v for k, v in sc.train.items() if k in known}
        over = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(over) - known
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        if isinstance(over.get("data"), data.DataConfig):
            over["data"] = over["data"].to_dict()
        cfg = cls(scale=sc.name, model=get_variant(model).name, seed=seed, **{**base, **over})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        check_loop_settings(self)
        max_len = get_scale(self.scale).model.max_seq_len
        if self.seq_len > max_len:
            raise ValueError(f"seq_len {self.seq_len} exceeds the {self.scale} model's max_seq_len {max_len}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_loop_settings(cfg) -> None:
    """The checks of the settings :func:`run_steps` reads (TrainConfig's and FinetuneConfig's alike)."""
    for k in ("steps", "batch_size", "seq_len", "grad_accum", "log_every", "eval_every", "ckpt_every",
              "eval_seqs"):
        if getattr(cfg, k) < 1:
            raise ValueError(f"{k} must be a positive integer, got {getattr(cfg, k)}")
    if cfg.lr <= 0 or not 0 <= cfg.min_lr_frac <= 1 or cfg.warmup < 0:
        raise ValueError("need lr > 0, warmup >= 0 and min_lr_frac in [0, 1]")
    data.DataConfig(**cfg.data)  # validates the mixture


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of (0-based) step: linear warm-up, then one cosine to min_lr_frac·lr at the end."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, cfg.steps - cfg.warmup)
    progress = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


# ---- RNG state --------------------------------------------------------------------------------
def _rng_state(model) -> dict:
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    st = {"python": random.getstate(), "numpy": (kind, torch.from_numpy(key.astype(np.int64)), pos,
                                                  has_gauss, gauss),
          "torch": torch.get_rng_state(), "act": model.act_generator.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state()
    return st


def _set_rng_state(model, st: dict) -> None:
    random.setstate(st["python"])
    kind, key, pos, has_gauss, gauss = st["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(st["torch"])
    model.act_generator.set_state(st["act"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state(st["cuda"])


# ---- starting or resuming a run (train and finetune) ---------------------------------------------
def resume_state(rd, resume: bool, force: bool):
    """(path, state) of the newest checkpoint to continue from, or (None, None) for a fresh start; an
    unfinished run is continued only when asked (``--resume``) and ignored with ``--force``."""
    latest = None if force else checkpoint.latest_checkpoint(rd)
    if latest is not None and not resume:
        raise RuntimeError(f"{rd} has a checkpoint ({latest.name}); pass --resume to continue it "
                           f"or --force to start over")
    return latest, (checkpoint.load(latest) if latest is not None else None)


def check_compatible(state: dict, cfg, path, more: list[str]) -> None:
    """A resume must continue the same run: the same settings (all but ``_FREE_KEYS``), and none of the
    caller's other differences ``more`` (model config, world size, source files)."""
    old = state["train_config"]
    diffs = [f"{k}: {old.get(k)!r} in the checkpoint, {v!r} now" for k, v in cfg.to_dict().items()
             if k not in _FREE_KEYS and old.get(k) != v] + more
    if diffs:
        raise checkpoint.CorruptCheckpointError(
            f"incompatible checkpoint {path}: {'; '.join(diffs[:3])} (resume with the same settings, "
            f"or pass --force to start over)")


def _read_metrics(path) -> list[dict]:
    """metrics.jsonl lines; a line torn by a kill is dropped."""
    out = []
    if os.path.exists(path):
        for line in open(path):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def reset_metrics(path, start: int) -> None:
    """Keep the metrics lines of steps up to ``start`` (the checkpoint resumed; 0: none): the steps after
    it are run again and log again."""
    kept = [r for r in _read_metrics(path) if r["step"] <= start] if start else []
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def make_optimizer(model: torch.nn.Module, cfg) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only (not on norm gains): ``cfg.lr``, ``beta1``/``beta2``,
    ``weight_decay``. ``model``: what trains (the DDP/FSDP wrapper under torchrun: its parameters)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=cfg.lr,
                             betas=(cfg.beta1, cfg.beta2))


def seed_or_resume(raw, model, opt, seed: int, state: dict | None, env: dist.DistEnv = _ONE_PROCESS,
                   fsdp: bool = False) -> tuple[float, tuple[float, int]]:
    """Seed python, numpy, torch and the activation draws with ``seed``; then, when resuming, load the
    checkpoint ``state``'s weights, optimizer and this rank's RNG states. Returns (wall0, log_acc), where
    :func:`run_steps` continues from."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    raw.seed_activation(seed)
    if state is None:
        return 0.0, (0.0, 0)
    dist.load_full_state(model, opt, state["model"], state["optimizer"], fsdp)
    _set_rng_state(raw, state["rng"][env.rank])
    return state["wall_s"], tuple(state["log_acc"])


def autocast_for(device: str):
    """A context factory for the forward passes: bf16 autocast on CUDA, nothing (fp32) on CPU."""
    if device.startswith("cuda"):
        return functools.partial(torch.autocast, "cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


@torch.no_grad()
def val_loss(raw, val: torch.Tensor, act, micro: int = 8, autocast=contextlib.nullcontext,
             env: dist.DistEnv = _ONE_PROCESS, net=None) -> float:
    """Mean next-token loss (nats) on the validation windows ``val`` (n, L+1) with FFN activation ``act``.

    ``raw`` is our model; the forward runs through ``net`` (default ``raw``; the FSDP wrapper gathers the
    shards). Under torchrun every rank takes a share of the rows and the sums are all-reduced. The
    activation generator's state is restored afterwards, so the training draws do not depend on how often
    validation runs."""
    prev_act, gen_state, was_training = raw.activation, raw.act_generator.get_state(), raw.training
    raw.set_activation(act)
    raw.eval()
    total = torch.zeros(2, dtype=torch.float64)
    for chunk in val[env.rank::env.world_size].split(micro):
        chunk = chunk.to(raw.tok_embeddings.weight.device)
        with autocast():
            logits = (net or raw)(chunk[:, :-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum")
        total += torch.tensor([loss.item(), chunk[:, 1:].numel()], dtype=torch.float64)
    if env.distributed:
        total = total.to(env.device)
        torch.distributed.all_reduce(total)
    raw.set_activation(prev_act)
    raw.act_generator.set_state(gen_state)
    raw.train(was_training)
    return float(total[0] / total[1])


# ---- the loop (train and finetune) -------------------------------------------------------------------
def run_steps(cfg, variant, raw, model, opt, corpus, val, *, env: dist.DistEnv, save, metrics_path,
              start: int = 0, wall0: float = 0.0, log_acc: tuple[float, int] = (0.0, 0), fsdp: bool = False,
              progress: bool = True, desc: str | None = None, stop_at: int | None = None) -> bool:
    """Optimizer steps ``start`` … ``cfg.steps`` of a run; True once the last is done (and saved), False when
    ``stop_at`` left early, exactly as a kill would: nothing more written (tests of ``--resume``).

    Each step: the variant's activation at that step (a pure function of it, so also right after a
    resume), ``lr_at``, this rank's rows of the batch of (seed, step), ``grad_accum`` micro-batches
    (autocast on CUDA), gradient clipping, AdamW. Every ``log_every`` steps rank 0 appends a line to
    ``metrics_path``, with validation losses every ``eval_every`` and at the end. ``save(step, final,
    wall_s, log_acc)`` runs on every rank every ``ckpt_every`` steps and at the end; ``wall0`` and
    ``log_acc`` (loss sum and count since the last line) come from the checkpoint resumed.

    ``raw`` is our model (activation, RNG, validation); ``model`` what trains (``raw``, or its DDP/FSDP
    wrapper: DDP all-reduces only on the last micro-batch); ``env`` this process's rank, world size and
    device (``dist.DistEnv(device=...)`` for a single process)."""
    from tqdm.auto import tqdm

    T, B, L, A = cfg.steps, cfg.batch_size, cfg.seq_len, cfg.grad_accum
    per_rank = B // env.world_size
    micro = per_rank // A
    rows = slice(env.rank * per_rank, (env.rank + 1) * per_rank)
    autocast = autocast_for(env.device)
    net = model if fsdp else raw  # validation forward (no DDP hooks needed; FSDP needs its wrapper)
    act = None
    loss_sum, n_acc = torch.tensor(log_acc[0], dtype=torch.float64), log_acc[1]
    t0 = t_log = time.perf_counter()
    tokens_log = 0
    bar = tqdm(total=T, initial=start, disable=not (env.is_main and progress), dynamic_ncols=True, desc=desc,
               unit="step", mininterval=1.0)
    for step in range(start, T):
        a = variant.act_at(step, T)
        if a != act:  # the schedule: a pure function of the step (also right after a resume)
            raw.set_activation(a)
            act = a
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        x_all, y_all = corpus.batch(cfg.seed, step, B, L, rows=rows)
        step_loss = torch.zeros((), dtype=torch.float64)
        for m in range(A):
            x = x_all[m * micro:(m + 1) * micro].to(env.device, non_blocking=True)
            y = y_all[m * micro:(m + 1) * micro].to(env.device, non_blocking=True)
            # DDP: all-reduce gradients only on the last micro-batch.
            last = m == A - 1 or fsdp or not env.distributed
            sync = contextlib.nullcontext() if last else model.no_sync()
            with sync, autocast():
                logits = model(x)
                loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
            (loss / A).backward()
            step_loss += loss.detach().double().cpu() / A
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if hasattr(grad_norm, "full_tensor"):  # FSDP: a DTensor
            grad_norm = grad_norm.full_tensor()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss_sum += step_loss
        n_acc += 1
        log_acc = (float(loss_sum), n_acc)
        done = step + 1
        tokens_log += B * L
        bar.update(1)

        if done % cfg.log_every == 0 or done == T or done % cfg.eval_every == 0:
            mean_loss = float(dist.all_reduce_mean(env, (loss_sum / n_acc).to(env.device)))
            rec = {"step": done, "loss": mean_loss, "lr": lr, "phase": variant.phase_at(step, T),
                   "act": str(a), "tokens": done * B * L, "grad_norm": float(grad_norm)}
            if done % cfg.eval_every == 0 or done == T:
                rec["val_loss"] = val_loss(raw, val, a, micro, autocast, env, net)
                if variant.inference_act != a:
                    rec["val_loss_infer"] = val_loss(raw, val, variant.inference_act, micro, autocast, env,
                                                     net)
            now = time.perf_counter()
            rec["tok_s"] = tokens_log / (now - t_log)
            rec["wall_s"] = wall0 + now - t0
            t_log, tokens_log = now, 0
            loss_sum, n_acc = torch.zeros((), dtype=torch.float64), 0
            log_acc = (0.0, 0)
            if env.is_main:
                with open(metrics_path, "a") as f:
                    line = json.dumps(rec) + "\n"
                    crash_point("train.metrics", done, before=functools.partial(half_write, f, line))
                    f.write(line)
                bar.set_postfix(loss=f"{mean_loss:.3f}", tok_s=f"{rec['tok_s']:.0f}", act=str(a))
        if stop_at is not None and done >= stop_at and done < T:
            bar.close()
            return False
        crash_point("train.step", done)
        if done == T or done % cfg.ckpt_every == 0:
            save(done, done == T, wall0 + time.perf_counter() - t0, log_acc)
    bar.close()
    return True


# ---- train ------------------------------------------------------------------------------------------
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


def train(cfg: TrainConfig, resume: bool = False, force: bool = False, progress: bool = True,
          stop_at: int | None = None):
    """Train (or resume, or skip if finished) the run ``cfg`` describes; returns its run directory.

    ``stop_at``: leave the loop after that many steps without writing a checkpoint, exactly as a kill
    would (tests of ``--resume``). The run is locked while it trains (``harness.paths.run_lock``): a second
    start of the same (scale, model, seed) refuses at once, naming the first one's pid."""
    env = dist.setup(cfg.device)
    try:
        # Rank 0 alone writes the run directory, so it alone holds the lock (torchrun stops the other
        # ranks when it refuses).
        name = (get_scale(cfg.scale).name, get_variant(cfg.model).name, cfg.seed)
        lock = (run_lock(lock_path("train", *name), "training of {}/{}/s{}".format(*name)) if env.is_main
                else contextlib.nullcontext())
        with lock:
            return _train(cfg, env, resume, force, progress, stop_at)
    finally:
        dist.shutdown(env)


def _train(cfg: TrainConfig, env: dist.DistEnv, resume: bool, force: bool, progress: bool, stop_at):
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    variant, sc = get_variant(cfg.model), get_scale(cfg.scale)
    rd = run_dir(sc.name, variant.name, cfg.seed)
    T, B, L, A, W = cfg.steps, cfg.batch_size, cfg.seq_len, cfg.grad_accum, env.world_size
    if B % (W * A):
        raise ValueError(f"batch_size {B} is not divisible by processes × grad_accum = {W} × {A}")
    if checkpoint.final_checkpoint(rd) and not force:
        if env.is_main:
            print(f"{rd}: already trained (ckpt/final.pt); --force retrains")
            if not result_path(sc.name, variant.name, cfg.seed, "train").exists():
                write_train_result(rd)
        return rd
    latest, state = resume_state(rd, resume, force)
    model_cfg = sc.model.to_dict()
    if state is not None:
        more = []
        if state["model_config"] != model_cfg:
            more.append("the scale's model config differs from the checkpoint's")
        if state.get("world_size", 1) != W:
            more.append(f"written by {state.get('world_size', 1)} processes, resumed with {W}")
        check_compatible(state, cfg, latest, more)
    start = int(state["step"]) if state else 0

    data_cfg = data.DataConfig(**cfg.data)

    def load_data():
        corpus = data.Corpus(data_cfg, "train")
        val = data.validation_tokens(cfg.eval_seqs, L + 1, seed=0, cfg=data_cfg)
        for name, f in zip(corpus.names, corpus.files):
            if len(f) < L + 1:
                raise ValueError(f"corpus source {name} has only {len(f)} tokens, fewer than one "
                                 f"sequence of {L + 1}")
        return corpus, val

    corpus, val = _rank0_first(env, load_data)  # a bad --data fails here, before anything is written
    if state is not None and state["data"]["corpus"] != corpus.digest:
        raise checkpoint.CorruptCheckpointError(
            f"incompatible checkpoint {latest}: the corpus tokens changed since it was written (new Python "
            f"stdlib, edited harness/synth.py, or other --data); resuming would not continue the same run "
            f"(pass --force to start over)")

    # Everything checked: now the run directory may change.
    if env.is_main:
        if force and (rd / "ckpt").exists():
            shutil.rmtree(rd / "ckpt")
        reset_metrics(rd / "metrics.jsonl", start)
    dist.barrier(env)

    fsdp = dist.use_fsdp(env, sc.name, cfg.fsdp)
    raw, model = _build(cfg, variant, variant.act_at(start, T), env, fsdp)
    opt = make_optimizer(model, cfg)
    wall0, log_acc = seed_or_resume(raw, model, opt, dist.rank_seed(cfg.seed, env.rank), state, env, fsdp)
    del state  # the full state dicts: as large as the model and its optimizer

    if env.is_main:
        atomic_write_json(rd / "config.json", {
            "train_config": cfg.to_dict(), "variant": variant.to_dict(), "label": variant.label,
            "scale": sc.to_dict(), "num_params": raw.num_params(), "schedule": variant.schedule(T),
            "switch_step": variant.switch_step(T), "world_size": W, "fsdp": fsdp, "device": env.device,
            "dtype": "bf16" if env.device.startswith("cuda") else "fp32",
            "threads": torch.get_num_threads(), "tokens_per_step": B * L, "corpus": corpus.info(),
            "tokenizer": get_tokenizer().to_dict(), "git_sha": git_state()[0], "started_at": now_iso(),
            "resumed_from_step": start if start else None, "argv": list(sys.argv)})

    def save(step: int, final: bool, wall_s: float, log_acc: tuple[float, int]):
        rngs = dist.all_gather_object(env, _rng_state(raw))
        model_sd, optim_sd = dist.full_state(model, opt, fsdp)
        if env.is_main:
            checkpoint.save(rd, {
                "step": step, "model": model_sd, "optimizer": optim_sd, "rng": rngs,
                "data": {"next_step": step, "seed": cfg.seed, "corpus": corpus.digest},
                "variant": variant.to_dict(), "scale": sc.name, "model_config": model_cfg,
                "train_config": cfg.to_dict(), "tokenizer": get_tokenizer().to_dict(),
                "git_sha": git_state()[0], "world_size": W, "fsdp": fsdp,
                "wall_s": wall_s, "log_acc": list(log_acc)}, final=final, keep=cfg.keep_ckpts)
        dist.barrier(env)

    finished = run_steps(cfg, variant, raw, model, opt, corpus, val, env=env, save=save,
                         metrics_path=rd / "metrics.jsonl", start=start, wall0=wall0, log_acc=log_acc, fsdp=fsdp,
                         progress=progress, desc=f"{variant.name}@{sc.name}", stop_at=stop_at)
    if finished and env.is_main:
        write_train_result(rd)
    return rd


# ---- the train result ---------------------------------------------------------------------------
def write_train_result(rd, metrics=None, backend: str = "sparsebench", **extra):
    """The ``train`` result of a finished run, from its config, metrics and final checkpoint sidecar.

    ``metrics(last)`` → the metric list, given the last line of metrics.jsonl (default: train and validation
    loss, tokens, wall time); ``extra`` goes into the result as top-level fields (a fine-tune's before/after)."""
    cfgd = json.loads((rd / "config.json").read_text())
    side = json.loads((rd / "ckpt" / "final.json").read_text())
    recs = _read_metrics(rd / "metrics.jsonl")
    if not recs:
        raise RuntimeError(f"{rd}/metrics.jsonl is empty; cannot write the train result")
    tc, last = cfgd["train_config"], recs[-1]
    vals = [r for r in recs if "val_loss" in r]
    val = vals[-1]["val_loss"] if vals else None
    curve = [{k: r[k] for k in ("step", "loss", "val_loss", "val_loss_infer", "lr", "phase", "act", "tokens")
              if k in r} for r in recs]
    variant = cfgd["variant"]

    def default_metrics(last):
        return [metric("train_loss", last["loss"], higher_is_better=False),
                metric("val_loss", val, higher_is_better=False),
                metric("tokens", last["tokens"]), metric("wall_s", last["wall_s"], higher_is_better=False)]

    result = make_result(
        "train",
        run={"scale": tc["scale"], "model": variant["name"], "seed": tc["seed"], "step": side["step"],
             "checkpoint": str(rd / "ckpt" / "final.pt"), "variant": variant,
             "eval_act": variant["inference_act"]},
        suite={"name": "train", "version": "1", "backend": backend,
               "dataset": {"name": "corpus:" + ",".join(f"{k}={v:g}" for k, v in tc["data"]["mix"].items()),
                           "sha256": cfgd["corpus"]["digest"]},
               "params": tc},
        metrics=(metrics or default_metrics)(last),
        provenance=provenance(device=cfgd["device"], threads=cfgd["threads"], dtype=cfgd["dtype"],
                              started_at=cfgd["started_at"], wall_s=last["wall_s"],
                              world_size=cfgd["world_size"]),
        curve=curve, switch_step=cfgd["switch_step"], num_params=cfgd["num_params"], **extra)
    return write_result(result, result_path(tc["scale"], variant["name"], tc["seed"], "train"))


def ensure_trained(scale: str, model: str, seed: int = 0, steps: int | None = None, **overrides):
    """The run directory of (scale, model, seed), training or resuming it first if not finished."""
    variant = get_variant(model)
    rd = run_dir(scale, variant.name, seed)
    if checkpoint.final_checkpoint(rd):
        return rd
    return train(TrainConfig.create(scale, variant.name, seed, steps=steps, **overrides), resume=True)


# ---- throughput (make bench) ----------------------------------------------------------------------
def _matmul_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def measure_throughput(scale: str = "small", steps: int = 20, threads: int | None = None,
                       model: str = "silu", warmup: int = 3) -> dict:
    """Trainer tokens/s and achieved FLOP/s, against this machine's fp32 matmul peak measured here.

    FLOPs per token follow the PaLM/nanoGPT convention: 6·N (N = parameters in matmuls: all but the
    embedding table) + 12·L·T·d for attention. Random tokens: the data pipeline is not measured."""
    prev = torch.get_num_threads()
    threads = threads or prev
    torch.set_num_threads(threads)
    try:
        cfg = TrainConfig.create(scale, model)
        net = build_model(cfg.scale, cfg.model, seed=0)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr)
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, net.cfg.vocab_size, (cfg.batch_size, cfg.seq_len + 1), generator=g)
        times = []
        for i in range(warmup + steps):
            t = time.perf_counter()
            loss = F.cross_entropy(net(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if i >= warmup:
                times.append(time.perf_counter() - t)
        mc = net.cfg
        n_matmul = net.num_params() - net.tok_embeddings.weight.numel()
        flops_tok = 6 * n_matmul + 12 * mc.n_layers * cfg.seq_len * mc.dim
        tok_s = cfg.batch_size * cfg.seq_len * len(times) / sum(times)
        peak = _matmul_peak(threads)
        return {"scale": scale, "model": model, "threads": threads, "batch_size": cfg.batch_size,
                "seq_len": cfg.seq_len, "steps": steps, "warmup_steps": warmup, "num_params": net.num_params(),
                "step_s_median": float(np.median(times)), "tokens_per_s": tok_s, "flops_per_token": flops_tok,
                "achieved_flops": tok_s * flops_tok, "matmul_peak_flops": peak,
                "fraction_of_peak": tok_s * flops_tok / peak, "dtype": "fp32", "device": "cpu"}
    finally:
        torch.set_num_threads(prev)


# ---- CLI ------------------------------------------------------------------------------------------
def add_arguments(p) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--model", required=True, help="variant name, e.g. stocha-p0.7-a0.05 (see: ls)")
    g.add_argument("--scale", default="small", help="tiny | small | base | 1.5b | 3b (default small)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--steps", type=int, help="optimizer steps (default: the scale's)")
    g.add_argument("--resume", action="store_true", help="continue from the newest checkpoint if any")
    g.add_argument("--force", action="store_true", help="retrain from scratch, replacing the run's checkpoints")
    g.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    g = p.add_argument_group("optimization (defaults: the scale's)")
    for flag, typ, help_ in [("--batch-size", int, "global sequences per step"), ("--seq-len", int, None),
                             ("--lr", float, "peak learning rate"), ("--warmup", int, "warm-up steps"),
                             ("--grad-accum", int, "micro-batches per step and process"),
                             ("--grad-clip", float, None), ("--weight-decay", float, None)]:
        g.add_argument(flag, type=typ, help=help_)
    g = p.add_argument_group("logging and checkpoints")
    for flag in ("--log-every", "--eval-every", "--eval-seqs", "--ckpt-every", "--keep-ckpts"):
        g.add_argument(flag, type=int)
    data.add_data_arguments(p)
    g = p.add_argument_group("hardware")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--threads", type=int, help="torch threads per process")
    g.add_argument("--fsdp", default="auto", choices=("auto", "on", "off"),
                   help="shard with FSDP (auto: 1.5b/3b under torchrun on GPUs)")


def run(args) -> int:
    dcfg = data.config_from_args(args)
    keys = ("steps", "batch_size", "seq_len", "lr", "warmup", "grad_accum", "grad_clip", "weight_decay",
            "log_every", "eval_every", "eval_seqs", "ckpt_every", "keep_ckpts", "threads")
    cfg = TrainConfig.create(args.scale, args.model, args.seed, data=dcfg, device=args.device, fsdp=args.fsdp,
                             **{k: getattr(args, k) for k in keys})
    rd = train(cfg, resume=args.resume, force=args.force, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        res = result_path(cfg.scale, cfg.model, cfg.seed, "train")
        if res.exists():
            r = json.loads(res.read_text())
            m = {x["name"]: x["value"] for x in r["metrics"]}
            print(f"{rd}: train_loss {m['train_loss']:.4f}  val_loss {m['val_loss']:.4f}  "
                  f"tokens {int(m['tokens'])}  wall {m['wall_s']:.1f}s  → {res}")
    return 0
