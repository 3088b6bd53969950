"""``lm_eval:TASK`` (suites.lm_eval_task.LmEvalTask): a missing dataset is a skip, any other error a failure,
and a ``--limit``ed run records n < n_total (so it is not taken for a full one).

The tasks run through lm-eval for real. Only lm-eval's task index is narrowed (``TaskManager`` sees one
directory instead of indexing its ~14,700 built-in tasks, ~15 s): lm-eval's own ``arc`` directory, or a tiny
local task written like the harness's own suites write theirs (``suites.lm_tasks.write_task``).

Supersedes ``tests/test_suites.py::test_lm_eval_task_offline_is_skipped`` (marked slow, so not run by
default, and its ``match="Hub"`` held for any exception, since every one became that skip).
"""

import pathlib
import time

import pytest
from lm_eval.api.model import LM

from harness.results import is_complete
from suites import EvalContext, SkipSuite, get_suite
from suites.lm_tasks import write_task

DOCS = [{"q": f"{a} + {b} =", "choices": [f" {a + b}", f" {a + b + 1}"], "gold": 0}
        for a, b in ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10))]
CONFIG = {"output_type": "multiple_choice", "doc_to_text": "{{q}}", "doc_to_choice": "{{choices}}",
          "doc_to_target": "{{gold}}", "target_delimiter": "", "num_fewshot": 0,
          "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
          "metadata": {"version": 1.0}}


class ChoiceLM(LM):
    """Prefers the right sum (the gold choice); ``fail`` makes every call raise it (a bug in a model adapter)."""

    def __init__(self, fail: BaseException | None = None):
        super().__init__()
        self.fail = fail

    def loglikelihood(self, reqs):
        if self.fail is not None:
            raise self.fail
        out = []
        for ctx, cont in (r.args for r in reqs):  # ctx "1 + 2 =", cont " 3"
            a, _, b, _ = ctx.split()
            out.append((-1.0 if int(cont) == int(a) + int(b) else -5.0, False))
        return out

    def generate_until(self, reqs):
        raise NotImplementedError

    def loglikelihood_rolling(self, reqs):
        raise NotImplementedError


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """Offline, with empty Hugging Face caches: ``datasets`` and ``huggingface_hub`` read their environment at
    import, so their settings are patched too."""
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf" / "datasets")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    return tmp_path


def only_tasks_in(monkeypatch, directory: pathlib.Path):
    """lm-eval's registry narrowed to the task YAMLs under ``directory`` (what ``TaskManager()`` would index)."""
    import lm_eval.tasks

    real = lm_eval.tasks.TaskManager
    monkeypatch.setattr(lm_eval.tasks, "TaskManager",
                        lambda *a, **kw: real(include_path=str(directory), include_defaults=False))


def lm_eval_arc(monkeypatch):
    import lm_eval.tasks

    only_tasks_in(monkeypatch, pathlib.Path(lm_eval.tasks.__file__).parent / "arc")  # lm-eval's arc_easy.yaml


def local_task(tmp_path, monkeypatch, name="sparsebench_tiny_choice"):
    write_task(EvalContext(workdir=tmp_path / "tasks", progress=False), name, DOCS, CONFIG)
    only_tasks_in(monkeypatch, tmp_path / "tasks")
    return get_suite(f"lm_eval:{name}")


def test_missing_dataset_offline_is_skipped_with_the_fetch_command(offline_cache, monkeypatch):
    """lm-eval's real arc_easy: datasets raises ConnectionError("Couldn't reach 'allenai/ai2_arc' on the Hub
    (OfflineModeIsEnabled)") at once, without trying the network; that is a skip saying how to fetch it."""
    lm_eval_arc(monkeypatch)
    s = get_suite("lm_eval:arc_easy")
    t0 = time.perf_counter()
    with pytest.raises(SkipSuite) as e:
        s.generate(EvalContext(lm=ChoiceLM(fail=AssertionError("the model must not run")), progress=False), 2)
    assert time.perf_counter() - t0 < 60  # offline fails fast: no network timeouts
    msg = str(e.value)
    assert "\n" not in msg and "allenai/ai2_arc" in msg and "ConnectionError" in msg
    assert "not in the local Hugging Face datasets cache" in msg
    assert "HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 python -m harness eval" in msg
    assert "--suites lm_eval:arc_easy" in msg
    assert type(e.value.__cause__) is ConnectionError


