"""Suites with known-answer fake models: reference answers score 1, wrong answers 0."""

import pytest
from lm_eval.api.model import LM

from suites import SUITES, EvalContext, get_suite
from suites.humaneval import pass_at_k


class FakeLM(LM):
    """Answers word problems from a dict; prefers the gold choice; constant rolling log-likelihood."""

    def __init__(self, answers=None, gold=None):
        super().__init__()
        self.answers, self.gold = answers or {}, gold or {}

    def generate_until(self, reqs):
        out = []
        for r in reqs:
            q = r.args[0][len("Question: "):-len("\nAnswer:")]
            # the stop string "Question:" after the answer must be cut by the model, as ours does
            out.append(" " + self.answers.get(q, "#### -1"))
        return out

    def loglikelihood(self, reqs):
        return [(0.0 if self.gold.get(ctx) == cont else -5.0, False) for ctx, cont in (r.args for r in reqs)]

    def loglikelihood_rolling(self, reqs):
        return [-len(r.args[0].encode()) * 0.6931471805599453 for r in reqs]  # exactly 1 bit per byte


def code_ctx(suite, right=True):
    by_prompt = {t["prompt"]: t["canonical_solution"] for t in suite.tasks()}
    return EvalContext(generate_fn=lambda ps, **kw: [by_prompt[p] if right else "    return None\n" for p in ps],
                       progress=False)


def run(suite, ctx, limit=None):
    metrics, records = suite.score(suite.generate(ctx, limit), ctx)
    headline = {}
    for m in metrics:  # the overall row of each metric (per-family / per-module rows come after it)
        headline.setdefault(m["name"], m)
    return headline, records


def test_registry_lists_every_suite():
    assert {"syn_code", "humaneval", "humaneval_plus", "mbpp_plus", "syn_reason", "gsm8k_100", "syn_choice",
            "stdlib_bpb"} <= set(SUITES)
    assert get_suite("lm_eval:arc_easy").name == "lm_eval_arc_easy"
    with pytest.raises(ValueError):
        get_suite("nope")
    with pytest.raises(ValueError):
        get_suite("syn_code", bogus=1)


def test_humaneval_canonical_solutions_pass_all_164():
    s = get_suite("humaneval")
    m, _ = run(s, code_ctx(s))
    assert s.n_total() == 164
    assert m["pass@1"]["value"] == 1.0 and m["pass@1"]["n"] == 164 and m["exec_passed"]["value"] == 164


def test_wrong_answers_score_zero():
    for name in ("humaneval", "syn_code"):
        s = get_suite(name)
        m, recs = run(s, code_ctx(s, right=False), limit=10)
        assert m["pass@1"]["value"] == 0.0 and m["pass@1"]["n"] == 10
        assert all(r["status"] == "failed" for r in recs)


def test_syn_code_canonical_pass():
    s = get_suite("syn_code", n_items=40)
    m, _ = run(s, code_ctx(s))
    assert m["pass@1"]["value"] == 1.0 and m["pass@1"]["n_total"] == 40


def test_pass_at_k_uses_the_unbiased_estimator():
    v, _ = pass_at_k({"a": [True, False, False, False, False], "b": [True, True, False, False, False]}, 2)
    # 1 - C(4,2)/C(5,2) = 0.4 and 1 - C(3,2)/C(5,2) = 0.7
    assert v == pytest.approx((0.4 + 0.7) / 2)
    assert pass_at_k({"a": [False] * 10}, 10)[0] == 0.0
    assert pass_at_k({"a": [True] + [False] * 9}, 10)[0] == 1.0
    # through the suite: 4 samples per task, half of them right → pass@1 = 0.5
    s = get_suite("syn_code", n_items=6, n_samples=4, k=[1, 2])
    by_prompt = {t["prompt"]: t["canonical_solution"] for t in s.tasks()}
    ctx = EvalContext(generate_fn=lambda ps, seed, **kw: [by_prompt[p] if seed % 2 else "    pass\n" for p in ps],
                      progress=False)
    metrics, scored = s.score(s.generate(ctx, None), ctx)
    m = {x["name"]: x for x in metrics}
    assert m["pass@1"]["value"] == pytest.approx(0.5)
    # Per item (for paired comparisons): each task's pass rate over its samples, in task order.
    items = s.item_scores(scored)
    assert items == {"metric": "pass@1", "ids": [t["task_id"] for t in s.tasks()], "values": [0.5] * 6}
    assert m["pass@2"]["value"] == pytest.approx(1 - 1 / 6)  # 1 - C(2,2)/C(4,2)
    assert "pass@10" not in m  # k > n is not reported


