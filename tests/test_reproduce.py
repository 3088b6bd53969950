"""`python -m harness reproduce`: plan order, skipping finished work, resuming after a kill, rendering.

Training, evaluation and profiling are replaced by fakes that write real result files, so these tests
check the orchestration (what runs, in which order, what is skipped) in seconds.
"""

import pytest

from harness.__main__ import main
from harness.commands import reproduce
from harness.diversity import study
from harness.evaluation import evaluate
from harness.paths import run_dir
from harness.profiling import profile_run
from harness.results import atomic_write_text, make_result, metric, read_result, result_path, write_result
from harness.train import trainer
from models.registry import GRIDS, get_variant


def _write(kind, scale, model, seed, suite, metrics, **extra):
    run = {"scale": scale, "model": model, "seed": seed, "step": 10, "variant": get_variant(model).to_dict()}
    write_result(make_result(kind, run=run, suite={"name": suite, "version": "1"}, metrics=metrics,
                             provenance={}, **extra))


@pytest.fixture
def fakes(out_dir, monkeypatch):
    """Fake training, evaluation, profiling and the checkpoint look-up, recording calls; ``fail_at`` kills a
    train call."""
    calls, state = [], {"fail_at": None, "n_train": 0, "isolation": []}

    def final_checkpoint(rd):
        p = rd / "ckpt" / "final.pt"
        return p if p.exists() else None

    def ensure_trained(scale, model, seed=0, steps=None):
        state["n_train"] += 1
        if state["fail_at"] == state["n_train"]:
            raise KeyboardInterrupt  # killed mid-training: no checkpoint, no result
        calls.append(("train", model, seed, steps))
        rd = run_dir(scale, model, seed)
        atomic_write_text(rd / "ckpt" / "final.pt", "weights")
        curve = [{"step": s, "loss": 3.0 - 0.1 * s, "val_loss": None, "lr": 1e-3, "phase": "pretrain"}
                 for s in range(0, 10, 2)]
        _write("train", scale, model, seed, "train",
               [metric("val_loss", 2.0 + seed / 10, higher_is_better=False)], curve=curve,
               switch_step=get_variant(model).switch_step(10))
        return rd

    def run_eval(scale, model, seed=0, suites=None, limit=None, force=False, isolation="auto"):
        calls.append(("eval", model, seed, tuple(suites or ())))
        state["isolation"].append(isolation)
        path = result_path(scale, model, seed, "syn_code")
        if not path.exists():  # the real evaluator skips complete results the same way
            _write("eval", scale, model, seed, "syn_code",
                   [metric("pass@1", 0.5 + 0.1 * seed, n=10, n_total=10)])
        return [path]

    def run_profile(scale, model, seed=0, force=False):
        calls.append(("profile", model, seed))
        sp = 0.0 if model == "silu" else 0.9
        _write("profile", scale, model, seed, "profile",
               [metric("sparsity", sp), metric("sparsity", sp, layer=0), metric("ffn_speedup", 1.0 + sp)])
        return result_path(scale, model, seed, "profile")

    monkeypatch.setattr(reproduce, "final_checkpoint", final_checkpoint)
    monkeypatch.setattr(trainer, "ensure_trained", ensure_trained)
    monkeypatch.setattr(evaluate, "run_eval", run_eval)
    monkeypatch.setattr(profile_run, "run_profile", run_profile)
    return calls, state


def test_variants_for_tables_and_overrides():
    assert reproduce.variants_for("main") == GRIDS["main"]
    allv = reproduce.variants_for("all")
    assert len(allv) == len(set(allv)) and set(allv) == {n for g in GRIDS.values() for n in g}
    assert allv[:len(GRIDS["main"])] == GRIDS["main"]
    assert reproduce.variants_for("main", "RELU, stocha-p0.70-a0.050,relu") == ["relu", "stocha-p0.7-a0.05"]
    with pytest.raises(ValueError, match="unknown model"):
        reproduce.variants_for("main", "relu,swish")
    with pytest.raises(ValueError):
        reproduce.variants_for("nope")


def test_plan_is_seed_major():
    assert reproduce.plan(["a", "b"], 2) == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    with pytest.raises(ValueError, match="at least 1"):
        reproduce.plan(["a"], 0)


