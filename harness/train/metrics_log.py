"""``metrics.jsonl``: one JSON line per log step of a run (step, loss, val_loss when computed, lr, phase,
act, tokens, tok_s, grad_norm, wall_s), appended as the run goes.
"""

from __future__ import annotations

import json
import os

from harness.results import atomic_write_text


def read_metrics(path) -> list[dict]:
    """metrics.jsonl lines; a line torn by a kill is dropped."""
    out = []
    if os.path.exists(path):
        for line in open(path):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def reset_metrics(path, start: int) -> None:
    """Keep the metrics lines of steps up to ``start`` (the checkpoint resumed; 0: none): the steps after
    it are run again and log again."""
    kept = [r for r in read_metrics(path) if r["step"] <= start] if start else []
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