@pytest.mark.parametrize("name", ["gsm8k_100", "syn_reason"])
def test_reference_answers_exact_match(name, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    s = get_suite(name, **({"n_items": 30} if name == "syn_reason" else {}))
    answers = {r["question"]: r["answer"] + "\n\nQuestion: next one" for r in s.rows()}
    ctx = EvalContext(lm=FakeLM(answers), workdir=tmp_path / "tasks", progress=False)
    m, recs = run(s, ctx)
    assert m["exact_match"]["value"] == 1.0 and m["exact_match"]["n"] == s.n_total()
    items = s.item_scores(recs)
    assert items["values"] == [1.0] * s.n_total() and items["ids"] == [str(i) for i in range(s.n_total())]
    ctx = EvalContext(lm=FakeLM({}), workdir=tmp_path / "tasks", progress=False)
    m, recs = run(s, ctx, limit=5)
    assert m["exact_match"]["value"] == 0.0 and m["exact_match"]["n"] == 5
    assert recs[0]["extracted"] == "-1"


def test_syn_choice_gold_is_chosen(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    s = get_suite("syn_choice", n_items=20)
    gold = {r["context"]: r["choices"][r["gold"]] for r in s.rows()}
    ctx = EvalContext(lm=FakeLM(gold=gold), workdir=tmp_path / "tasks", progress=False)
    m, recs = run(s, ctx)
    assert m["acc"]["value"] == 1.0 and ctx._lm_eval_agg["syn_choice"] == 1.0
    assert s.item_scores(recs) == {"metric": "acc", "ids": [str(i) for i in range(20)], "values": [1.0] * 20}


def test_stdlib_bpb_known_value(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    s = get_suite("stdlib_bpb", max_bytes=2000)
    ctx = EvalContext(lm=FakeLM(), workdir=tmp_path / "tasks", progress=False)
    m, recs = run(s, ctx, limit=3)
    assert m["bits_per_byte"]["value"] == pytest.approx(1.0)
    items = s.item_scores(recs)  # per module, weighted by its bytes as the suite's figure is
    assert items["values"] == pytest.approx([1.0] * 3) and items["weights"] == [r["n_bytes"] for r in recs]
    assert ctx._lm_eval_agg["stdlib_bpb"] == pytest.approx(1.0)


def test_evalplus_skipped_without_data(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMANEVAL_OVERRIDE_PATH", str(tmp_path / "missing.jsonl"))
    reason = get_suite("humaneval_plus").unavailable()
    assert "make data" in reason and "HUMANEVAL_OVERRIDE_PATH" in reason


def test_evalplus_scores_through_its_sandbox(tmp_path, monkeypatch):
    """A one-problem HumanEval+ file via HUMANEVAL_OVERRIDE_PATH: right → 1, wrong → 0 (base and plus)."""
    import json

    prob = {"task_id": "HumanEval/0", "prompt": 'def add(a, b):\n    """Add."""\n', "canonical_solution":
            "    return a + b\n", "entry_point": "add", "base_input": [[1, 2], [3, 4]],
            "plus_input": [[10, -2], [0, 0]], "atol": 0}
    (tmp_path / "he.jsonl").write_text(json.dumps(prob) + "\n")
    monkeypatch.setenv("HUMANEVAL_OVERRIDE_PATH", str(tmp_path / "he.jsonl"))
    s = get_suite("humaneval_plus")
    assert s.unavailable() is None
    for body, want in (("    return a + b\n", 1.0), ("    return a - b\n", 0.0)):
        ctx = EvalContext(generate_fn=lambda ps, body=body, **kw: [body for _ in ps], progress=False)
        metrics, _ = s.score(s.generate(ctx, None), ctx)
        assert [m["value"] for m in metrics if m["name"] == "pass@1"] == [want, want]  # plus, base


def test_synthetic_items_are_cached_on_disk_unchanged(tmp_path, monkeypatch):
    from harness.data import synth
    from suites.base import synth_items

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = synth_items("choice_items", 12, 5)
    assert first == synth.choice_items("eval", 12, seed=5)
    files = list((tmp_path / "sparsebench" / "synth").glob("choice_items-eval-n12-s5-*.json"))
    assert len(files) == 1
    monkeypatch.setattr(synth, "choice_items", lambda *a, **k: pytest.fail("regenerated despite the cache"))
    assert synth_items("choice_items", 12, 5) == first
    files[0].write_text("{cut")  # a damaged cache file is regenerated, never an error
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert synth_items("choice_items", 12, 5) == first
