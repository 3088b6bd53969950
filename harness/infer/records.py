"""Samples files: a suite's generations, one JSON record per line after a ``{"_meta": ...}`` header, written
before scoring so scores can be redone from them without the model (``--rescore``); and the provenance of
a result computed on this CPU.

    <suite>.samples.jsonl      {"_meta": {suite, version, params, eval_act, checkpoint, ...}, "_records": N}
                               {"task_id": ..., "completion": ..., <scores>}

The header counts the records so that a file cut exactly after a newline (every line still parses) reads
as damaged rather than as a shorter run; files written before the count existed are read without it.
"""

from __future__ import annotations

import json
import pathlib

import torch

from harness.provenance import provenance
from harness.results import atomic_write_text


def read_samples(path: pathlib.Path) -> tuple[dict | None, list[dict], str | None]:
    """(header meta, the records, what is damaged or None). Reading stops at the first line that is not a
    JSON object (a file cut mid-line by a crash, a full disk or a copy); the records before it are kept.
    Fewer records than the header counts (a file cut at a line boundary) is damage too."""
    if not path.exists():
        return None, [], None
    meta, records, expected = None, [], None
    lines = path.read_bytes().split(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            rec = None
        if not isinstance(rec, dict) or (i == 0) != ("_meta" in rec):
            where = "cut off" if i == len(lines) - 1 else "not a sample record"
            return meta, records, f"line {i + 1} is {where}"
        if i == 0:
            meta, expected = rec["_meta"], rec.get("_records")
        else:
            records.append(rec)
    if expected is not None and len(records) < expected:
        return meta, records, f"it ends after {len(records)} of its {expected} records"
    return meta, records, None


def samples_to_rescore(path: pathlib.Path) -> tuple[dict, list[dict]]:
    """(header meta, records) of a samples file to score again without the model (``--rescore``). A missing
    or damaged file is an error, and the file is left as it is."""
    meta, records, damage = read_samples(path)
    if meta is None:
        raise FileNotFoundError(f"--rescore: no samples file {path}")
    if damage:
        raise RuntimeError(f"--rescore: samples file {path} is damaged ({damage}); it was left untouched: run "
                           f"without --rescore to generate what is missing")
    return meta, records


def samples_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(path.name[:-len(".json")] + ".samples.jsonl")


def same_generations(old: list[dict], new: list[dict]) -> bool:
    """The intact records of a damaged samples file against fresh generations: every generated field equal
    (the old ones may also carry scores)."""
    return len(old) <= len(new) and all({k: o.get(k) for k in n} == n for o, n in zip(old, new))


def write_samples(path: pathlib.Path, meta: dict, records: list[dict]):
    head = json.dumps({"_meta": meta, "_records": len(records)})
    text = head + "\n" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    atomic_write_text(path, text)


def cpu_provenance(started: str, wall: float) -> dict:

    return provenance(device="cpu", threads=torch.get_num_threads(), dtype="fp32", started_at=started, wall_s=wall)
