"""Result files: round trip, samples first, skip-if-done, --limit partial results, re-scoring without a model."""

import json

import pytest
from fakes import Counting

from harness.evaluation.suite_run import is_done as _is_done
from harness.evaluation.suite_run import run_suite
from harness.evaluation.table import print_table
from harness.results import is_complete, read_result, result_path
from harness.sandbox import isolation
from suites import EvalContext, get_suite

RUN = {"scale": "tiny", "model": "silu", "seed": 0, "step": 60, "checkpoint": "ckpt.pt", "eval_act": "silu",
       "variant": {"recipe": "silu"}}


def test_result_round_trip_skip_if_done_and_rescore(out_dir):
    suite = get_suite("syn_code", n_items=8)
    gen = Counting(suite)
    ctx = EvalContext(generate_fn=gen, progress=False)
    path = result_path("tiny", "silu", 0, "syn_code")
    logs = []
    p = run_suite(suite, ctx, RUN, limit=None, path=path, log=logs.append)
    res = read_result(p)
    assert res["status"] == "ok" and res["run"] == RUN and res["suite"]["params"]["n_items"] == 8
    assert res["samples"] == "syn_code.samples.jsonl" and "sandbox" in res["suite"]["execution"]
    assert res["suite"]["isolation"] == isolation.record("auto")  # what ran: namespaces where the kernel allows
    m = {x["name"]: x for x in res["metrics"]}
    assert m["pass@1"]["value"] == 1.0 and is_complete(res, version=suite.version, params=res["suite"]["params"])
    # The per-item scores travel in the result (paired comparisons need no samples file).
    assert res["items"] == {"metric": "pass@1", "ids": [t["task_id"] for t in suite.tasks()], "values": [1.0] * 8}
    lines = (p.parent / "syn_code.samples.jsonl").read_text().splitlines()
    assert "_meta" in json.loads(lines[0]) and len(lines) == 9 and json.loads(lines[1])["passed"] is True
    assert _is_done(path, suite, None, "silu", 60) and not _is_done(path, suite, None, "relu", 60)

    # running again reuses the samples (no generation), --rescore scores them without a model
    run_suite(suite, ctx, RUN, limit=None, path=path, log=logs.append)
    run_suite(suite, EvalContext(progress=False), RUN, limit=None, path=path, rescore=True, log=logs.append)
    assert gen.calls == 1
    run_suite(suite, ctx, RUN, limit=None, path=path, force=True, log=logs.append)
    assert gen.calls == 2


def test_limit_gives_a_partial_result(out_dir):
    suite = get_suite("syn_code", n_items=8)
    path = result_path("tiny", "silu", 0, "syn_code")
    run_suite(suite, EvalContext(generate_fn=Counting(suite), progress=False), RUN, limit=3, path=path,
              log=lambda *_: None)
    res = read_result(path)
    m = res["metrics"][0]
    assert (m["n"], m["n_total"]) == (3, 8)
    assert not is_complete(res) and not _is_done(path, suite, None, "silu", 60)
    assert _is_done(path, suite, 3, "silu", 60)


