"""Generation diversity: metrics on hand-made samples, behaviours in the sandbox, reproducible sampling,
p' = 0 equal to RELU greedy, and the study's files (resume, --force, --rescore, bad input)."""

import json
import random

import pytest
import torch

from harness.__main__ import main
from harness.data.tokenizer import ByteTokenizer
from harness.diversity import behaviour, scoring, settings, study
from harness.diversity import metrics as dm
from harness.infer.generate import activation, generate_ids
from harness.infer.records import samples_path
from harness.results import read_result
from harness.sandbox import isolation
from harness.sandbox.execute import run_program
from models.registry import build_model, get_variant

MODEL = "stocha-p0.7-a0.05"


# ---- metrics: known values -----------------------------------------------------------------------

def test_distinct_n_and_unique_fraction():
    s = ["a b c", "a b d"]
    assert dm.distinct_n(s, 1) == pytest.approx(4 / 6)  # a b c a b d → {a, b, c, d}
    assert dm.distinct_n(s, 2) == pytest.approx(3 / 4)  # ab bc ab bd
    assert dm.distinct_n(s, 3) == 1.0  # abc abd
    assert dm.distinct_n(s, 4) == 0.0  # no 4-gram: nothing varies
    assert dm.distinct_n(["m - 4", "m + 4"], 1) == pytest.approx(4 / 6)  # operators are tokens
    assert dm.distinct_n(["x"] * 5, 1) == pytest.approx(1 / 5)
    assert dm.unique_fraction(["x", "x", "y", "x"]) == 0.5
    assert dm.unique_fraction(["q"] * 10) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        dm.distinct_n(s, 0)


def _dp(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_levenshtein_known_values_and_reference():
    assert dm.levenshtein("kitten", "sitting") == 3
    assert dm.levenshtein("flaw", "lawn") == 2
    assert dm.levenshtein("", "abc") == 3 and dm.levenshtein("abc", "") == 3 and dm.levenshtein("", "") == 0
    assert dm.levenshtein("    return m - 4\n", "    return m - 5\n") == 1
    rng = random.Random(0)
    for _ in range(300):  # the bit-parallel algorithm against the textbook DP, lengths across 64 bits
        a = "".join(rng.choice("ab\n ") for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 90)))
        assert dm.levenshtein(a, b) == _dp(a, b)


def test_pairwise_edit_distance():
    assert dm.pairwise_edit_distance(["abc", "abd", "abc"]) == pytest.approx(2 / 9)  # 1/3, 0, 1/3
    assert dm.pairwise_edit_distance(["abcd", "wxyz"]) == 1.0
    assert dm.pairwise_edit_distance(["", "ab"]) == 1.0 and dm.pairwise_edit_distance(["", ""]) == 0.0
    assert dm.pairwise_edit_distance(["same"] * 10) == 0.0 and dm.pairwise_edit_distance(["x"]) == 0.0


def test_token_f1_answers_and_majority():
    assert dm.token_f1("18 + 12 = 30", "18 + 12 = 31") == pytest.approx(2 / 3)  # P = R = 2/3
    assert dm.token_f1("18+12 = 30", "18+12 = <<18+12=30>>30") == pytest.approx(2 / 3)  # P 1, R 1/2
    assert dm.token_f1("", "") == 1.0 and dm.token_f1("x", "") == 0.0 and dm.token_f1("7", "8") == 0.0
    assert dm.extract_answer(" 2+3 = <<2+3=5>>5\n#### 5") == "5"
    assert dm.extract_answer("#### 1,234.") == "1,234." and dm.extract_answer("no answer") is None
    assert dm.answers_match("1,234.", "20+1214 = <<20+1214=1234>>1234\n#### 1234")
    assert not dm.answers_match(None, "#### 5") and not dm.answers_match("6", "#### 5")
    assert dm.majority(["3", "4", "4", None, "3"]) == "3"  # a tie goes to the answer seen first
    assert dm.majority(["1,000", "7", "1000"]) == "1000" and dm.majority([None, None]) is None


