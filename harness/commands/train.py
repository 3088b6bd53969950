"""Train one variant at one scale: a flat loop with the variant's activation schedule, resumable bitwise.

    python -m harness train --model stocha-p0.7-a0.05 --scale tiny            # seconds
    python -m harness train --model swi-ft-a0.1 --scale small --seed 1 --resume
    python -m harness train --model relu --scale tiny --data ~/corpus.jsonl --steps 200
    torchrun --standalone --nproc_per_node=2 -m harness train --model silu --scale tiny   # DDP (gloo on CPU)
    make train MODEL=swi-ft-a0.1 [SCALE=small] [SEED=0] [STEPS=] [NPROC=2]               # always --resume

Defaults come from the scale (``python -m harness ls``); how the run trains, resumes and what it writes:
``harness.train.trainer``.
"""

from __future__ import annotations

import json
import os

from harness.commands.data_args import add_data_arguments, config_from_args
from harness.results import result_path
from harness.train.config import TrainConfig

HELP = "train a variant (single process or under torchrun)"


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
    add_data_arguments(p)
    g = p.add_argument_group("hardware")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--threads", type=int, help="torch threads per process")
    g.add_argument("--fsdp", default="auto", choices=("auto", "on", "off"),
                   help="shard with FSDP (auto: 1.5b/3b under torchrun on GPUs)")


def run(args) -> int:
    from harness.train.trainer import train

    dcfg = config_from_args(args)
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
