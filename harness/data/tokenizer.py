"""Tokenizers: our byte tokenizer, a Hugging Face tokenizer behind the same small interface, and a
transformers tokenizer that is the byte tokenizer (same ids) for exported checkpoints.

Byte tokenizer: ids 0–255 are bytes; 256 = BOS, 257 = EOS, 258 = PAD; the vocabulary is padded to 264
(``models.registry.BYTE_VOCAB``) so embedding rows are a multiple of 8. Every tokenizer here offers the
same members: ``name``, ``vocab_size``, ``bos_id``/``eos_id``/``pad_id``, ``encode(text, bos=, eos=)``,
``decode(ids)`` and ``to_dict()`` (what checkpoints and corpus caches record).

    >>> tok = ByteTokenizer()
    >>> tok.decode(tok.encode("def f(x): return x + 1"))
    'def f(x): return x + 1'
    >>> hf = byte_hf_tokenizer()                      # a transformers tokenizer with the same ids
    >>> hf("hé")["input_ids"] == ByteTokenizer().encode("hé", bos=True)
    True
    >>> HFTokenizer(hf).encode("hé", bos=True)        # any transformers tokenizer, our interface
    [256, 104, 195, 169]

A run fine-tuned from a Hugging Face checkpoint (``harness.interop.finetune``) keeps its tokenizer in
``<run>/tokenizer/`` and records ``{"name": "hf", ...}``; :func:`get_tokenizer` loads it from there.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

HF_TOKENIZER_DIR = "tokenizer"  # where a run directory keeps its Hugging Face tokenizer


class ByteTokenizer:
    name = "byte"
    vocab_size = 264
    bos_id, eos_id, pad_id = 256, 257, 258
    adds_bos = True  # prompts and contexts start with BOS, as the training documents do

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        ids = list(text.encode("utf-8"))
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids) -> str:
        """Bytes → text; special ids are dropped and invalid UTF-8 (a cut multi-byte char) is replaced."""
        return bytes(int(i) for i in ids if int(i) < 256).decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        return {"name": self.name, "vocab_size": self.vocab_size}


class HFTokenizer:
    """A transformers tokenizer (or a local directory holding one) with the byte tokenizer's interface.

    ``encode`` never lets the tokenizer add its own special tokens: BOS/EOS are added here when asked, so
    a document is ``BOS text EOS`` whatever the tokenizer's post-processor does. A tokenizer without a
    BOS token uses its EOS as BOS (what lm-eval does for such models); one without PAD pads with EOS.
    """

    name = "hf"

    def __init__(self, tokenizer):
        if isinstance(tokenizer, (str, pathlib.Path)):
            tokenizer = load_hf_tokenizer(tokenizer)
        self.hf = tokenizer
        self.eos_id = tokenizer.eos_token_id
        if self.eos_id is None:
            raise ValueError(f"tokenizer {tokenizer.name_or_path!r} has no EOS token: documents cannot be "
                             f"delimited")
        self.bos_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else self.eos_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self.vocab_size = len(tokenizer)
        # Whether the tokenizer itself starts a text with BOS (Llama's do; SmolLM2's, GPT-2's do not, and
        # their BOS id is a chat marker). Prompts and lm-eval contexts follow it, as transformers' generate
        # and lm-eval's hf model do on the same tokenizer.
        ids = tokenizer.encode("a")
        self.adds_bos = bool(ids) and ids[0] == tokenizer.bos_token_id

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        # verbose=False: whole documents are encoded here (windows are cut later), so "longer than the
        # model's maximum length" is expected, not a problem worth a warning.
        ids = self.hf.encode(text, add_special_tokens=False, verbose=False)
        return ([self.bos_id] if bos else []) + list(ids) + ([self.eos_id] if eos else [])

    def decode(self, ids) -> str:
        return self.hf.decode([int(i) for i in ids], skip_special_tokens=True)

    def digest(self) -> str:
        """Identifies the token ↔ id mapping (not where the files lie): corpus caches key on it."""
        if "_digest" not in self.__dict__:
            self._digest = self._compute_digest()  # a 128k vocabulary takes a moment; asked per corpus file
        return self._digest

    def _compute_digest(self) -> str:
        vocab = sorted(self.hf.get_vocab().items(), key=lambda kv: kv[1])
        blob = json.dumps([vocab, self.bos_id, self.eos_id, self.pad_id, type(self.hf).__name__,
                           sorted(self.hf.all_special_tokens)], ensure_ascii=False)
        # The merges decide how text splits; the vocabulary alone does not (two BPEs can share one).
        backend = getattr(self.hf, "backend_tokenizer", None)
        if backend is not None:
            blob += backend.to_str()
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict:
        return {"name": self.name, "vocab_size": self.vocab_size, "bos_id": self.bos_id, "eos_id": self.eos_id,
                "pad_id": self.pad_id, "class": type(self.hf).__name__, "sha256": self.digest()}

    def save(self, directory) -> None:
        self.hf.save_pretrained(str(directory))


def load_hf_tokenizer(path):
    """``AutoTokenizer.from_pretrained`` on a local directory only (never the Hub)."""
    from transformers import AutoTokenizer

    path = pathlib.Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no tokenizer directory {path}")
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FileNotFoundError(f"cannot load a tokenizer from {path}: {msg}") from None


def byte_hf_tokenizer(model_max_length: int | None = None):
    """A ``transformers`` fast tokenizer whose ids are exactly :class:`ByteTokenizer`'s.

    Byte-level pre-tokenizer (bytes ↔ printable characters, GPT-2's table) over a BPE without merges whose
    vocabulary maps byte b's character to id b; then ``<s>`` 256, ``</s>`` 257, ``<pad>`` 258 and five
    unused ids up to 264. BOS is added by default (``add_special_tokens=True``), like our documents and
    prompts start. ``split_special_tokens``: the text ``"<s>"`` is three bytes, as in ByteTokenizer.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    b2u = bytes_to_unicode()
    tk = Tokenizer(models.BPE(vocab={b2u[b]: b for b in range(256)}, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tk.decoder = decoders.ByteLevel()
    t = ByteTokenizer()
    specials = ["<s>", "</s>", "<pad>"] + [f"<unused{i}>" for i in range(t.vocab_size - 259)]
    tk.add_special_tokens(specials)
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                      special_tokens=[("<s>", t.bos_id)])
    hf = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                 split_special_tokens=True, model_max_length=model_max_length or 1 << 30)
    ids = [tk.token_to_id(s) for s in ("<s>", "</s>", "<pad>")]
    if ids != [t.bos_id, t.eos_id, t.pad_id] or len(hf) != t.vocab_size:  # guards a tokenizers upgrade
        raise RuntimeError(f"byte tokenizer for transformers came out with special ids {ids}, size {len(hf)}")
    return hf


def get_tokenizer(spec: dict | str | None = None, run_dir=None):
    """The tokenizer a checkpoint records: ``byte`` (default), or ``hf`` loaded from ``<run_dir>/tokenizer``."""
    name = spec.get("name") if isinstance(spec, dict) else spec
    name = name or "byte"
    if name == "byte":
        return ByteTokenizer()
    if name == "hf":
        if run_dir is None:
            raise ValueError("a Hugging Face tokenizer is loaded from its run directory; none given")
        tok = HFTokenizer(pathlib.Path(run_dir) / HF_TOKENIZER_DIR)
        want = spec.get("sha256") if isinstance(spec, dict) else None
        if want and tok.digest() != want:
            raise ValueError(f"the tokenizer in {run_dir}/{HF_TOKENIZER_DIR} differs from the one the checkpoint "
                             f"was trained with (sha256 {tok.digest()[:12]} != {want[:12]})")
        return tok
    raise ValueError(f"unknown tokenizer {name!r}; valid: byte, hf")