def test_skipped_suite_records_reason(out_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MBPP_OVERRIDE_PATH", str(tmp_path / "none.jsonl"))
    path = result_path("tiny", "silu", 0, "mbpp_plus")
    run_suite(get_suite("mbpp_plus"), EvalContext(progress=False), RUN, limit=None, path=path, log=lambda *_: None)
    res = read_result(path)
    assert res["status"] == "skipped" and "make data" in res["skip_reason"] and res["metrics"] == []


def test_table_shows_runs(out_dir):
    suite = get_suite("syn_code", n_items=4)
    run_suite(suite, EvalContext(generate_fn=Counting(suite), progress=False), RUN, limit=None,
              path=result_path("tiny", "silu", 0, "syn_code"), log=lambda *_: None)
    lines = []
    print_table("tiny", current=("silu", 0), log=lines.append)
    text = "\n".join(lines)
    assert "syn_code" in text and "1.000" in text and "→ silu" in text


def test_bad_input_is_one_clear_error(out_dir):
    from harness.evaluation.evaluate import run_eval

    with pytest.raises(ValueError, match="unknown suite"):
        run_eval("tiny", "silu", suites=["nope"], train=False)
    with pytest.raises(ValueError, match="unknown model"):
        run_eval("tiny", "sigmoid", train=False)
    with pytest.raises(FileNotFoundError, match="train it first"):
        run_eval("tiny", "silu", suites=["syn_code"], train=False)


def test_items_sizes_the_generated_suites_and_their_results_are_whole(out_dir):
    from harness.evaluation.evaluate import _suites, run_eval

    sized = {s.name: s.params.get("n_items") for s in _suites(["syn_code", "syn_reason", "syn_choice", "humaneval",
                                                                "stdlib_bpb"], None, items=40)}
    assert sized == {"syn_code": 40, "syn_reason": 40, "syn_choice": 40, "humaneval": None, "stdlib_bpb": None}
    assert {s.params["n_items"] for s in _suites(["syn_code", "syn_choice"], None)} == {600}
    suite = _suites(["syn_code"], None, items=5)[0]
    path = result_path("tiny", "silu", 0, "syn_code")
    run_suite(suite, EvalContext(generate_fn=Counting(suite), progress=False), RUN, limit=None, path=path,
              log=lambda *_: None)
    res = read_result(path)
    assert (res["metrics"][0]["n"], res["metrics"][0]["n_total"]) == (5, 5) and is_complete(res)
    assert res["suite"]["params"]["n_items"] == 5  # a 5-item result never passes for a 600-item one
    assert not _is_done(path, get_suite("syn_code"), None, "silu", 60)
    with pytest.raises(ValueError, match="--items must be >= 1"):
        run_eval("tiny", "silu", suites=["syn_code"], items=0, train=False)


@pytest.mark.slow
def test_run_eval_end_to_end_tiny(out_dir):
    from harness.evaluation.evaluate import run_eval

    paths = run_eval("tiny", "silu", suites=["syn_code", "syn_choice"], limit=3, progress=False, log=lambda *_: None)
    assert [read_result(p)["suite"]["name"] for p in paths] == ["syn_code", "syn_choice"]
    again = run_eval("tiny", "silu", suites=["syn_code", "syn_choice"], limit=3, progress=False,
                     log=lambda *_: None)
    assert again == paths


def test_a_result_of_another_checkpoint_at_the_same_step_is_not_done(out_dir):
    suite = get_suite("syn_code", n_items=4)
    path = result_path("tiny", "silu", 0, "syn_code")
    run_suite(suite, EvalContext(generate_fn=Counting(suite), progress=False), {**RUN, "checkpoint_sha256": "aa"},
              limit=None, path=path, log=lambda *_: None)
    assert _is_done(path, suite, None, "silu", 60, "aa")
    assert not _is_done(path, suite, None, "silu", 60, "bb")  # retrained (--force) to the same step
    legacy = read_result(path)
    del legacy["run"]["checkpoint_sha256"]  # written before results recorded the checkpoint: by step, as then
    path.write_text(json.dumps(legacy))
    assert _is_done(path, suite, None, "silu", 60, "bb")


def test_retrained_run_is_evaluated_again(out_dir):
    """A run retrained with --force to the same step but other weights: eval and profile redo their work."""
    from harness.evaluation.evaluate import run_eval
    from harness.paths import run_dir
    from harness.profiling.profile_run import run_profile
    from harness.train.checkpoint_files import final_checkpoint, sidecar_sha256
    from harness.train.config import TrainConfig
    from harness.train.trainer import train

    def evaluate():
        logs = []
        run_eval("tiny", "relu", suites=["syn_choice"], limit=4, progress=False, log=logs.append)
        return logs, read_result(result_path("tiny", "relu", 0, "syn_choice"))

    train(TrainConfig.create("tiny", "relu", steps=8), progress=False)
    sha1 = sidecar_sha256(final_checkpoint(run_dir("tiny", "relu", 0)))
    logs, res = evaluate()
    assert res["run"]["checkpoint_sha256"] == sha1 and any("generating" in x for x in logs)
    prof = run_profile("tiny", "relu", widths=[])
    assert read_result(prof)["run"]["checkpoint_sha256"] == sha1
    logs, _ = evaluate()
    assert any("done already" in x for x in logs)

    train(TrainConfig.create("tiny", "relu", steps=8, lr=1e-3), force=True, progress=False)
    sha2 = sidecar_sha256(final_checkpoint(run_dir("tiny", "relu", 0)))
    assert sha2 != sha1
    logs, res = evaluate()
    assert any("generating" in x for x in logs) and res["run"]["checkpoint_sha256"] == sha2
    assert read_result(run_profile("tiny", "relu", widths=[]))["run"]["checkpoint_sha256"] == sha2


def test_table_shows_the_decode_speed_enable_sparse_gives(out_dir):
    """Profile v3 records decoding with enable_sparse's own choice (1.0 where it keeps dense); v2 forced the
    kernel (0.9 at small) and must not appear as what a user gets."""
    from harness.results import make_result, metric, write_result

    for seed, version, value in ((0, "3", 1.0), (1, "2", 0.9)):
        res = make_result("profile", run={"scale": "tiny", "model": "relu", "seed": seed, "eval_act": "relu"},
                          suite={"name": "profile", "version": version}, provenance={},
                          metrics=[metric("sparsity", 0.5), metric("decode_speedup", value)])
        write_result(res, result_path("tiny", "relu", seed, "profile"))
    lines = []
    print_table("tiny", log=lines.append)
    rows = {ln.split()[1]: ln for ln in lines if ln.strip().startswith("relu")}
    assert "decode x" in "\n".join(lines)
    assert rows["0"].split()[-1] == "1.000" and rows["1"].split()[-1] == "-"
