"""The training corpus: a mixture of token files, and batches that are a pure function of the step.

Sources (each tokenized once into a memory-mapped token file under ``out/cache/corpus/``):

- ``synth_code``   small Python functions (signature, docstring with examples, body) — ``harness.data.synth``
- ``synth_reason`` grade-school word problems with worked solutions ending in ``#### N`` — ``harness.data.synth``
- ``stdlib``       the CPython standard library found on this machine (no tests); whole modules
                   (:data:`HELDOUT_STDLIB`) are held out for validation
- ``user``         your own text: a .txt/.md/... file, a .jsonl file (one document per line: a string or
                   an object with ``text``), a folder of those, or ``hf:NAME`` (a Hugging Face dataset
                   already in the local cache, or reachable with ``HF_HUB_OFFLINE=0``)

Each document is stored as ``BOS text EOS``. The synthetic train/eval split is decided by
``harness.data.synth.split_of`` (a hash of the prompt), so no evaluation prompt is ever trained on.
Validation tokens come from the held-out parts: eval-split synthetic items, held-out stdlib modules, and
the last 5% of a user corpus.

A batch is a deterministic function of ``(seed, step)``: row ``i`` of step ``s`` draws its source (by
the mixture weights) and its window offset from ``numpy.random.default_rng([seed, s])``. A run resumes
exactly from the step number alone, and the global batch is the same whatever the number of processes
or gradient-accumulation steps (each takes its slice of rows).

    python -m harness data --stats                              # documents and tokens per source
    python -m harness data --stats --data ~/my_corpus.jsonl     # tokenize your own corpus once

The mixture is a ``harness.data.config.DataConfig``; the documents of each source come from
``harness.data.sources``.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys

import numpy as np
import torch

from harness.data import synth
from harness.data.config import DataConfig
from harness.data.sources import (
    HELDOUT_STDLIB,
    SYNTH_VAL_ITEMS,
    stdlib_docs,
    stdlib_root,
    synth_docs,
    user_docs,
    user_key,
)
from harness.data.tokenizer import get_tokenizer
from harness.paths import cache_dir
from harness.results import atomic_write, atomic_write_json

FORMAT = 1  # bump when the token-file layout or document encoding changes (invalidates the cache)
USER_VAL_FRACTION = 0.05


# ---- token files ------------------------------------------------------------------------------
class TokenFile:
    """A memory-mapped 1-D token array plus its metadata (``<name>.bin`` + ``<name>.json``)."""

    def __init__(self, path: pathlib.Path):
        self.meta = json.loads(path.with_suffix(".json").read_text())
        self.path = path
        self.tokens = np.memmap(path, dtype=np.dtype(self.meta["dtype"]), mode="r",
                                shape=(self.meta["n_tokens"],))

    def __len__(self) -> int:
        return int(self.meta["n_tokens"])


def _encode(tok, text: str, dtype) -> np.ndarray:
    if tok.name == "byte":  # fast path: bytes are the ids
        body = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(dtype)
        return np.concatenate([np.array([tok.bos_id], dtype), body, np.array([tok.eos_id], dtype)])
    return np.asarray(tok.encode(text, bos=True, eos=True), dtype=dtype)


def _source_key(source: str, split: str, cfg: DataConfig, tok) -> dict:
    key = {"format": FORMAT, "source": source, "split": split, "tokenizer": tok.to_dict()}
    if source.startswith("synth"):
        key.update(seed=cfg.corpus_seed, n=cfg.synth_docs if split == "train" else SYNTH_VAL_ITEMS,
                   synth_sha=hashlib.sha256(pathlib.Path(synth.__file__).read_bytes()).hexdigest())
    elif source == "stdlib":
        key.update(python=sys.version.split()[0], root=str(stdlib_root()), heldout=list(HELDOUT_STDLIB))
    else:
        key.update(data=user_key(cfg.data), val_fraction=USER_VAL_FRACTION)
    return key


def _write_tokens(path: pathlib.Path, arr: np.ndarray, meta: dict) -> None:
    atomic_write(path, lambda f: f.write(arr.tobytes()))
    atomic_write_json(path.with_suffix(".json"), meta)  # written last: its presence marks a complete file


def token_file(source: str, split: str, cfg: DataConfig, tokenizer=None) -> TokenFile:
    """The token file of one source and split ("train" or "val"), built on first use and cached."""
    tok = tokenizer or get_tokenizer()
    key = _source_key(source, split, cfg, tok)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / "corpus" / f"{source}-{split}-{digest}.bin"
    if path.exists() and path.with_suffix(".json").exists():
        return TokenFile(path)
    dtype = np.uint16 if tok.vocab_size <= 65536 else np.uint32
    if source == "user":
        docs = list(user_docs(cfg.data))
        arrs = [_encode(tok, d, dtype) for d in docs if d.strip()]
        if not arrs:
            raise ValueError(f"--data {cfg.data}: no text found (empty corpus)")
        full = np.concatenate(arrs)
        cut = len(full) - max(1, int(len(full) * USER_VAL_FRACTION))  # the last 5% is validation
        arr = full[:cut] if split == "train" else full[cut:]
        n_docs = len(arrs)
    else:
        docs = stdlib_docs(split) if source == "stdlib" else synth_docs(source, split, cfg)
        arrs = [_encode(tok, d, dtype) for d in docs if d.strip()]
        if not arrs:
            raise RuntimeError(f"corpus source {source} ({split}) produced no documents")
        arr, n_docs = np.concatenate(arrs), len(arrs)
    meta = {**key, "key_digest": digest, "dtype": np.dtype(dtype).name, "n_tokens": int(len(arr)),
            "n_docs": n_docs, "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}
    _write_tokens(path, arr, meta)
    return TokenFile(path)


# ---- the mixture and its batches --------------------------------------------------------------
class Corpus:
    """The mixture of sources for one split; :meth:`batch` is a pure function of (seed, step, rows)."""

    def __init__(self, cfg: DataConfig | None = None, split: str = "train", tokenizer=None):
        self.cfg = cfg or DataConfig()
        self.split = split
        self.tokenizer = tokenizer or get_tokenizer()
        self.names = sorted(self.cfg.mix)  # fixed order: the draw must not depend on dict order
        self.files = [token_file(n, split, self.cfg, self.tokenizer) for n in self.names]
        w = np.array([self.cfg.mix[n] for n in self.names], dtype=np.float64)
        self.weights = w / w.sum()

    @property
    def digest(self) -> str:
        """Identifies the exact tokens and weights (stored in checkpoints and results)."""
        h = hashlib.sha256()
        for n, f, w in zip(self.names, self.files, self.weights):
            h.update(f"{n}:{f.meta['sha256']}:{w!r};".encode())
        return h.hexdigest()

    def info(self) -> dict:
        return {"digest": self.digest, "split": self.split, "sources": [
            {"name": n, "weight": float(w), "docs": f.meta["n_docs"], "tokens": len(f), "file": str(f.path)}
            for n, f, w in zip(self.names, self.files, self.weights)]}

    def windows(self, seed: int, step: int, n_rows: int, length: int) -> np.ndarray:
        """The step's whole global batch: ``n_rows`` windows of ``length`` tokens, (n_rows, length)."""
        rng = np.random.default_rng([seed, step])
        src = rng.choice(len(self.names), size=n_rows, p=self.weights)
        u = rng.random(n_rows)
        out = np.empty((n_rows, length), dtype=np.int64)
        for i, (s, ui) in enumerate(zip(src, u)):
            toks = self.files[s].tokens
            if len(toks) < length:
                raise ValueError(f"corpus source {self.names[s]} ({self.split}) has {len(toks)} tokens, "
                                 f"fewer than one sequence of {length}")
            starts = self._doc_starts(s, length)
            if starts is not None:  # short documents: start the window at one, so it is seen whole
                off = int(starts[int(ui * len(starts))])
            else:  # long documents (stdlib modules): any offset, or only their beginnings would be seen
                off = int(ui * (len(toks) - length + 1))
            out[i] = toks[off:off + length]
        return out

    def _doc_starts(self, s: int, length: int) -> np.ndarray | None:
        """Offsets of the documents of source ``s`` that can start a window of ``length`` tokens, if its
        documents are short (shorter than a window on average); None for long-document sources.

        Why: a window cut mid-document shows a function body without its signature (or an answer without
        its question) and teaches the model to guess from priors instead of reading the prompt; aligned
        windows made the small models use their prompts."""
        key = (s, length)
        cache = self.__dict__.setdefault("_starts", {})
        if key not in cache:
            f = self.files[s]
            toks = f.tokens
            starts = None
            if len(toks) / max(1, f.meta["n_docs"]) < length:  # documents start with the tokenizer's BOS
                starts = np.flatnonzero(np.asarray(toks) == self.tokenizer.bos_id)
                starts = starts[starts <= len(toks) - length]
                if len(starts) == 0:
                    starts = None
            cache[key] = starts
        return cache[key]

    def batch(self, seed: int, step: int, global_batch: int, seq_len: int, rows: slice | None = None):
        """(inputs, targets) LongTensors of shape (rows, seq_len) for this process's slice of rows."""
        w = torch.from_numpy(self.windows(seed, step, global_batch, seq_len + 1)[rows or slice(None)])
        return w[:, :-1], w[:, 1:]


