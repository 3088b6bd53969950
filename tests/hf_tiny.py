"""A tiny, randomly initialised ``LlamaForCausalLM`` with its own BPE tokenizer, saved like a Hub checkpoint.

Stands in for a real Llama checkpoint in the interop tests, and on the command line (no download)::

    python tests/hf_tiny.py /tmp/tiny-llama
    python -m harness finetune --from-hf /tmp/tiny-llama --recipe stocha-p0.7 --steps 20 --batch-size 4 \\
        --seq-len 64 --lr 3e-3 --mix synth_code=1 --synth-docs 300

The tokenizer is a byte-level BPE (Llama's special-token layout: ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2; BOS
added by default) trained in milliseconds on synthetic code, so its ids are unlike our byte tokenizer's.
The model uses grouped KV heads, tied embeddings and a non-default ``rope_theta``, so a conversion that
ignored any of them would fail the logits checks. Weights are drawn with std 0.1 (not 0.02) so logits
are far from uniform and a wrong permutation cannot hide below the tolerance.
"""

from __future__ import annotations

import pathlib
import sys

SPECIALS = ["<unk>", "<s>", "</s>"]


def train_tokenizer(vocab_size: int = 384):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from harness.data import synth

    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(synth.train_documents("code", 200, seed=7), trainer=trainer)
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                      special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def make_tiny_llama(path, *, hidden_act: str = "silu", seed: int = 0, **config) -> pathlib.Path:
    """Save the tiny checkpoint (safetensors + tokenizer) to ``path``; ``config`` overrides LlamaConfig."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = pathlib.Path(path)
    tok = train_tokenizer()
    kw = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=160, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6,
              rope_theta=50000.0, hidden_act=hidden_act, tie_word_embeddings=True, initializer_range=0.1,
              bos_token_id=1, eos_token_id=2, pad_token_id=None)
    kw.update(config)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**kw)).eval()
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the repo, for harness.data.synth
    out = make_tiny_llama(sys.argv[1] if len(sys.argv) > 1 else "tiny-llama")
    print(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")
