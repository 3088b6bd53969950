"""The trainer: LR schedule, loss decreases, activation schedule, bitwise resume, run directory, result."""

import json
import math

import pytest
import torch
from fakes import train_until

from harness.data.config import DataConfig
from harness.infer.load import load_for_inference
from harness.paths import run_dir
from harness.profiling.throughput import measure_throughput
from harness.results import read_result, result_path
from harness.train import checkpoint
from harness.train.checkpoint_files import final_checkpoint, latest_checkpoint
from harness.train.config import TrainConfig, lr_at
from harness.train.trainer import ensure_trained, train

DCFG = DataConfig(mix={"synth_code": 0.4, "synth_reason": 0.4, "stdlib": 0.2}, synth_docs=300)
VOLATILE = ("tok_s", "wall_s")  # timings: everything else in a metrics line must match bit for bit


@pytest.fixture
def tout(out_dir, shared_cache):
    out_dir.mkdir(parents=True)
    (out_dir / "cache").symlink_to(shared_cache)
    return out_dir


def cfg(model="silu", **kw):
    base = dict(steps=24, batch_size=8, seq_len=32, warmup=4, eval_every=6, log_every=2, ckpt_every=8,
                eval_seqs=4, data=DCFG)
    return TrainConfig.create("tiny", model, **{**base, **kw})


def metrics(rd) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in VOLATILE}
            for line in open(rd / "metrics.jsonl")]


def test_lr_schedule_warmup_then_one_cosine():
    c = TrainConfig.create("tiny", "silu", steps=100, lr=1e-3, warmup=10, min_lr_frac=0.1)
    assert lr_at(0, c) == pytest.approx(1e-4) and lr_at(9, c) == pytest.approx(1e-3)
    assert lr_at(10, c) == pytest.approx(1e-3)
    assert lr_at(55, c) == pytest.approx(1e-4 + 0.9e-3 * 0.5)  # halfway through the cosine
    assert lr_at(100, c) == pytest.approx(1e-4)
    lrs = [lr_at(s, c) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))  # no re-warm-up anywhere (e.g. at a switch)


def test_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="unknown training settings"):
        TrainConfig.create("tiny", "silu", stepz=3)
    with pytest.raises(ValueError, match="max_seq_len"):
        TrainConfig.create("tiny", "silu", seq_len=4096)
    with pytest.raises(ValueError, match="valid forms"):
        TrainConfig.create("tiny", "swish")


def test_loss_decreases_and_run_directory(tout):
    rd = train(cfg("silu", steps=40, batch_size=16, seq_len=64, log_every=5, eval_every=20), progress=False)
    assert rd == run_dir("tiny", "silu", 0)
    m = metrics(rd)
    assert m[0]["loss"] > 4.5 and math.log(264) - 0.5 < m[0]["loss"] < math.log(264) + 0.5  # starts ~uniform
    assert m[-1]["loss"] < 3.3 and m[-1]["val_loss"] < 3.5  # bytes of code/text get predictable quickly
    assert [r["step"] for r in m] == list(range(5, 41, 5)) and m[-1]["tokens"] == 40 * 16 * 64
    assert {"step", "loss", "lr", "phase", "act", "tokens", "grad_norm"} <= set(m[0])
    conf = json.loads((rd / "config.json").read_text())
    assert conf["train_config"]["steps"] == 40 and conf["variant"]["name"] == "silu"
    assert conf["switch_step"] is None and conf["corpus"]["digest"]
    assert final_checkpoint(rd) == rd / "ckpt" / "final.pt"
    res = read_result(result_path("tiny", "silu", 0, "train"))
    vals = {x["name"]: x for x in res["metrics"]}
    assert res["kind"] == "train" and res["suite"] == {**res["suite"], "name": "train", "version": "1"}
    assert vals["val_loss"]["value"] == m[-1]["val_loss"] and not vals["val_loss"]["higher_is_better"]
    assert vals["tokens"]["value"] == 40 * 16 * 64 and vals["wall_s"]["value"] > 0
    assert [c["step"] for c in res["curve"]] == [r["step"] for r in m] and res["switch_step"] is None
    assert {"step", "loss", "lr", "phase"} <= set(res["curve"][0])


def test_schedule_switches_at_the_right_step(tout):
    rd = train(cfg("stocha-p0.5-a0.25", steps=20, log_every=1, eval_every=10, ckpt_every=20), progress=False)
    m = metrics(rd)
    # switch_step = round(0.75 * 20) = 15: steps 0..14 (logged as 1..15) stochastic, then RELU.
    assert [r["act"] for r in m] == ["stocha:p=0.5"] * 15 + ["relu"] * 5
    assert [r["phase"] for r in m] == ["pretrain"] * 15 + ["relu-ft"] * 5
    assert m[9]["val_loss_infer"] != m[9]["val_loss"]  # during pretraining: RELU val loss logged too
    assert "val_loss_infer" not in m[-1]  # after the switch the trained act is the inference act
    assert read_result(result_path("tiny", "stocha-p0.5-a0.25", 0, "train"))["switch_step"] == 15


