"""Relufy a real checkpoint end to end: import it, measure it as shipped and with RELU swapped in, fine-tune
it with each recipe, evaluate every run on the same suites, and print them side by side.

    python -m harness relufy --from-hf SmolLM2-135M-Instruct.Q4_1.gguf --name smollm2-135m-instruct \\
        --recipes swi-ft,stocha-p0.7,silu --steps 2000 --batch-size 32 --seq-len 512 --device cuda
    make relufy-real                                   # the same on the packaged SmolLM2 GGUF (a GPU job)
    make relufy-real RELUFY_STEPS=2 RELUFY_BATCH=2 RELUFY_SEQ=32 LIMIT=2 REAL_SUITES=syn_choice   # CPU toy

The runs, all under the scale ``hf-NAME``: ``<act>/s0`` is the checkpoint as imported (step 0,
``harness.interop.import_run``), evaluated with its own activation and with ``--eval-act relu`` (zero-shot
relufication); each recipe's fine-tune is ``<variant>/s1`` (``harness.interop.finetune``; seed 1, so the
``silu`` control does not collide with the import). Token budget per recipe: steps × batch size × sequence
length (default 2000 × 32 × 512 = 32.8M tokens). Every stage skips what is already done, so a killed
run resumes by running the same command again.
"""

from __future__ import annotations

from harness.commands.data_args import add_data_arguments, config_from_args

HELP = "import a checkpoint, fine-tune it with relufication recipes, evaluate and compare all"
FT_SEED = 1  # s0 under hf-NAME is the checkpoint as imported


def add_arguments(p) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--from-hf", required=True, metavar="PATH", help="Llama checkpoint directory or .gguf file")
    g.add_argument("--name", help="the scale becomes hf-NAME (default: the directory's name or file's stem)")
    g.add_argument("--recipes", default="swi-ft,stocha-p0.7,silu", help="comma-separated finetune recipes")
    g.add_argument("--steps", type=int, default=2000, help="fine-tuning steps per recipe")
    g.add_argument("--batch-size", type=int, default=32, help="sequences per step")
    g.add_argument("--seq-len", type=int, default=512, help="tokens per sequence")
    g.add_argument("--lr", type=float, help="peak learning rate (finetune's default 1e-4)")
    g.add_argument("--grad-accum", type=int, help="micro-batches per step")
    g.add_argument("--eval-seqs", type=int, help="held-out windows for the fine-tunes' validation loss")
    g.add_argument("--eval-every", type=int, help="validation every N steps")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    g = p.add_argument_group("evaluation")
    g.add_argument("--suites", default="stdlib_bpb,syn_choice,syn_reason,gsm8k_100,syn_code,humaneval",
                   help="comma-separated suites every run is evaluated on")
    g.add_argument("--limit", type=int, help="only the first N items of each suite (partial results)")
    g.add_argument("--items", type=int, help="items in each generated suite (default 600; whole results)")
    g.add_argument("--batch-size-eval", type=int, default=16, help="generation / scoring batch size")
    g.add_argument("--no-profile", action="store_true", help="skip the sparsity profiles")
    add_data_arguments(p)


def run(args) -> int:
    import time

    from harness.evaluation.evaluate import run_eval
    from harness.evaluation.table import print_table
    from harness.interop.finetune import FinetuneConfig, finetune, resolve_recipe
    from harness.interop.import_run import import_checkpoint
    from harness.profiling.profile_run import run_profile

    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    if not recipes:
        raise ValueError("--recipes is empty")
    variants = [resolve_recipe(r) for r in recipes]  # every name checked before anything runs
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    t0 = time.perf_counter()
    progress = not args.no_progress
    rd = import_checkpoint(args.from_hf, args.name)
    scale, own = rd.parts[-3], rd.parts[-2]
    opt = {k: getattr(args, k) for k in ("lr", "grad_accum", "eval_seqs", "eval_every")}
    cfgs = [FinetuneConfig.create(args.from_hf, r, name=scale[3:], seed=FT_SEED, steps=args.steps,
                                  batch_size=args.batch_size, seq_len=args.seq_len, data=config_from_args(args),
                                  device=args.device, **opt) for r in recipes]
    ev = dict(suites=suites, limit=args.limit, items=args.items, batch_size=args.batch_size_eval, profile=False,
              train=False, progress=progress)
    stages = [("as imported", lambda: run_eval(scale, own, 0, **ev)),
              ("zero-shot relu", lambda: run_eval(scale, own, 0, eval_act="relu", **ev))]
    if not args.no_profile:
        stages += [("profile", lambda: run_profile(scale, own, 0, widths=())),
                   ("profile relu", lambda: run_profile(scale, own, 0, widths=(), act="relu"))]
    for cfg, v in zip(cfgs, variants):
        stages.append((f"fine-tune {cfg.recipe}", lambda cfg=cfg: finetune(cfg, resume=True, progress=progress)))
        stages.append((f"eval {v.name}", lambda v=v: run_eval(scale, v.name, FT_SEED, **ev)))
        if not args.no_profile and v.inference_act.sparse:
            stages.append((f"profile {v.name}", lambda v=v: run_profile(scale, v.name, FT_SEED, widths=())))
    for label, stage in stages:
        t = time.perf_counter()
        print(f"== {label}")
        stage()
        print(f"== {label}: {time.perf_counter() - t:.0f} s")
    print_table(scale)
    print(f"\nrelufy: {len(recipes)} recipes × {args.steps} steps × {args.batch_size} × {args.seq_len} tokens; "
          f"wall time {time.perf_counter() - t0:.0f} s")
    return 0
