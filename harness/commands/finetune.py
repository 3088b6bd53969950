"""Relufy an existing Llama checkpoint: fine-tune it with a recipe's activation schedule, as a harness run.

    python -m harness finetune --from-hf ~/models/SmolLM2-135M --recipe stocha-p0.7 --steps 500
    python -m harness finetune --from-hf /tmp/tiny-llama --recipe swi-ft --steps 20 --batch-size 4 --seq-len 64
    python -m harness finetune --from-hf DIR --recipe stocha-p0.5-a0.1 --data ~/corpus.jsonl --name mine --resume
    make finetune FROM_HF=~/models/SmolLM2-135M RECIPE=stocha-p0.7 STEPS=500

What it measures, the recipes' schedules and the run it leaves: ``harness.interop.finetune``.
"""

from __future__ import annotations

import json

from harness.commands.data_args import add_data_arguments, config_from_args
from harness.results import result_path
from harness.train.checkpoint_files import final_checkpoint
from models.registry import get_variant

HELP = "relufy an existing Llama checkpoint with a recipe"


def add_arguments(p) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--from-hf", required=True, metavar="PATH",
                   help="local transformers Llama checkpoint directory (config.json, weights, tokenizer)")
    g.add_argument("--recipe", required=True,
                   help="swi-ft (run 'relu': RELU for all K steps) | stocha-pP (run 'stocha-pP-a0.2': StochA for "
                        "0.8·K, then RELU) | any variant name (its own schedule over the K steps)")
    g.add_argument("--name", help="run name: the scale becomes hf-NAME (default: the directory's name)")
    g.add_argument("--seed", type=int, default=0, help="seeds the batches and the stochastic draws")
    g.add_argument("--steps", type=int, help="fine-tuning steps K (default 200)")
    g.add_argument("--resume", action="store_true", help="continue from the newest checkpoint if any")
    g.add_argument("--force", action="store_true", help="redo the run from the checkpoint, replacing its files")
    g.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    g = p.add_argument_group("optimization")
    for flag, typ, help_ in [("--batch-size", int, "sequences per step (default 8)"),
                             ("--seq-len", int, "tokens per sequence (default: 256, or the context if shorter)"),
                             ("--lr", float, "peak learning rate (default 1e-4)"),
                             ("--warmup", int, "warm-up steps (default 5%% of the steps)"),
                             ("--grad-accum", int, "micro-batches per step"), ("--grad-clip", float, None),
                             ("--weight-decay", float, "default 0"),
                             ("--max-seq-len", int, "cap the checkpoint's context length")]:
        g.add_argument(flag, type=typ, help=help_)
    g = p.add_argument_group("logging and checkpoints")
    for flag in ("--log-every", "--eval-every", "--eval-seqs", "--ckpt-every", "--keep-ckpts"):
        g.add_argument(flag, type=int)
    add_data_arguments(p)
    g = p.add_argument_group("hardware")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--threads", type=int, help="torch threads")


def run(args) -> int:
    from harness.interop.finetune import FinetuneConfig, finetune, write_finetune_result

    keys = ("steps", "batch_size", "seq_len", "lr", "warmup", "grad_accum", "grad_clip", "weight_decay",
            "max_seq_len", "log_every", "eval_every", "eval_seqs", "ckpt_every", "keep_ckpts", "threads")
    cfg = FinetuneConfig.create(args.from_hf, args.recipe, name=args.name, seed=args.seed,
                                data=config_from_args(args), device=args.device,
                                **{k: getattr(args, k) for k in keys})
    variant = get_variant(cfg.model)
    sched = " → ".join(f"{ph['act']} for {ph['end'] - ph['start']}" for ph in variant.schedule(cfg.steps))
    print(f"recipe {args.recipe} = {variant.name} ({variant.label}): {sched} of {cfg.steps} steps; "
          f"inference {variant.inference_act}")
    rd = finetune(cfg, resume=args.resume, force=args.force, progress=not args.no_progress)
    res = result_path(cfg.scale, cfg.model, cfg.seed, "train")
    if not res.exists() and final_checkpoint(rd):
        write_finetune_result(rd)
    r = json.loads(res.read_text())
    b, a = r["finetune"]["before"], r["finetune"]["after"]
    print(f"\n{cfg.scale} / {cfg.model} / s{cfg.seed}  (from {cfg.source})")
    print(f"  {'':<22}{'val loss':>10}{'bits/byte':>11}{'FFN sparsity':>14}")
    print(f"  {'before, ' + b['act']:<22}{b['val_loss']:>10.4f}{b['val_bpb']:>11.4f}{'':>14}")
    print(f"  {'before, ' + b['inference_act'] + ' swapped in':<22}{b['val_loss_infer']:>10.4f}"
          f"{b['val_bpb_infer']:>11.4f}{b['sparsity_infer']:>14.3f}")
    print(f"  {'after, ' + a['inference_act']:<22}{a['val_loss_infer']:>10.4f}{a['val_bpb_infer']:>11.4f}"
          f"{a['sparsity_infer']:>14.3f}")
    print(f"  → {res}\nnext:\n  python -m harness eval --model {cfg.model} --scale {cfg.scale} --seed {cfg.seed}\n"
          f"  python -m harness profile --model {cfg.model} --scale {cfg.scale} --seed {cfg.seed}\n"
          f"  python -m harness export --model {cfg.model} --scale {cfg.scale} --seed {cfg.seed} --format hf OUT_DIR")
    return 0