def test_runs_everything_once_then_skips(fakes, out_dir, capsys):
    calls, _ = fakes
    args = ["reproduce", "--scale", "tiny", "--seeds", "2", "--models", "relu,silu", "--steps", "10",
            "--suites", "syn_code", "--no-report"]
    assert main(args) == 0
    assert calls == [("train", "relu", 0, 10), ("eval", "relu", 0, ("syn_code",)), ("profile", "relu", 0),
                     ("train", "silu", 0, 10), ("eval", "silu", 0, ("syn_code",)), ("profile", "silu", 0),
                     ("train", "relu", 1, 10), ("eval", "relu", 1, ("syn_code",)), ("profile", "relu", 1),
                     ("train", "silu", 1, 10), ("eval", "silu", 1, ("syn_code",)), ("profile", "silu", 1)]
    assert "4 trained now" in capsys.readouterr().out
    calls.clear()
    assert main(args) == 0  # second run: no training, no profiling; eval is asked and skips by itself
    assert [c[0] for c in calls] == ["eval"] * 4
    out = capsys.readouterr().out
    assert "0 trained now, 4 already trained" in out and "wall time" in out


def test_resumes_after_a_kill(fakes, out_dir):
    calls, state = fakes
    state["fail_at"] = 2  # killed while training the second run
    args = ["reproduce", "--scale", "tiny", "--seeds", "1", "--models", "relu,silu,swi-ft-a0.1",
            "--no-report"]
    assert main(args) == 130
    assert [c[:2] for c in calls] == [("train", "relu"), ("eval", "relu"), ("profile", "relu")]
    calls.clear()
    state["fail_at"] = None
    assert main(args) == 0
    trained = [c[1] for c in calls if c[0] == "train"]
    assert trained == ["silu", "swi-ft-a0.1"]  # relu is not retrained
    assert [c[1] for c in calls if c[0] == "profile"] == ["silu", "swi-ft-a0.1"]


def test_incomplete_profile_is_redone(fakes, out_dir):
    calls, _ = fakes
    args = ["reproduce", "--scale", "tiny", "--seeds", "1", "--models", "relu", "--no-report"]
    assert main(args) == 0
    p = result_path("tiny", "relu", 0, "profile")
    r = read_result(p)
    r["status"] = "skipped"
    write_result(r, p)
    calls.clear()
    assert main(args) == 0
    assert [c[0] for c in calls] == ["eval", "profile"]


def test_dry_run_runs_nothing(fakes, out_dir, capsys):
    calls, _ = fakes
    assert main(["reproduce", "--scale", "tiny", "--seeds", "2", "--table", "main", "--dry-run"]) == 0
    assert calls == []
    out = capsys.readouterr().out
    assert f"{len(GRIDS['main'])} variants × 2 seeds = {2 * len(GRIDS['main'])} runs" in out
    assert out.count("to train") == 2 * len(GRIDS["main"])


def test_bad_input_is_one_clear_line(fakes, out_dir, capsys):
    assert main(["reproduce", "--scale", "tiny", "--seeds", "0", "--no-report"]) == 2
    assert "error: --seeds must be at least 1" in capsys.readouterr().err
    assert main(["reproduce", "--scale", "huge", "--no-report"]) == 2
    assert "unknown scale" in capsys.readouterr().err
    assert main(["reproduce", "--scale", "tiny", "--models", "relu,bogus", "--no-report"]) == 2
    assert "unknown model 'bogus'" in capsys.readouterr().err


def test_renders_reports_in_a_subprocess(fakes, out_dir, capsys):
    assert main(["reproduce", "--scale", "tiny", "--seeds", "2", "--models", "relu,silu"]) == 0
    index = (out_dir / "reports" / "index.md").read_text()
    assert "tables/main-tiny.md" in index and "figures/sparsity_vs_quality-tiny.png" in index
    main_md = (out_dir / "reports" / "tables" / "main-tiny.md").read_text()
    # pass@1 0.5, 0.6 → 55.0 ± 12.706·0.0707/√2·100; RELU and SILU tie on it, so neither is bold.
    assert "| RELU | 2 | 55.0 ± 63.5 |" in main_md and "| SILU | 2 | 55.0 ± 63.5 |" in main_md
    assert "| **90.0 ± 0.0** | **1.90 ± 0.00** |" in main_md  # RELU's sparsity and speed-up win
    assert (out_dir / "reports" / "figures" / "loss_curves-tiny.pdf").exists()
    assert "reports:" in capsys.readouterr().out