def test_score_reasoning_known_values():
    items = [{"task_id": "a", "question": "?", "answer": "2+3 = <<2+3=5>>5\n#### 5"},
             {"task_id": "b", "question": "?", "answer": "#### 7"}]
    job = study.Job(suite=None, kind="reasoning", items=items, prompts=["", ""], stop=[], max_new_tokens=1)
    comps = {"a": [" 2+3 = <<2+3=5>>5\n#### 5", " 2+3 = <<2+3=6>>6\n#### 6", "#### 6", "garbage"],
             "b": ["#### 7", "#### 8", "#### 8", "#### 9"]}
    recs = [{"task_id": t, "sample": j, "completion": c} for t, cs in comps.items() for j, c in enumerate(cs)]
    metrics, scored = scoring.score_reasoning(job, recs, 4, {"method": "temperature", "setting": "T=1"})
    m = {x["name"]: x for x in metrics}
    assert m["exact_match"]["value"] == pytest.approx((1 / 4 + 1 / 4) / 2)
    assert m["maj@4"]["value"] == 0.0  # a: 6 wins 2-1; b: 8 wins
    assert m["any@4"]["value"] == 1.0 and m["f1_best@4"]["value"] == 1.0
    assert m["answer_extracted"]["value"] == pytest.approx((3 / 4 + 1) / 2)
    assert m["unique_fraction"]["value"] == pytest.approx((1 + 0.75) / 2)
    assert m["maj@4"]["k"] == 4 and m["exact_match"]["setting"] == "T=1" and m["edit_distance"]["n"] == 2
    assert [r["correct"] for r in scored[:4]] == [True, False, False, False]


# ---- code: pass/fail and behaviours in the sandbox ---------------------------------------------------

def test_code_scoring_pass_at_k_and_functional_diversity():
    job = study.make_job("syn_code", 1)
    task = job.items[0]
    assert task["entry_point"] == "sub4" and "return m - 4" in task["canonical_solution"]
    comps = ["    return m - 4\n", "    return m + -4\n", "    return m - 5\n", "    return m -\n"]
    recs = [{"task_id": task["task_id"], "sample": j, "completion": c} for j, c in enumerate(comps)]
    ex = behaviour.Executor(job)
    metrics, scored = scoring.score_code(job, recs, 4, ex, {"method": "stocha", "setting": "p'=0.5"})
    m = {x["name"]: x["value"] for x in metrics}
    assert m["pass@1"] == 0.5 and m["pass@4"] == 1.0
    # m - 4 and m + -4 behave alike; m - 5 is another behaviour; the syntax error a third
    assert m["functional_diversity"] == 3.0 and m["unique_fraction"] == 1.0
    assert [r["passed"] for r in scored] == [True, True, False, False]
    assert scored[0]["behaviour"] == scored[1]["behaviour"] != scored[2]["behaviour"]
    assert scored[3]["behaviour"] == "error SyntaxError"
    assert len(ex.cache) == 4
    ex.run([(task["task_id"], comps[0])])  # cached: nothing runs again
    assert len(ex.cache) == 4


def test_every_test_statement_runs_in_isolation():
    job = study.make_job("syn_code", 1)
    t = job.items[0]  # asserts sub4(-1) == -5, then four more inputs
    out = run_program(behaviour.behaviour_program(t["prompt"], "    return -5 if m == -1 else 0\n", t["test"],
                                           t["entry_point"]))
    assert out.status == "failed" and out.detail.startswith(behaviour.BEHAVIOUR_PREFIX)
    assert out.detail.endswith("failed=1,2,3,4")  # the first assert passed; the others still ran
    loop = run_program(behaviour.behaviour_program(t["prompt"], "    while True:\n        pass\n", t["test"],
                                            t["entry_point"]), timeout=1.0)
    assert behaviour.behaviour_of(loop) == "error timeout"


# ---- sampling: seeds, p' = 0, independence of k -------------------------------------------------------

@pytest.fixture(scope="module")
def model():
    m = build_model("tiny", MODEL, seed=5, act=get_variant(MODEL).inference_act).eval()
    with torch.no_grad():  # larger weights: confident logits, so the samples are text, not ties
        for p in m.parameters():
            if p.dim() > 1:
                p.mul_(6.0)
    return m


PROMPTS = ["def add(a, b):\n", "Question: Tom has 3 apples.\nAnswer:", "x = "]


def _sample(model, setting, k=3, seed=0, batch_size=8):
    act = settings.activation_for(setting, get_variant(MODEL))
    return study.sample(model, PROMPTS, setting, k=k, seed=seed, eval_act=act, stop=[], max_new_tokens=24,
                     batch_size=batch_size)


@pytest.mark.parametrize("setting", [settings.Setting("stocha", act_p=0.5), settings.Setting("temperature", temperature=1.0),
                                     settings.Setting("top_p", temperature=1.0, top_p=0.9),
                                     settings.Setting("stocha_temp", act_p=0.3, temperature=0.6)])
