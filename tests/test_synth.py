import re

import pytest

from harness.data import synth


def test_deterministic():
    assert synth.code_tasks("eval", 30) == synth.code_tasks("eval", 30)
    assert synth.reason_problems("eval", 30) == synth.reason_problems("eval", 30)
    assert synth.choice_items("eval", 10) == synth.choice_items("eval", 10)
    assert synth.code_tasks("eval", 30, seed=1) != synth.code_tasks("eval", 30)


def test_eval_items_never_in_training_documents():
    code_eval = synth.code_tasks("eval", 200)
    reason_eval = synth.reason_problems("eval", 200)
    it = synth.iter_train_documents(seed=0)
    train_text = "\n".join(next(it) for _ in range(20000))
    # the def line + description (the split key) of every eval task is absent from the training stream
    for t in code_eval:
        head = t["prompt"].split("\n\n")[0]  # signature + first docstring line
        assert head not in train_text
    for p in reason_eval:
        assert p["question"] not in train_text
    # and the split rule really partitions: every eval key hashes to eval, train keys to train
    assert all(synth.split_of(p["question"]) == "eval" for p in reason_eval)
    assert all(synth.split_of(p["question"]) == "train" for p in synth.reason_problems("train", 50))


def test_canonical_solutions_pass_their_tests_and_wrong_ones_fail():
    for t in synth.code_tasks("eval", 120):
        ns = {}
        exec(t["prompt"] + t["canonical_solution"] + "\n" + t["test"], ns)
        ns["check"](ns[t["entry_point"]])
        ns2 = {}
        exec(t["prompt"] + "    return None\n" + "\n" + t["test"], ns2)
        with pytest.raises(AssertionError):
            ns2["check"](ns2[t["entry_point"]])


def test_code_tasks_cover_every_family():
    fams = {t["family"] for t in synth.code_tasks("eval", 200)}
    assert fams == set(synth.CODE_FAMILIES)


def test_reasoning_worked_solutions_are_correct():
    for p in synth.reason_problems("eval", 200):
        lines = p["answer"].splitlines()
        assert lines[-1] == f"#### {p['target']}" and len(lines) == p["steps"] + 1
        for line in lines[:-1]:
            expr, res = re.fullmatch(r"(.+) = <<.+=(-?\d+)>>-?\d+", line).groups()
            assert eval(expr.replace("/", "//")) == int(res)
        assert int(lines[-2].rsplit(">>", 1)[1]) == int(p["target"])


def test_choice_items_gold_is_the_right_answer():
    items = synth.choice_items("eval", 40)
    assert len({it["gold"] for it in items}) > 1  # the gold position is shuffled
    for it in items:
        assert len(it["choices"]) == 4 and len(set(it["choices"])) == 4
        gold = it["choices"][it["gold"]]
        if it["family"] == "arith":
            expr = it["context"].rsplit("Answer: ", 1)[1].rstrip(" =")
            assert int(gold) == eval(expr.replace("/", "//"))


def test_bad_split():
    with pytest.raises(ValueError, match="train, eval"):
        synth.code_tasks("test", 3)