def test_diversity_study_runs_once_for_stocha_seed_0(fakes, out_dir, monkeypatch, capsys):
    calls, _ = fakes

    def run_diversity(scale, model, seed=0, isolation="auto"):
        calls.append(("diversity", model, seed))
        isolations.append(isolation)
        return []

    isolations = []

    monkeypatch.setattr(study, "run_diversity", run_diversity)
    args = ["reproduce", "--scale", "tiny", "--seeds", "2", "--models", "relu,stocha-p0.7-a0.05", "--no-report"]
    assert main(args) == 0
    assert [c for c in calls if c[0] == "diversity"] == [("diversity", "stocha-p0.7-a0.05", 0)]
    assert calls[-1][0] == "diversity" and "diversity study" in capsys.readouterr().out  # after the whole grid
    calls.clear()
    assert main(args + ["--no-diversity"]) == 0
    assert not [c for c in calls if c[0] == "diversity"]
    assert main(["reproduce", "--scale", "tiny", "--seeds", "1", "--models", "relu", "--no-report"]) == 0
    assert not [c for c in calls if c[0] == "diversity"]  # StochA's representative not in the grid
    assert main(["reproduce", "--scale", "tiny", "--table", "main", "--dry-run"]) == 0
    assert "then the diversity study of stocha-p0.7-a0.05 seed 0" in capsys.readouterr().out
    assert isolations == ["auto"]
    assert main(args + ["--isolation", "guard"]) == 0  # reaches the study
    assert isolations == ["auto", "guard"]


def test_isolation_reaches_the_evaluator(fakes, out_dir):
    calls, state = fakes
    args = ["reproduce", "--scale", "tiny", "--seeds", "1", "--models", "relu", "--no-report", "--no-profile"]
    assert main(args) == 0 and state["isolation"] == ["auto"]
    assert main(args + ["--isolation", "namespaces"]) == 0 and state["isolation"] == ["auto", "namespaces"]


def test_runs_with_every_result_present_need_no_checkpoint(fakes, out_dir, capsys):
    """Results copied in from elsewhere (no checkpoints, no samples) are not recomputed."""
    from suites import DEFAULT_SUITES, get_suite

    calls, _ = fakes
    for model in ("relu", "silu"):
        run = {"scale": "tiny", "model": model, "seed": 0, "step": 10, "variant": get_variant(model).to_dict(),
               "eval_act_default": True}
        for name in DEFAULT_SUITES:
            s = get_suite(name)
            write_result(make_result("eval", run=run, metrics=[metric("score", 0.5, n=5, n_total=5)],
                                     suite={"name": s.name, "version": s.version, "params": {**s.params, "limit": None}},
                                     provenance={}))
        _write("train", "tiny", model, 0, "train", [metric("val_loss", 2.0)])
        _write("profile", "tiny", model, 0, "profile", [metric("sparsity", 0.5)])
    args = ["reproduce", "--scale", "tiny", "--seeds", "1", "--models", "relu,silu", "--no-report",
            "--no-diversity"]
    assert main(args + ["--dry-run"]) == 0
    assert capsys.readouterr().out.count("all results present") == 2
    assert main(args) == 0 and calls == []
    # One suite result with other parameters (an older suite size) makes the run due again.
    s = get_suite("syn_code")
    run = {"scale": "tiny", "model": "relu", "seed": 0, "step": 10, "variant": get_variant("relu").to_dict()}
    write_result(make_result("eval", run=run, metrics=[metric("score", 0.5, n=5, n_total=5)],
                             suite={"name": "syn_code", "version": s.version,
                                    "params": {**s.params, "n_items": 200, "limit": None}}, provenance={}))
    assert main(args) == 0 and [c[:2] for c in calls] == [("train", "relu"), ("eval", "relu")]  # profile kept
