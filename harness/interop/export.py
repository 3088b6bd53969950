"""Export a trained (or fine-tuned) run to a Hugging Face transformers checkpoint.

    >>> from harness.infer.load import load_for_inference
    >>> model, info = load_for_inference("out/runs/tiny/relu/s0")            # doctest: +SKIP
    >>> export_hf(model, info["tok"], "/tmp/relu-hf")                         # doctest: +SKIP

(``python -m harness export`` is the command line: ``harness.commands.export``.)

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

from harness.results import atomic_write_json

RTOL = 1e-4  # allowed max |Δ logit| relative to max(1, max |logit|)
CHECK_TEXT = "def add(a, b):\n    \"\"\"Return a + b. Ünïcode: λ, 😀\"\"\"\n    return a + b\n\nprint(add(2, 3))\n"


def hf_tokenizer_for(tok, model_max_length: int):
    """The transformers tokenizer to ship: the byte tokenizer rebuilt for transformers, or the run's own."""
    from harness.data.tokenizer import HFTokenizer, byte_hf_tokenizer

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
    from harness.infer.generate import activation
    from harness.interop.hf import hf_act, to_hf_llama

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
