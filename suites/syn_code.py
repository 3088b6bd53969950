"""Held-out synthetic Python function tasks (same families as training, disjoint items), HumanEval format.

Items come from ``harness.data.synth.code_tasks("eval", n, seed)``: the eval split is decided by a hash of the
prompt, so no item was trained on. Scored like HumanEval (sandboxed tests, pass@k).

    python -m harness eval --model silu --suites syn_code --limit 20
"""

from __future__ import annotations

from suites.base import SYNTH_ITEMS, synth_items
from suites.humaneval import CodeSuite


class SynCode(CodeSuite):
    name = "syn_code"
    version = "1"
    description = "held-out synthetic function-completion tasks (pass@k, sandboxed execution)"

    def default_params(self) -> dict:
        # Short bodies: 128 new bytes is plenty and keeps the prompt inside small models' context.
        return {**super().default_params(), "n_items": SYNTH_ITEMS, "data_seed": 1234, "max_new_tokens": 128}

    def tasks(self) -> list[dict]:
        if not hasattr(self, "_tasks"):
            self._tasks = synth_items("code_tasks", int(self.params["n_items"]), self.params["data_seed"])
        return self._tasks