def test_fixed_seeds_reproduce_samples_exactly(model, setting):
    a, b = _sample(model, setting), _sample(model, setting)
    assert a == b
    assert any(len(set(row)) > 1 for row in a)  # k samples of a prompt do differ
    assert _sample(model, setting, seed=1) != a
    # sample j does not depend on k: a larger k only adds samples
    assert [row[:2] for row in _sample(model, setting, k=2)] == [row[:2] for row in a]
    assert model.activation.kind == "relu"  # the recipe's activation is restored


def test_p_zero_reproduces_relu_greedy_token_for_token(model):
    tok = ByteTokenizer()
    ids = [tok.encode(p, bos=True) for p in PROMPTS]
    with activation(model, "relu"):
        relu = generate_ids(model, ids, max_new_tokens=24)
    with activation(model, settings.activation_for(settings.Setting("stocha", act_p=0.0), get_variant(MODEL)), act_seed=7):
        assert model.activation.kind == "stocha" and model.activation.p == 0.0  # the stochastic path runs
        stocha = generate_ids(model, ids, max_new_tokens=24)
    assert stocha == relu and all(len(r) == 24 for r in relu)
    greedy = _sample(model, settings.Setting("greedy"))
    assert _sample(model, settings.Setting("stocha", act_p=0.0)) == greedy
    assert all(len(set(row)) == 1 for row in greedy)


def test_settings_and_their_activation():
    s = settings.build_settings()
    assert s[0] == settings.Setting("greedy") and len(s) == 1 + 7 + 5 + 5 + 3
    assert [x.label for x in s if x.method == "stocha"][:2] == ["p'=0.05", "p'=0.1"]
    assert settings.Setting("stocha_temp", act_p=0.3, temperature=0.6).tag == "p0.3-T0.6"
    assert settings.activation_for(settings.Setting("stocha", act_p=0.3), get_variant("stocha-p0.5-a0.1-full-tok")) == \
        "stocha:p=0.3,mode=full,gran=token"  # the recipe's own mode and granularity
    assert settings.activation_for(settings.Setting("temperature", temperature=0.5), get_variant(MODEL)) is None
    with pytest.raises(ValueError, match="p' must be in"):
        settings.Setting("stocha", act_p=1.5)
    with pytest.raises(ValueError, match="unknown diversity method"):
        settings.build_settings(["beam"])
    with pytest.raises(ValueError, match="needs T > 0"):
        settings.build_settings(["temperature"], temperatures=(0.0,))


# ---- the study: files, resume, --force, --rescore ---------------------------------------------------------

SMALL = [settings.Setting("greedy"), settings.Setting("stocha", act_p=0.5), settings.Setting("temperature", temperature=0.8)]


def test_study_writes_results_resumes_and_rescores(out_dir, model, monkeypatch):
    calls = []
    real = study.sample

    def counting(*a, **kw):
        calls.append(a[2].label)
        return real(*a, **kw)

    monkeypatch.setattr(study, "sample", counting)

    def loader():
        return model, {"step": 60, "checkpoint": "ckpt.pt", "sha256": "a" * 64}

    kw = dict(suites=["syn_code", "syn_reason"], k=3, n_prompts=2, settings=SMALL, loader=loader,
              progress=False, log=lambda *_: None)
    paths = study.run_diversity("tiny", MODEL, **kw)
    assert len(paths) == 6 and len(calls) == 6
    res = read_result(out_dir / "results/tiny" / MODEL / "s0/diversity/syn_code.stocha.p0.5.json")
    assert res["kind"] == "diversity" and res["status"] == "ok" and res["run"]["eval_act"] == "stocha:p=0.5"
    assert res["run"]["step"] == 60 and res["suite"]["params"]["k"] == 3 and "sandbox" in res["suite"]["execution"]
    assert res["suite"]["isolation"] == isolation.record("auto")
    names = {m["name"] for m in res["metrics"]}
    assert {"pass@1", "pass@3", "functional_diversity", "edit_distance", "distinct_4", "unique_fraction"} <= names
    assert all(m["method"] == "stocha" and m["setting"] == "p'=0.5" and m["n"] == m["n_total"] == 2
               for m in res["metrics"])
    lines = (out_dir / "results/tiny" / MODEL / "s0/diversity" / res["samples"]).read_text().splitlines()
    assert "_meta" in json.loads(lines[0]) and len(lines) == 1 + 2 * 3 and "behaviour" in json.loads(lines[1])
    reason = read_result(out_dir / "results/tiny" / MODEL / "s0/diversity/syn_reason.greedy.greedy.json")
    assert {"exact_match", "maj@3", "any@3", "f1_best@3", "f1_mean"} <= {m["name"] for m in reason["metrics"]}
    assert reason["run"]["eval_act"] == "relu"

    assert study.run_diversity("tiny", MODEL, **kw) == paths and len(calls) == 6  # done: skipped
    study.run_diversity("tiny", MODEL, **{**kw, "force": True, "settings": SMALL[:1]})
    assert len(calls) == 8  # --force regenerates (greedy, both suites)

    def no_model():
        raise AssertionError("--rescore must not load a model")

    before = res["metrics"]
    study.run_diversity("tiny", MODEL, **{**kw, "rescore": True, "loader": no_model})
    assert len(calls) == 8 and read_result(paths[1])["metrics"] == before
    with pytest.raises(ValueError, match="pass the same --k and --prompts"):
        study.run_diversity("tiny", MODEL, **{**kw, "rescore": True, "loader": no_model, "k": 5})
    study.run_diversity("tiny", MODEL, **{**kw, "k": 4, "settings": SMALL[2:]})  # new parameters: regenerated
    assert len(calls) == 10

    def retrained():  # the same step, other weights (train --force): every setting is another model's
        return model, {"step": 60, "checkpoint": "ckpt.pt", "sha256": "b" * 64}

    study.run_diversity("tiny", MODEL, **{**kw, "settings": SMALL[:1], "loader": retrained})
    assert len(calls) == 12
    assert read_result(paths[0])["run"]["checkpoint_sha256"] == "b" * 64


