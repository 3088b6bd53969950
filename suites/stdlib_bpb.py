"""Bits per byte on whole standard-library modules held out of training (lm-eval loglikelihood_rolling).

The modules are ``harness.data.sources.heldout_stdlib_modules()``; each is cut to its first ``max_bytes`` bytes
(at a line end) so the suite costs the same at every scale. Each module is scored as one document with
lm-eval's rolling windows (every byte predicted once, with as much context as fits). Lower is better.

    python -m harness eval --model silu --suites stdlib_bpb
"""

from __future__ import annotations

import json
import math

from harness.results import metric, sha256_text
from suites.base import EvalContext, Suite, item_means
from suites.lm_tasks import lm_value, run_task, write_task


class StdlibBpb(Suite):
    name = "stdlib_bpb"
    version = "1"
    description = "bits per byte on held-out standard-library modules (lm-eval loglikelihood_rolling)"
    backend = "lm-eval"
    task = "sparsebench_stdlib_bpb"

    def default_params(self) -> dict:
        return {"max_bytes": 16384}

    def rows(self) -> list[dict]:
        if not hasattr(self, "_rows"):
            from harness.data.sources import heldout_stdlib_modules

            rows = []
            for name, text in heldout_stdlib_modules():
                raw = text.encode("utf-8")
                if len(raw) > self.params["max_bytes"]:
                    raw = raw[:self.params["max_bytes"]]
                    raw = raw[:raw.rfind(b"\n") + 1] or raw
                rows.append({"module": name, "text": raw.decode("utf-8", "ignore")})
            self._rows = rows
        return self._rows

    def n_total(self) -> int:
        return len(self.rows())

    def dataset(self) -> dict:
        return {"name": "held-out stdlib modules", "sha256": sha256_text(json.dumps(self.rows()))}

    def generate(self, ctx: EvalContext, limit: int | None) -> list[dict]:
        cfg = {"output_type": "loglikelihood_rolling", "doc_to_text": "", "doc_to_target": "{{text}}",
               "num_fewshot": 0,
               "metric_list": [{"metric": "bits_per_byte"}, {"metric": "byte_perplexity"}],
               "metadata": {"version": float(self.version)}}
        d = write_task(ctx, self.task, self.rows(), cfg)
        agg, samples = run_task(ctx, self.task, d, limit)
        records = [{"doc_id": s["doc_id"], "module": s["doc"]["module"], "loglikelihood": s["bits_per_byte"][0],
                    "n_bytes": s["bits_per_byte"][1]} for s in samples]
        records.sort(key=lambda r: r["doc_id"])
        ctx._lm_eval_agg = {**getattr(ctx, "_lm_eval_agg", {}), self.name: lm_value(agg, "bits_per_byte")}
        return records

    def score(self, records: list[dict], ctx: EvalContext) -> tuple[list[dict], list[dict]]:
        ll = sum(r["loglikelihood"] for r in records)
        nb = sum(r["n_bytes"] for r in records)
        bpb = -ll / nb / math.log(2) if nb else None  # lm-eval's bits_per_byte aggregation
        out = [{**r, "bits_per_byte": -r["loglikelihood"] / r["n_bytes"] / math.log(2)} for r in records]
        metrics = [metric("bits_per_byte", bpb, n=len(records), n_total=self.n_total(), higher_is_better=False,
                          n_bytes=nb)]
        metrics += [metric("bits_per_byte", r["bits_per_byte"], n=1, n_total=None, higher_is_better=False,
                           module=r["module"]) for r in out]
        return metrics, out

    def item_scores(self, scored: list[dict]) -> dict:
        # Per module; the suite's figure weighs modules by their bytes, so the weights travel along.
        return {**item_means(scored, "module", "bits_per_byte", "bits_per_byte"),
                "weights": [int(r["n_bytes"]) for r in scored]}
