"""The ``train`` result of a finished run (or fine-tune): final losses, tokens, wall time, the loss curve and
the switch step, built from the run directory alone.
"""

from __future__ import annotations

import json

from harness.provenance import provenance
from harness.results import make_result, metric, result_path, write_result
from harness.train.metrics_log import read_metrics


def write_train_result(rd, metrics=None, backend: str = "sparsebench", **extra):
    """The ``train`` result of a finished run, from its config, metrics and final checkpoint sidecar.

    ``metrics(last)`` → the metric list, given the last line of metrics.jsonl (default: train and validation
    loss, tokens, wall time); ``extra`` goes into the result as top-level fields (a fine-tune's before/after)."""
    cfgd = json.loads((rd / "config.json").read_text())
    side = json.loads((rd / "ckpt" / "final.json").read_text())
    recs = read_metrics(rd / "metrics.jsonl")
    if not recs:
        raise RuntimeError(f"{rd}/metrics.jsonl is empty; cannot write the train result")
    tc, last = cfgd["train_config"], recs[-1]
    vals = [r for r in recs if "val_loss" in r]
    val = vals[-1]["val_loss"] if vals else None
    curve = [{k: r[k] for k in ("step", "loss", "val_loss", "val_loss_infer", "lr", "phase", "act", "tokens")
              if k in r} for r in recs]
    variant = cfgd["variant"]

    def default_metrics(last):
        return [metric("train_loss", last["loss"], higher_is_better=False),
                metric("val_loss", val, higher_is_better=False),
                metric("tokens", last["tokens"]), metric("wall_s", last["wall_s"], higher_is_better=False)]

    result = make_result(
        "train",
        run={"scale": tc["scale"], "model": variant["name"], "seed": tc["seed"], "step": side["step"],
             "checkpoint": str(rd / "ckpt" / "final.pt"), "variant": variant,
             "eval_act": variant["inference_act"]},
        suite={"name": "train", "version": "1", "backend": backend,
               "dataset": {"name": "corpus:" + ",".join(f"{k}={v:g}" for k, v in tc["data"]["mix"].items()),
                           "sha256": cfgd["corpus"]["digest"]},
               "params": tc},
        metrics=(metrics or default_metrics)(last),
        provenance=provenance(device=cfgd["device"], threads=cfgd["threads"], dtype=cfgd["dtype"],
                              started_at=cfgd["started_at"], wall_s=last["wall_s"],
                              world_size=cfgd["world_size"]),
        curve=curve, switch_step=cfgd["switch_step"], num_params=cfgd["num_params"], **extra)
    return write_result(result, result_path(tc["scale"], variant["name"], tc["seed"], "train"))