def test_cli_bad_input_is_one_line(out_dir, capsys):
    for args, msg in ((["--k", "0"], "--k must be >= 1"), (["--methods", "beam"], "unknown diversity method"),
                      (["--act-ps", "1.5"], "p' must be in [0, 1]"), (["--suites", "syn_choice"], "neither a code"),
                      (["--combo", "0.3"], "P:T pairs")):
        assert main(["diversity", "--model", MODEL, "--scale", "tiny", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and msg in err and len(err.strip().splitlines()) == 1
    assert not (out_dir / "runs").exists()  # nothing trained on bad input


def test_only_the_plain_check_counts_a_pass(monkeypatch):
    """Probes first; the plain check runs only for candidates the probe did not prove wrong."""
    from harness.sandbox.execute import Outcome

    ran = []
    real = behaviour.run_many

    def counting(programs, **kw):
        ran.append(len(programs))
        return real(programs, **kw)

    monkeypatch.setattr(behaviour, "run_many", counting)
    job = study.make_job("syn_code", 1)
    tid = job.items[0]["task_id"]
    comps = ["    return m - 4\n", "    return m + -4\n", "    return m - 5\n", "    return m -\n"]
    assert [st for st, _ in behaviour.Executor(job).run([(tid, c) for c in comps])] == ["passed", "passed", "failed",
                                                                                  "failed"]
    assert ran == [4, 2]  # 4 probes, then the 2 candidates whose every test statement passed
    assert behaviour.probe_shows_failure(Outcome("failed", behaviour.BEHAVIOUR_PREFIX + "abc failed=0,3"))
    assert not behaviour.probe_shows_failure(Outcome("failed", behaviour.BEHAVIOUR_PREFIX + "abc failed="))
    assert behaviour.probe_shows_failure(Outcome("failed", "SyntaxError: invalid syntax"))
    assert not behaviour.probe_shows_failure(Outcome("timeout", "killed after 5 s"))
    assert not behaviour.probe_shows_failure(Outcome("crashed", "signal 9"))


def test_a_damaged_samples_file_is_generated_again_or_refused_by_rescore(out_dir, model, monkeypatch):
    calls = []
    real = study.sample
    monkeypatch.setattr(study, "sample", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    kw = dict(suites=["syn_reason"], k=2, n_prompts=2, settings=SMALL[:1], progress=False, log=lambda *_: None,
              loader=lambda: (model, {"step": 60, "checkpoint": "ckpt.pt", "sha256": "a" * 64}))
    [path] = study.run_diversity("tiny", MODEL, **kw)
    sp = samples_path(path)
    whole = sp.read_bytes()
    sp.write_bytes(whole[: len(whole) - 20])  # cut mid-line, as a kill or a full disk would
    path.unlink()  # the result is missing too: the setting must be redone
    with pytest.raises(RuntimeError, match="is damaged"):
        study.run_diversity("tiny", MODEL, **{**kw, "rescore": True})
    assert sp.read_bytes() == whole[: len(whole) - 20]  # refused: left untouched
    study.run_diversity("tiny", MODEL, **kw)
    assert len(calls) == 2 and read_result(path)["status"] == "ok"
    assert [json.loads(x) for x in sp.read_text().splitlines()][1:] == \
        [json.loads(x) for x in whole.decode().splitlines()][1:]  # the same samples (scored) again
