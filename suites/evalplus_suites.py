"""HumanEval+ and MBPP+ through evalplus: its data, its ground truth and its sandbox (``untrusted_check``).

The data does not ship with evalplus: it is downloaded from GitHub into evalplus's cache
(``~/.cache/evalplus``) — ``make data`` (online) runs :func:`fetch` — or read from the files named by
``HUMANEVAL_OVERRIDE_PATH`` / ``MBPP_OVERRIDE_PATH``. Without it the suites are skipped with that reason.

evalplus is installed without its declared dependencies (see the Makefile), so ``evalplus.data`` (which
imports ``wget``/``appdirs``) is not used: the JSONL is read here and evalplus's evaluation functions
(``evalplus.gen.util.trusted_exec`` for expected outputs, ``evalplus.eval.untrusted_check`` for
candidates) do the rest. A candidate passes ``base`` when it passes the original tests and ``plus`` when
it passes the original and the extra ones.

    HUMANEVAL_OVERRIDE_PATH=HumanEvalPlus.jsonl python -m harness eval --model silu --suites humaneval_plus
"""

from __future__ import annotations

import gzip
import json
import os
import pathlib

from harness.results import metric, sha256_file
from suites.base import EvalContext, Suite, item_means, take
from suites.humaneval import STOP, pass_at_k

VERSIONS = {"humaneval_plus": ("HumanEvalPlus", "v0.1.10", "HUMANEVAL_OVERRIDE_PATH"),
            "mbpp_plus": ("MbppPlus", "v0.2.0", "MBPP_OVERRIDE_PATH")}


def evalplus_cache() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "evalplus"


def data_path(suite: str) -> pathlib.Path:
    name, version, env = VERSIONS[suite]
    if os.environ.get(env):
        return pathlib.Path(os.environ[env])
    return evalplus_cache() / f"{name}-{version}.jsonl"


def fetch(suite: str) -> pathlib.Path:
    """Download the dataset into evalplus's cache (online only; what ``make data`` calls)."""
    import urllib.request

    name, version, _ = VERSIONS[suite]
    path = evalplus_cache() / f"{name}-{version}.jsonl"
    if not path.exists():
        url = f"https://github.com/evalplus/{name.lower()}_release/releases/download/{version}/{name}.jsonl.gz"
        with urllib.request.urlopen(url, timeout=60) as r:
            text = gzip.decompress(r.read()).decode("utf-8")
        from harness.results import atomic_write_text

        atomic_write_text(path, text)
    return path


class EvalPlusSuite(Suite):
    backend = "evalplus"
    version = "1"

    def default_params(self) -> dict:
        return {"n_samples": 1, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 256, "k": [1, 10]}

    def unavailable(self) -> str | None:
        p = data_path(self.name)
        if p.exists():
            return None
        env = VERSIONS[self.name][2]
        return (f"{self.name} data not found at {p}: evalplus downloads it from GitHub, which is not reachable "
                f"offline. Run `make data` once online, or set {env} to a local copy of the JSONL.")

    def tasks(self) -> list[dict]:
        if not hasattr(self, "_tasks"):
            p = data_path(self.name)
            opener = gzip.open if p.suffix == ".gz" else open
            with opener(p, "rt", encoding="utf-8") as f:
                self._tasks = [json.loads(line) for line in f if line.strip()]
        return self._tasks

    def n_total(self) -> int:
        return len(self.tasks())

    def dataset(self) -> dict:
        name, version, _ = VERSIONS[self.name]
        return {"name": f"{name} {version}", "sha256": sha256_file(data_path(self.name))}

    def generate(self, ctx: EvalContext, limit: int | None) -> list[dict]:
        p = self.params
        tasks = take(self.tasks(), limit)
        n = int(p["n_samples"])
        records = []
        for s in range(n):
            outs = ctx.generate([t["prompt"] for t in tasks], max_new_tokens=p["max_new_tokens"], stop=STOP,
                                temperature=0.0 if n == 1 else p["temperature"],
                                top_p=1.0 if n == 1 else p["top_p"], seed=ctx.seed * 1000 + s)
            # MBPP+ prompts are a docstring: the completion is the whole function; HumanEval+ prompts end
            # in a signature + docstring, which the solution must include.
            records += [{"task_id": t["task_id"], "sample": s, "solution": t["prompt"] + o}
                        for t, o in zip(tasks, outs)]
        return records

    def score(self, records: list[dict], ctx: EvalContext) -> tuple[list[dict], list[dict]]:
        from evalplus.eval import PASS, untrusted_check
        from evalplus.gen.util import trusted_exec
        from tqdm import tqdm

        dataset = "humaneval" if self.name == "humaneval_plus" else "mbpp"
        by_id = {t["task_id"]: t for t in self.tasks()}
        expected = {}
        for tid in {r["task_id"] for r in records}:  # ground truth: the canonical solution, run trusted
            t = by_id[tid]
            code = t["prompt"] + t["canonical_solution"]
            expected[tid] = {k: trusted_exec(code, t[f"{k}_input"], t["entry_point"], record_time=True)
                             for k in ("base", "plus")}
        scored, base, plus = [], {}, {}
        for r in tqdm(records, desc=f"{self.name} exec", disable=not ctx.progress, leave=False):
            t = by_id[r["task_id"]]
            res = {}
            for k in ("base", "plus"):
                out, times = expected[r["task_id"]][k]
                res[k] = untrusted_check(dataset, r["solution"], t[f"{k}_input"], t["entry_point"], expected=out,
                                         atol=t.get("atol", 0), ref_time=times)[0]
            base.setdefault(r["task_id"], []).append(res["base"] == PASS)
            plus.setdefault(r["task_id"], []).append(res["base"] == PASS and res["plus"] == PASS)
            scored.append({**r, "base_status": res["base"], "plus_status": res["plus"]})
        n = min(len(v) for v in base.values()) if base else 0
        metrics = []
        for k in [1] + [k for k in self.params["k"] if k != 1]:
            if k > n:
                continue
            for split, d in (("plus", plus), ("base", base)):
                v, se = pass_at_k(d, k)
                metrics.append(metric(f"pass@{k}", v, stderr=se, n=len(d), n_total=self.n_total(), k=k,
                                      tests=split))
        return metrics, scored

    def item_scores(self, scored: list[dict]) -> dict:
        from evalplus.eval import PASS

        plus = [{**r, "plus_passed": r["base_status"] == PASS and r["plus_status"] == PASS} for r in scored]
        return item_means(plus, "task_id", "plus_passed", "pass@1")


class HumanEvalPlus(EvalPlusSuite):
    name = "humaneval_plus"
    description = "HumanEval+ (evalplus): HumanEval with 80x more tests"


class MbppPlus(EvalPlusSuite):
    name = "mbpp_plus"
    description = "MBPP+ (evalplus): sanitized MBPP with more tests"
