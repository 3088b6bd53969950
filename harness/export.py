"""Export a trained (or fine-tuned) run to a Hugging Face transformers checkpoint.

    python -m harness export --model swi-ft-a0.1 --scale tiny --format hf /tmp/swi-ft-hf
    python -m harness export --model stocha-p0.7-a0.05 --scale small --seed 1 --format hf out/hf/stocha
    python -m harness export --model stocha-p0.7 --scale hf-smollm2-135m --format hf /tmp/relufied  # a fine-tune
    make export MODEL=relu SCALE=tiny OUT=/tmp/relu-hf

The directory then loads anywhere, offline, with the tools people deploy with::

    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(DIR)     # LlamaForCausalLM, hidden_act relu
    tok = AutoTokenizer.from_pretrained(DIR)              # our byte tokenizer: same ids
    lm_eval --model hf --model_args pretrained=DIR --tasks ...

What it writes: ``config.json`` (``LlamaForCausalLM``; ``hidden_act`` = the recipe's inference activation,
relu for Swi+FT and StochA, or ``--act``), ``model.safetensors``, ``generation_config.json``, the tokenizer
(``tokenizer.json`` + ``tokenizer_config.json``: for byte-level runs a transformers tokenizer with our
byte tokenizer's ids, BOS added by default; for fine-tuned runs the checkpoint's own tokenizer) and
``sparsebench.json`` (the run, variant, step, checkpoint and the logits check).

The check: the written directory is loaded back with ``AutoModelForCausalLM``/``AutoTokenizer``, a fixed
text is tokenized by both tokenizers (ids must be equal) and the logits compared; the export fails when
max |Δ logit| > 1e-4 · max(1, max |logit|) (fp32; measured ≈2e-6 on the tiny models). A stochastic
inference activation cannot be exported (transformers has none): pass ``--act relu`` or ``--act silu``.
The files are written to a temp directory beside OUT_DIR and renamed into place; an existing OUT_DIR
is never overwritten unless ``--force``.
"""

from __future__ import annotations

import pathlib
import shutil
import tempfile

import torch

from harness.paths import atomic_write_json

FORMATS = ("hf",)
RTOL = 1e-4  # allowed max |Δ logit| relative to max(1, max |logit|)
CHECK_TEXT = "def add(a, b):\n    \"\"\"Return a + b. Ünïcode: λ, 😀\"\"\"\n    return a + b\n\nprint(add(2, 3))\n"


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


def hf_tokenizer_for(tok, model_max_length: int):
    """The transformers tokenizer to ship: the byte tokenizer rebuilt for transformers, or the run's own."""
    from harness.tokenizer import HFTokenizer, byte_hf_tokenizer

    if isinstance(tok, HFTokenizer):
        return tok.hf
    if tok.name != "byte":
        raise ValueError(f"cannot export tokenizer {tok.name!r}")
    return byte_hf_tokenizer(model_max_length)


def _prepare_out(out: pathlib.Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(f"{out} exists and is not empty; pass --force to replace it")


@torch.no_grad()
def check_export(model, tok, directory) -> dict:
    """Load ``directory`` with transformers and compare tokens and logits with ours on CHECK_TEXT."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = AutoModelForCausalLM.from_pretrained(str(directory), local_files_only=True).eval()
    hf_tok = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    ours_ids = tok.encode(CHECK_TEXT, bos=True)[: model.cfg.max_seq_len]
    theirs_ids = ([hf_tok.bos_token_id if hf_tok.bos_token_id is not None else hf_tok.eos_token_id]
                  + hf_tok.encode(CHECK_TEXT, add_special_tokens=False))[: model.cfg.max_seq_len]
    if ours_ids != theirs_ids:
        raise RuntimeError(f"export check: the exported tokenizer gives other ids than the run's "
                           f"({theirs_ids[:8]}... vs {ours_ids[:8]}...)")
    x = torch.tensor([ours_ids])
    device = next(model.parameters()).device
    a = model(x.to(device)).float().cpu()
    b = hf(x).logits.float()
    diff, scale = float((a - b).abs().max()), max(1.0, float(a.abs().max()))
    ok = diff <= RTOL * scale
    return {"text_tokens": len(ours_ids), "max_abs_logit_diff": diff, "max_abs_logit": float(a.abs().max()),
            "tolerance": RTOL * scale, "tokens_equal": True, "argmax_equal": bool((a.argmax(-1) == b.argmax(-1)).all()),
            "ok": ok, "hidden_act": hf.config.hidden_act, "loaded_class": type(hf).__name__}


def export_hf(model, tok, out, *, act: str | None = None, meta: dict | None = None, force: bool = False,
              check: bool = True) -> dict:
    """Write ``model`` (+ tokenizer) to ``out`` as a transformers checkpoint; returns sparsebench.json's dict.

    ``act`` overrides the model's current FFN activation for the export (relu, silu, gelu).
    """
    from harness.generate import activation
    from harness.hf import hf_act, to_hf_llama

    out = pathlib.Path(out).expanduser().resolve()
    _prepare_out(out, force)
    model.eval()
    with activation(model, act):  # a bad or stochastic --act fails here, before anything is written
        exported_act = hf_act(model)  # refuses a stochastic activation
        hf = to_hf_llama(model, bos_id=tok.bos_id, eos_id=tok.eos_id, pad_id=tok.pad_id)
        hf_tok = hf_tokenizer_for(tok, model.cfg.max_seq_len)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = pathlib.Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
        try:
            hf.save_pretrained(str(tmp))
            hf_tok.save_pretrained(str(tmp))
            if not (tmp / "model.safetensors").exists() and not (tmp / "model.safetensors.index.json").exists():
                raise RuntimeError("transformers did not write safetensors weights")
            info = {"format": "sparsebench.hf-export/1", "hidden_act": exported_act,
                    "tokenizer": tok.to_dict(), **(meta or {})}
            if check:
                info["check"] = check_export(model, tok, tmp)
                if not info["check"]["ok"]:
                    c = info["check"]
                    raise RuntimeError(f"export check failed: max |Δ logit| {c['max_abs_logit_diff']:.3g} > "
                                       f"{c['tolerance']:.3g} between our model and the exported one")
            atomic_write_json(tmp / "sparsebench.json", info)
            if out.exists():  # empty, or --force
                shutil.rmtree(out)
            tmp.rename(out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return info


def run(args) -> int:
    from harness.checkpoint import final_checkpoint, load_for_inference
    from harness.paths import run_dir
    from models.registry import get_variant

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
