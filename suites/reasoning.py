"""Word problems with GSM8K's protocol, run as an lm-eval task through our lm-eval model.

``Question: {question}\\nAnswer:`` (lm-eval's gsm8k prompt, zero-shot: the training documents use this
exact format), greedy generation cut at ``Question:`` or a blank line, exact match of the number after
``#### `` (lm-eval's regex filter and ``exact_match`` with gsm8k's ignore rules).

- ``syn_reason``: held-out synthetic problems (``harness.data.synth.reason_problems("eval", ...)``);
- ``gsm8k_100``: 100 real GSM8K test problems vendored in ``suites/data`` (see its README).

    python -m harness eval --model silu --suites syn_reason,gsm8k_100 --limit 20
"""

from __future__ import annotations

import json
import pathlib

from harness.results import metric, sha256_file, sha256_text
from suites.base import SYNTH_ITEMS, EvalContext, Suite, item_means, synth_items
from suites.lm_tasks import GSM8K_FILTER, GSM8K_METRIC, lm_value, mean_stderr, run_task, write_task

GSM8K_100 = pathlib.Path(__file__).resolve().parent / "data" / "gsm8k_test_100.jsonl"


class ReasonSuite(Suite):
    backend = "lm-eval"

    def default_params(self) -> dict:
        return {"max_gen_toks": 128, "until": ["Question:", "\n\n"]}

    @property
    def task(self) -> str:
        return f"sparsebench_{self.name}"

    def rows(self) -> list[dict]:  # {question, answer} dicts
        raise NotImplementedError

    def n_total(self) -> int:
        return len(self.rows())

    def task_config(self) -> dict:
        return {"output_type": "generate_until", "doc_to_text": "Question: {{question}}\nAnswer:",
                "doc_to_target": "{{answer}}", "num_fewshot": 0,
                "generation_kwargs": {"until": list(self.params["until"]), "do_sample": False,
                                      "temperature": 0.0, "max_gen_toks": int(self.params["max_gen_toks"])},
                "metric_list": [GSM8K_METRIC], "filter_list": [GSM8K_FILTER],
                "metadata": {"version": float(self.version)}}

    def generate(self, ctx: EvalContext, limit: int | None) -> list[dict]:
        d = write_task(ctx, self.task, self.rows(), self.task_config())
        agg, samples = run_task(ctx, self.task, d, limit)
        records = []
        for s in samples:
            records.append({"doc_id": s["doc_id"], "question": s["doc"]["question"], "target": s["target"],
                            "response": s["resps"][0][0], "extracted": s["filtered_resps"][0],
                            "exact_match": float(s["exact_match"])})
        records.sort(key=lambda r: r["doc_id"])
        ctx._lm_eval_agg = {**getattr(ctx, "_lm_eval_agg", {}), self.name: lm_value(agg, "exact_match",
                                                                                      "strict-match")}
        return records

    def score(self, records: list[dict], ctx: EvalContext) -> tuple[list[dict], list[dict]]:
        m, se = mean_stderr([r["exact_match"] for r in records])
        extracted = sum(r["extracted"] != "[invalid]" for r in records)
        return [metric("exact_match", m, stderr=se, n=len(records), n_total=self.n_total(), filter="strict-match"),
                metric("answer_extracted", extracted / len(records) if records else None, n=len(records),
                       n_total=self.n_total())], records

    def item_scores(self, scored: list[dict]) -> dict:
        return item_means(scored, "doc_id", "exact_match", "exact_match")


class SynReason(ReasonSuite):
    name = "syn_reason"
    version = "1"
    description = "held-out synthetic word problems, exact match on '#### N' (lm-eval task, zero-shot)"

    def default_params(self) -> dict:
        return {**super().default_params(), "n_items": SYNTH_ITEMS, "data_seed": 1234}

    def rows(self) -> list[dict]:
        if not hasattr(self, "_rows"):
            probs = synth_items("reason_problems", int(self.params["n_items"]), self.params["data_seed"])
            self._rows = [{"task_id": p["task_id"], "question": p["question"], "answer": p["answer"]}
                          for p in probs]
        return self._rows

    def dataset(self) -> dict:
        return {"name": "synth.reason_problems(eval)", "sha256": sha256_text(json.dumps(self.rows()))}


class GSM8K100(ReasonSuite):
    name = "gsm8k_100"
    version = "1"
    description = "100 real GSM8K test problems (vendored), exact match on '#### N' (lm-eval task, zero-shot)"

    def rows(self) -> list[dict]:
        if not hasattr(self, "_rows"):
            with open(GSM8K_100, encoding="utf-8") as f:
                self._rows = [json.loads(line) for line in f if line.strip()]
        return self._rows

    def dataset(self) -> dict:
        return {"name": "gsm8k test (100 problems, suites/data/gsm8k_test_100.jsonl)",
                "sha256": sha256_file(GSM8K_100)}