def validation_tokens(n_seqs: int, seq_len: int, seed: int = 0, cfg: DataConfig | None = None, tokenizer=None):
    """Fixed held-out tokens (n_seqs, seq_len): eval-split synthetic text and held-out stdlib modules
    (or the held-out tail of a user corpus), mixed by the corpus weights, in ``tokenizer``'s ids (default:
    the byte tokenizer). Deterministic."""
    corpus = Corpus(cfg or DataConfig(), split="val", tokenizer=tokenizer)
    return torch.from_numpy(corpus.windows(seed, 0, n_seqs, seq_len))


def training_data(cfg: DataConfig, seq_len: int, eval_seqs: int, tokenizer=None):
    """(the training corpus, the validation windows (eval_seqs, seq_len + 1)) of a run; a source shorter
    than one training sequence fails here, before the run writes anything."""
    corpus = Corpus(cfg, "train", tokenizer)
    for name, f in zip(corpus.names, corpus.files):
        if len(f) < seq_len + 1:
            raise ValueError(f"corpus source {name} has only {len(f)} tokens, fewer than one sequence of "
                             f"{seq_len + 1}")
    return corpus, validation_tokens(eval_seqs, seq_len + 1, seed=0, cfg=cfg, tokenizer=tokenizer)


def stats(cfg: DataConfig) -> list[dict]:
    """Documents and tokens per source and split (``python -m harness data --stats``)."""
    rows = []
    for split in ("train", "val"):
        for s in Corpus(cfg, split).info()["sources"]:
            rows.append({"split": split, **s})
    return rows
