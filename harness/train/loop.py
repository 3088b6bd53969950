"""The optimizer-step loop of ``train`` and ``finetune``, its AdamW set-up and the validation loss.

Each step: the variant's activation at that step (a pure function of it, so also right after a resume),
the learning rate of ``harness.train.config.lr_at``, this rank's rows of the batch of (seed, step),
gradient accumulation (autocast on CUDA), clipping, AdamW; a ``metrics.jsonl`` line every ``log_every``
steps and a checkpoint every ``ckpt_every``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time

import torch
import torch.nn.functional as F

from harness import faults
from harness.train import dist
from harness.train.config import lr_at

_ONE_PROCESS = dist.DistEnv()  # rank 0 of 1: the default without torchrun


def make_optimizer(model: torch.nn.Module, cfg) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only (not on norm gains): ``cfg.lr``, ``beta1``/``beta2``,
    ``weight_decay``. ``model``: what trains (the DDP/FSDP wrapper under torchrun: its parameters)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": other, "weight_decay": 0.0}], lr=cfg.lr,
                             betas=(cfg.beta1, cfg.beta2))


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


def run_steps(cfg, variant, raw, model, opt, corpus, val, *, env: dist.DistEnv, save, metrics_path,
              start: int = 0, wall0: float = 0.0, log_acc: tuple[float, int] = (0.0, 0), fsdp: bool = False,
              progress: bool = True, desc: str | None = None) -> None:
    """Optimizer steps ``start`` … ``cfg.steps`` of a run, the last one saved.

    Every ``log_every`` steps rank 0 appends a line to ``metrics_path``, with validation losses every
    ``eval_every`` and at the end. ``save(step, final, wall_s, log_acc)`` runs on every rank every
    ``ckpt_every`` steps and at the end; ``wall0`` and ``log_acc`` (loss sum and count since the last line)
    come from the checkpoint resumed.

    ``raw`` is our model (activation, RNG, validation); ``model`` what trains (``raw``, or its DDP/FSDP
    wrapper: DDP all-reduces only on the last micro-batch); ``env`` this process's rank, world size and
    device (``dist.DistEnv(device=...)`` for a single process)."""
    from tqdm.auto import tqdm

    T = cfg.steps
    autocast = autocast_for(env.device)
    net = model if fsdp else raw  # validation forward (no DDP hooks needed; FSDP needs its wrapper)
    window = _LogWindow(log_acc)
    t0 = window.since
    bar = tqdm(total=T, initial=start, disable=not (env.is_main and progress), dynamic_ncols=True, desc=desc,
               unit="step", mininterval=1.0)
    act = None
    for step in range(start, T):
        a = variant.act_at(step, T)
        if a != act:  # the schedule: a pure function of the step (also right after a resume)
            raw.set_activation(a)
            act = a
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        step_loss, grad_norm = _optimizer_step(cfg, model, opt, corpus, step, env, autocast, fsdp)
        window.add(step_loss, cfg.batch_size * cfg.seq_len)
        done = step + 1
        bar.update(1)
        if done % cfg.log_every == 0 or done == T or done % cfg.eval_every == 0:
            rec = {"step": done, "loss": window.mean_loss(env), "lr": lr, "phase": variant.phase_at(step, T),
                   "act": str(a), "tokens": done * cfg.batch_size * cfg.seq_len, "grad_norm": float(grad_norm)}
            if done % cfg.eval_every == 0 or done == T:
                micro = cfg.batch_size // env.world_size // cfg.grad_accum
                rec["val_loss"] = val_loss(raw, val, a, micro, autocast, env, net)
                if variant.inference_act != a:
                    rec["val_loss_infer"] = val_loss(raw, val, variant.inference_act, micro, autocast, env, net)
            rec.update(window.close(wall0, t0))
            if env.is_main:
                _append_line(metrics_path, rec, done)
                bar.set_postfix(loss=f"{rec['loss']:.3f}", tok_s=f"{rec['tok_s']:.0f}", act=str(a))
        faults.point("train.step", done)
        if done == T or done % cfg.ckpt_every == 0:
            save(done, done == T, wall0 + time.perf_counter() - t0, window.log_acc)
    bar.close()


def _optimizer_step(cfg, model, opt, corpus, step: int, env: dist.DistEnv, autocast, fsdp: bool):
    """One optimizer step on this rank's rows of the batch of (seed, step), in ``grad_accum``
    micro-batches; returns (the step's mean loss as a float64 tensor, the gradient norm before clipping)."""
    B, L, A = cfg.batch_size, cfg.seq_len, cfg.grad_accum
    per_rank = B // env.world_size
    micro = per_rank // A
    x_all, y_all = corpus.batch(cfg.seed, step, B, L, rows=slice(env.rank * per_rank, (env.rank + 1) * per_rank))
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
    return step_loss, grad_norm


class _LogWindow:
    """What accumulates between two metrics lines: the loss sum and count (``log_acc``, which a checkpoint
    keeps so a resumed run logs the same means), the tokens seen and when the last line was written."""

    def __init__(self, log_acc: tuple[float, int]):
        self.loss_sum, self.n = torch.tensor(log_acc[0], dtype=torch.float64), log_acc[1]
        self.tokens = 0
        self.since = time.perf_counter()

    @property
    def log_acc(self) -> tuple[float, int]:
        return float(self.loss_sum), self.n

    def add(self, step_loss: torch.Tensor, tokens: int) -> None:
        self.loss_sum += step_loss
        self.n += 1
        self.tokens += tokens

    def mean_loss(self, env: dist.DistEnv) -> float:
        return float(dist.all_reduce_mean(env, (self.loss_sum / self.n).to(env.device)))

    def close(self, wall0: float, t0: float) -> dict:
        """The line's speed and wall time; the next window starts now."""
        now = time.perf_counter()
        out = {"tok_s": self.tokens / (now - self.since), "wall_s": wall0 + now - t0}
        self.loss_sum, self.n, self.tokens, self.since = torch.zeros((), dtype=torch.float64), 0, 0, now
        return out


def _append_line(path, rec: dict, step: int) -> None:
    with open(path, "a") as f:
        line = json.dumps(rec) + "\n"
        faults.point("train.metrics", step, file=f, data=line)
        f.write(line)
