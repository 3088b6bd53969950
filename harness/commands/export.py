"""Export a trained (or fine-tuned) run to a Hugging Face transformers checkpoint.

    python -m harness export --model swi-ft-a0.1 --scale tiny --format hf /tmp/swi-ft-hf
    python -m harness export --model stocha-p0.7-a0.05 --scale small --seed 1 --format hf out/hf/stocha
    python -m harness export --model stocha-p0.7 --scale hf-smollm2-135m --format hf /tmp/relufied  # a fine-tune
    make export MODEL=relu SCALE=tiny OUT=/tmp/relu-hf

What it writes and how it checks the export: ``harness.interop.export``.
"""

from __future__ import annotations

import pathlib

from harness.paths import run_dir
from harness.train.checkpoint_files import final_checkpoint
from models.registry import get_variant

HELP = "export a run to a Hugging Face transformers checkpoint"
FORMATS = ("hf",)


def add_arguments(p) -> None:
    p.add_argument("out", metavar="OUT_DIR", help="directory to create (must not exist, or be empty)")
    g = p.add_argument_group("run")
    g.add_argument("--model", required=True, help="variant name of the run, e.g. swi-ft-a0.1")
    g.add_argument("--scale", default="small", help="scale of the run (hf-NAME for a fine-tuned checkpoint)")
    g.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("export")
    g.add_argument("--format", default="hf", choices=FORMATS, help="hf: transformers LlamaForCausalLM + tokenizer")
    g.add_argument("--act", default=None,
                   help="FFN activation to export: relu | silu | gelu (default: the recipe's inference activation)")
    g.add_argument("--force", action="store_true", help="replace an existing OUT_DIR")
    g.add_argument("--no-check", action="store_true", help="skip loading the export back and comparing logits")



def run(args) -> int:
    from harness.infer.load import load_for_inference
    from harness.interop.export import export_hf

    if args.format != "hf":
        raise ValueError(f"unknown format {args.format!r}; valid: {', '.join(FORMATS)}")
    variant = get_variant(args.model)
    rd = run_dir(args.scale, variant.name, args.seed)
    if final_checkpoint(rd) is None:
        raise FileNotFoundError(f"no finished run in {rd}: train it first (python -m harness train --model "
                                f"{variant.name} --scale {args.scale} --seed {args.seed}), or fine-tune one "
                                f"(python -m harness finetune --from-hf PATH --recipe R)")
    model, info = load_for_inference(rd)
    meta = {"run": {"scale": info["scale"], "model": variant.name, "seed": info["seed"], "step": info["step"],
                    "checkpoint": info["checkpoint"]}, "variant": variant.to_dict(), "label": variant.label,
            "inference_act": str(variant.inference_act)}
    res = export_hf(model, info["tok"], args.out, act=args.act, meta=meta, force=args.force,
                    check=not args.no_check)
    out = pathlib.Path(args.out).expanduser().resolve()
    print(f"exported {variant.name} @ {info['scale']} seed {info['seed']} (step {info['step']}) → {out}")
    print(f"  LlamaForCausalLM, hidden_act {res['hidden_act']}, tokenizer {res['tokenizer']['name']}, "
          f"files: {', '.join(sorted(p.name for p in out.iterdir()))}")
    if "check" in res:
        c = res["check"]
        print(f"  check: reloaded with AutoModelForCausalLM; tokens equal; max |Δ logit| "
              f"{c['max_abs_logit_diff']:.2e} (tolerance {c['tolerance']:.1e}) over {c['text_tokens']} tokens")
    print(f"  use: AutoModelForCausalLM.from_pretrained({str(out)!r}); lm_eval --model hf --model_args "
          f"pretrained={out}")
    return 0