@pytest.mark.slow
def test_missing_dataset_is_skipped_through_the_full_registry(offline_cache):
    """The same through lm-eval's whole task index, as ``--suites lm_eval:arc_easy`` runs it (~20 s)."""
    with pytest.raises(SkipSuite, match="HF_DATASETS_OFFLINE=0") as e:
        get_suite("lm_eval:arc_easy").generate(EvalContext(lm=ChoiceLM(fail=AssertionError()), progress=False), 2)
    assert type(e.value.__cause__) is ConnectionError


@pytest.mark.parametrize("name, what", [("no_such_task", "is not an lm-eval task"),
                                        ("ai2_arc", "is a group or tag of tasks")])
def test_unknown_task_fails_with_one_line_naming_it(offline_cache, monkeypatch, name, what):
    lm_eval_arc(monkeypatch)
    with pytest.raises(ValueError) as e:
        get_suite(f"lm_eval:{name}").generate(EvalContext(lm=ChoiceLM(), progress=False), 2)
    assert not isinstance(e.value, SkipSuite)
    assert f"lm-eval task {name!r} {what}" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("error", [RuntimeError("adapter bug: bad shape"), ValueError("adapter bug: bad value"),
                                   TypeError("adapter bug: bad type"),
                                   # generic types a missing dataset also comes as: raised by the model, not
                                   # while loading the data, they are failures too
                                   FileNotFoundError("adapter bug: no such file"),
                                   ConnectionError("adapter bug: Couldn't reach the Hub")])
def test_model_error_inside_lm_eval_fails_the_suite(tmp_path, offline_cache, monkeypatch, error):
    s = local_task(tmp_path, monkeypatch)
    with pytest.raises(type(error)) as e:
        s.generate(EvalContext(lm=ChoiceLM(fail=error), progress=False), None)
    assert type(e.value) is type(error) and e.value is error  # the model's own error, not a SkipSuite


def test_model_error_fails_the_suite_when_run_task_raises(monkeypatch):
    """The same with lm-eval stubbed out (the task loads, then the run raises)."""
    import suites.lm_eval_task as mod

    monkeypatch.setattr(mod, "load_task", lambda task: ("tm", "task"), raising=False)
    monkeypatch.setattr(mod, "run_task", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("boom in adapter")))
    with pytest.raises(RuntimeError, match="boom in adapter") as e:
        get_suite("lm_eval:arc_easy").generate(EvalContext(lm=ChoiceLM(), progress=False), 2)
    assert not isinstance(e.value, SkipSuite)


def ok_result(metrics):
    return {"status": "ok", "suite": {"version": "1", "params": {}}, "metrics": metrics}


def test_limited_run_is_partial_and_full_run_complete(tmp_path, offline_cache, monkeypatch):
    s = local_task(tmp_path, monkeypatch)
    ctx = EvalContext(lm=ChoiceLM(), progress=False)
    records = s.generate(ctx, 2)
    metrics, _ = s.score(records, ctx)
    assert [(m["n"], m["n_total"]) for m in metrics if m["name"] == "acc"] == [(2, 5)]
    assert not is_complete(ok_result(metrics))
    assert [m["name"] for m in metrics] == ["acc"]  # lm-eval's "sample_len" count is not a metric
    assert metrics[0]["value"] == 1.0
    # re-scoring from the samples alone (no lm-eval aggregation in the context) keeps the count
    rescored, _ = s.score(records, EvalContext(progress=False))
    assert [(m["name"], m["n"], m["n_total"]) for m in rescored] == [("acc", 2, 5)]
    assert not is_complete(ok_result(rescored))

    ctx = EvalContext(lm=ChoiceLM(), progress=False)
    metrics, _ = s.score(s.generate(ctx, None), ctx)
    assert [(m["n"], m["n_total"]) for m in metrics] == [(5, 5)]
    assert is_complete(ok_result(metrics))


def test_run_task_reports_document_counts(tmp_path, offline_cache, monkeypatch):
    """run_task still returns two values; lm-eval's n-samples ride in the aggregated metrics."""
    from suites.lm_tasks import run_task

    ctx = EvalContext(lm=ChoiceLM(), workdir=tmp_path / "tasks", progress=False)
    d = write_task(ctx, "sparsebench_tiny_choice", DOCS, CONFIG)
    agg, samples = run_task(ctx, "sparsebench_tiny_choice", d, 3)
    assert agg["n-samples"] == {"original": 5, "effective": 3} and len(samples) == 3
    assert agg["acc,none"] == 1.0
