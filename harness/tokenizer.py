"""Byte-level tokenizer: no download, exact round-trip of any UTF-8 text.

Ids 0–255 are bytes; 256 = BOS, 257 = EOS, 258 = PAD; the vocabulary is padded to 264
(``models.registry.BYTE_VOCAB``) so embedding rows are a multiple of 8. Other tokenizers plug in by
offering the same four members (``vocab_size``, ``encode``, ``decode``, ``eos_id``/``bos_id``/``pad_id``).

    >>> tok = ByteTokenizer()
    >>> tok.decode(tok.encode("def f(x): return x + 1"))
    'def f(x): return x + 1'
"""

from __future__ import annotations


class ByteTokenizer:
    name = "byte"
    vocab_size = 264
    bos_id, eos_id, pad_id = 256, 257, 258

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        ids = list(text.encode("utf-8"))
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids) -> str:
        """Bytes → text; special ids are dropped and invalid UTF-8 (a cut multi-byte char) is replaced."""
        return bytes(int(i) for i in ids if int(i) < 256).decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        return {"name": self.name, "vocab_size": self.vocab_size}


def get_tokenizer(spec: dict | str | None = None) -> ByteTokenizer:
    name = spec.get("name") if isinstance(spec, dict) else (spec or "byte")
    if name != "byte":
        raise ValueError(f"unknown tokenizer {name!r}; valid: byte")
    return ByteTokenizer()
