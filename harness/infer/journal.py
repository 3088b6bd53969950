"""The generation journal: model outputs saved chunk by chunk, so a killed evaluation resumes where it stopped.

Generation runs in fixed chunks of consecutive items (``CHUNK_BATCHES`` batches each). A chunk's output,
and so its seeds, depend only on the chunk's own inputs and its index, never on what ran before in this
process: an evaluation resumed after a kill and an uninterrupted one produce the same outputs bit for bit.
Each finished chunk is appended to ``<suite>.chunks.jsonl`` beside the samples file as one JSON line
``{"key": sha256 of (kind, chunk size, chunk index, inputs, settings), "out": [...]}`` and fsync'ed; the
first line is a ``{"_meta": ...}`` header naming the run (checkpoint sha256, activation, seed, suite
parameters). A line torn by a kill is dropped on the next open, and that chunk is generated again.

    >>> j = ChunkJournal("/tmp/x.chunks.jsonl", {"run": 1}, fresh=True)       # doctest: +SKIP
    >>> chunked(j, "generate", prompts, 64, lambda c, part: model_outputs(part))  # doctest: +SKIP

The journal is kept after the suite finishes: a samples file damaged later is rebuilt from it without the
model (``harness.evaluation.suite_run``). ``--force`` starts a fresh one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import pathlib

from harness import faults
from harness.results import atomic_write_text

CHUNK_BATCHES = 4  # batches per chunk: small enough to lose little to a kill, large enough to keep batches full
_PUTS = itertools.count(1)


def chunk_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


class ChunkJournal:
    """Append-only record of finished chunks for one suite of one run."""

    def __init__(self, path: str | os.PathLike, meta: dict, *, fresh: bool = False, log=print):
        self.path = pathlib.Path(path)
        self.meta = json.loads(json.dumps(meta, default=str))  # as it reads back from the file
        self.done: dict[str, list] = {}
        self.reused = self.generated = self.dropped = 0
        header = json.dumps({"_meta": self.meta}) + "\n"
        lines = [] if fresh or not self.path.exists() else self.path.read_bytes().split(b"\n")
        first = _parse(lines[0]) if lines else None
        if not first or first.get("_meta") != self.meta:
            if lines and not fresh:
                log(f"  {self.path.name}: written for another run or settings; starting a new journal")
            atomic_write_text(self.path, header)
            return
        good = [lines[0]]
        for raw in lines[1:]:
            rec = _parse(raw)
            if rec is None or not isinstance(rec.get("key"), str) or not isinstance(rec.get("out"), list):
                self.dropped += bool(raw.strip())
                continue
            self.done[rec["key"]] = rec["out"]
            good.append(raw)
        if self.dropped:
            log(f"  {self.path.name}: dropped {self.dropped} torn line(s) (a killed run); those chunks run again")
        # The last split element is what follows the final newline: anything there was cut off mid-line.
        # Rewrite without it, so the next append starts on a line of its own.
        if self.dropped or lines[-1]:
            atomic_write_text(self.path, b"\n".join(good).decode("utf-8") + "\n")

    def get(self, key: str) -> list | None:
        out = self.done.get(key)
        if out is not None:
            self.reused += 1
        return out

    def put(self, key: str, out: list) -> None:
        line = (json.dumps({"key": key, "out": out}, ensure_ascii=False) + "\n").encode("utf-8")
        self.generated += 1
        n = next(_PUTS)  # fault points count the chunks of the whole process, across suites
        with open(self.path, "ab") as f:
            faults.point("eval.torn", n, file=f, data=line)
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.done[key] = out
        faults.point("eval.chunk", n)


def _parse(raw: bytes) -> dict | None:
    try:
        rec = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return rec if isinstance(rec, dict) else None


def chunked(journal: ChunkJournal | None, kind: str, items: list, size: int, compute, settings=None,
            bar=None) -> list:
    """``compute(chunk_index, chunk_items) -> outputs`` over consecutive chunks of ``size`` items, taking
    finished chunks from ``journal`` and appending new ones to it. ``settings`` (seeds, lengths…) go into
    the key with the inputs, so a chunk is reused only for exactly the same work. ``bar``: a tqdm to advance."""
    out: list = []
    for c, i in enumerate(range(0, len(items), size)):
        part = items[i:i + size]
        key = chunk_key(kind, size, c, part, settings)
        got = journal.get(key) if journal is not None else None
        if got is None:
            got = list(compute(c, part))
            if len(got) != len(part):
                raise RuntimeError(f"{kind}: chunk {c} gave {len(got)} outputs for {len(part)} inputs")
            # What the journal gives back on a resume (tuples become lists): the same types either way.
            got = json.loads(json.dumps(got))
            if journal is not None:
                journal.put(key, got)
        out.extend(got)
        if bar is not None:
            bar.update(len(part))
    return out
