"""Concurrent runs: the same run twice refuses with the holder's pid; different runs share out/ safely."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from harness.data.config import DataConfig
from harness.paths import lock_path, run_dir, run_lock
from harness.results import read_result, results_dir
from harness.train.config import TrainConfig
from harness.train.trainer import train

DCFG = DataConfig(mix={"synth_code": 0.5, "synth_reason": 0.5}, synth_docs=300)
TRAIN = ["--batch-size", "4", "--seq-len", "32", "--eval-seqs", "2", "--mix", "synth_code=0.5,synth_reason=0.5",
         "--synth-docs", "300", "--no-progress"]


@pytest.fixture
def tout(out_dir, shared_cache):
    out_dir.mkdir(parents=True)
    (out_dir / "cache").symlink_to(shared_cache)
    return out_dir


def harness(*args, wait=True):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "harness", *args]
    if wait:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_run_lock_names_the_holder_and_is_released(tmp_path):
    p = tmp_path / "locks" / "x.lock"
    with run_lock(p, "training of tiny/relu/s0"):
        assert p.read_text().strip() == str(os.getpid())
        with pytest.raises(RuntimeError, match=rf"training of tiny/relu/s0 is already running in pid {os.getpid()} "
                                               rf"\(lock .*x.lock\)"):
            with run_lock(p, "training of tiny/relu/s0"):
                pass
    with run_lock(p, "again"):  # released on exit; the file left behind blocks nothing
        pass


def test_second_train_of_the_same_run_refuses_naming_the_first(tout):
    # The test process plays the first run: it holds the run's lock while the CLI starts the same run.
    with run_lock(lock_path("train", "tiny", "relu", 0), "training of tiny/relu/s0"):
        r = harness("train", "--model", "relu", "--scale", "tiny", "--steps", "2", *TRAIN)
    assert r.returncode == 2
    assert r.stderr == (f"error: training of tiny/relu/s0 is already running in pid {os.getpid()} "
                        f"(lock {lock_path('train', 'tiny', 'relu', 0)}); wait for it to finish or stop that "
                        f"process\n")
    assert not run_dir("tiny", "relu", 0).exists()  # refused before anything was written
    r = harness("train", "--model", "relu", "--scale", "tiny", "--steps", "2", *TRAIN)  # holder gone: runs
    assert r.returncode == 0, r.stderr
    assert (run_dir("tiny", "relu", 0) / "ckpt" / "final.pt").exists()


def test_second_eval_of_the_same_run_refuses_naming_the_first(tout):
    with run_lock(lock_path("eval", "tiny", "silu", 0), "evaluation of tiny/silu/s0"):
        r = harness("eval", "--model", "silu", "--scale", "tiny", "--suites", "syn_code", "--no-train")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"error: evaluation of tiny/silu/s0 is already running in pid {os.getpid()}")
    assert not results_dir("tiny", "silu", 0).exists()
    # another activation of the same run is another evaluation (other files): not blocked by this lock
    with run_lock(lock_path("eval", "tiny", "silu", 0), "evaluation of tiny/silu/s0"):
        r = harness("eval", "--model", "silu", "--scale", "tiny", "--suites", "syn_code", "--no-train",
                    "--eval-act", "relu")
    assert r.returncode == 2 and "no finished checkpoint" in r.stderr  # got past the lock


def test_two_evaluations_of_different_models_share_out(tout):
    """Two `python -m harness eval` of different models at once on one out/: the corpus cache, the
    generated lm-eval task files, the HF datasets cache and the final table are shared; each run's results
    must be whole and equal to what it gives alone."""
    models = ("relu", "silu")
    for m in models:
        train(TrainConfig.create("tiny", m, steps=4, batch_size=4, seq_len=32, eval_seqs=2, data=DCFG),
              progress=False)
    args = ["--scale", "tiny", "--suites", "syn_code,syn_reason", "--limit", "6", "--batch-size", "2", "--no-train"]
    procs = [harness("eval", "--model", m, *args, wait=False) for m in models]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "results at scale tiny" in out
    last = max(range(2), key=lambda i: os.path.getmtime(results_dir("tiny", models[i], 0) / "syn_reason.json"))
    assert all(f"{m} " in outs[last][0] for m in models)  # the later table shows both runs
    together = {}
    for m in models:
        for s in ("syn_code", "syn_reason"):
            res = read_result(results_dir("tiny", m, 0) / f"{s}.json")
            assert res["status"] == "ok" and res["run"]["model"] == m and res["metrics"][0]["n"] == 6
            together[m, s] = (res["metrics"], (results_dir("tiny", m, 0) / f"{s}.samples.jsonl").read_text())
    task = tout / "cache" / "lm_eval_tasks" / "sparsebench_syn_reason" / "sparsebench_syn_reason.yaml"
    assert yaml.safe_load(task.read_text().replace("!function", ""))["task"] == "sparsebench_syn_reason"
    # each alone, again (--force): the same metrics and samples, so nothing was clobbered
    for m in models:
        r = harness("eval", "--model", m, *args, "--force")
        assert r.returncode == 0, r.stderr
        for s in ("syn_code", "syn_reason"):
            res = read_result(results_dir("tiny", m, 0) / f"{s}.json")
            samples = (results_dir("tiny", m, 0) / f"{s}.samples.jsonl").read_text()
            assert (res["metrics"], samples) == together[m, s]
            assert json.loads(samples.splitlines()[0])["_meta"]["suite"] == s