@pytest.mark.parametrize("model", ["stocha-p0.5-a0.25", "swi-ft-a0.25"])
def test_kill_and_resume_equals_uninterrupted_bitwise(tout, tmp_path, monkeypatch, model):
    c = cfg(model, ckpt_every=4)  # switch at step 18
    ref = train(c, progress=False)
    ref_m, ref_state = metrics(ref), checkpoint.load(ref / "ckpt" / "final.pt")
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path / "b"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "cache").symlink_to(tout / "cache")
    rd = train_until(c, 14)  # killed: last checkpoint at 12 (before the switch)
    assert latest_checkpoint(rd).name == "step_0000012.pt" and final_checkpoint(rd) is None
    assert metrics(rd)[-1]["step"] == 14  # logged past the checkpoint: a resume must drop those lines
    with pytest.raises(RuntimeError, match="--resume"):
        train(c, progress=False)  # never silently starts over on top of a checkpoint
    train_until(c, 22, resume=True)  # killed again after the switch (ckpt at 20)
    train(c, progress=False, resume=True)
    assert metrics(rd) == ref_m
    state = checkpoint.load(rd / "ckpt" / "final.pt")
    for k, v in ref_state["model"].items():
        assert torch.equal(v, state["model"][k]), k
    assert torch.equal(ref_state["rng"][0]["act"], state["rng"][0]["act"])
    exp_avg = [s["exp_avg"] for s in ref_state["optimizer"]["state"].values()]
    assert all(torch.equal(a, s["exp_avg"]) for a, s in zip(exp_avg, state["optimizer"]["state"].values()))
    conf = json.loads((rd / "config.json").read_text())
    assert conf["resumed_from_step"] == 20


def test_finished_run_is_not_retrained_unless_forced(tout):
    c = cfg("relu", steps=8, ckpt_every=4)
    rd = train(c, progress=False)
    final = rd / "ckpt" / "final.pt"
    mtime = final.stat().st_mtime_ns
    assert ensure_trained("tiny", "relu", 0) == rd and final.stat().st_mtime_ns == mtime
    train(c, progress=False, resume=True)
    assert final.stat().st_mtime_ns == mtime
    train(c, progress=False, force=True)
    assert final.stat().st_mtime_ns != mtime and len(metrics(rd)) == 4


def test_gradient_accumulation_matches_full_batch(tout, tmp_path, monkeypatch):
    a = metrics(train(cfg("silu", steps=10, grad_accum=1), progress=False))
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path / "b"))
    b = metrics(train(cfg("silu", steps=10, grad_accum=4), progress=False))
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):  # same data, same gradients up to float summation order
        assert rb["loss"] == pytest.approx(ra["loss"], rel=1e-4)


def test_bad_data_fails_before_anything_is_written(tout, tmp_path, capsys):
    from harness.__main__ import main

    empty = tmp_path / "empty.txt"
    empty.write_text("")
    for spec in (str(empty), str(tmp_path / "missing")):
        assert main(["train", "--model", "silu", "--scale", "tiny", "--data", spec, "--no-progress"]) == 2
        assert capsys.readouterr().err.startswith("error: --data")
    assert not run_dir("tiny", "silu", 0).exists()
    assert main(["train", "--model", "silu", "--scale", "tiny", "--batch-size", "5", "--grad-accum", "2"]) == 2
    assert "divisible" in capsys.readouterr().err


def test_cli_train_and_load_for_inference(tout, capsys):
    from harness.__main__ import main

    assert main(["train", "--model", "stocha-p0.7-a0.05", "--scale", "tiny", "--steps", "6", "--batch-size", "4",
                 "--seq-len", "32", "--mix", "synth_code=1", "--synth-docs", "300", "--eval-seqs", "2",
                 "--no-progress"]) == 0
    assert "train_loss" in capsys.readouterr().out
    model, info = load_for_inference(run_dir("tiny", "stocha-p0.7-a0.05", 0))
    assert str(model.activation) == "relu" and not model.training
    assert info["step"] == 6 and info["variant"].name == "stocha-p0.7-a0.05" and info["scale"] == "tiny"
    assert info["tokenizer"]["name"] == "byte" and info["config"]["data"]["mix"] == {"synth_code": 1.0}
    assert model(torch.tensor([[256, 100, 101]])).shape == (1, 3, 264)


def test_measure_throughput_reports_a_fraction_of_peak():
    r = measure_throughput("tiny", steps=2, threads=1, warmup=1)
    assert r["tokens_per_s"] > 0 and 0 < r["fraction_of_peak"] < 1.5
    assert r["achieved_flops"] == pytest.approx(r["tokens_per_s"] * r["flops_per_token"])


@pytest.mark.slow
def test_sigkill_and_resume_equals_uninterrupted(tout, tmp_path, monkeypatch):
    """A real kill -9 in the middle of training (not a clean stop), then `--resume`."""
    import os
    import signal
    import subprocess
    import sys
    import time

    argv = ["--model", "stocha-p0.5-a0.1", "--scale", "tiny", "--steps", "300", "--batch-size", "8", "--seq-len",
            "64", "--ckpt-every", "40", "--log-every", "10", "--eval-every", "100", "--eval-seqs", "4",
            "--mix", "synth_code=0.4,synth_reason=0.4,stdlib=0.2", "--synth-docs", "300", "--no-progress"]
    ref = train(TrainConfig.create("tiny", "stocha-p0.5-a0.1", steps=300, batch_size=8, seq_len=64, ckpt_every=40,
                                   log_every=10, eval_every=100, eval_seqs=4, data=DCFG), progress=False)
    out = tmp_path / "killed"
    out.mkdir()
    (out / "cache").symlink_to(tout / "cache")
    monkeypatch.setenv("HARNESS_OUT", str(out))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "train", *argv], env=env)
    side = run_dir("tiny", "stocha-p0.5-a0.1", 0) / "ckpt" / "step_0000080.json"
    deadline = time.time() + 120
    while not side.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rd = run_dir("tiny", "stocha-p0.5-a0.1", 0)
    assert final_checkpoint(rd) is None, "training finished before the kill"
    r = subprocess.run([sys.executable, "-m", "harness", "train", *argv, "--resume"], env=env)
    assert r.returncode == 0
    assert metrics(rd) == metrics(ref)
    a, b = checkpoint.load(ref / "ckpt" / "final.pt"), checkpoint.load(rd / "ckpt" / "final.pt")
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
