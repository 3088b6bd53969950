"""Distributed training on CPU: 2-process gloo DDP (and FSDP) match one process with the same global batch.

Tolerance: DDP averages the two halves' gradients ((g0 + g1) / 2) where one process averages over the
whole batch at once; the float summation order differs. Tolerance: every logged loss within 1e-5
relative and final weights within 1e-5 absolute after 12 steps (observed at tiny: ~1e-7 for both).
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from harness.data.config import DataConfig
from harness.infer.load import load_for_inference
from harness.paths import run_dir
from harness.train import checkpoint, dist
from harness.train.config import TrainConfig
from harness.train.trainer import train

DCFG = DataConfig(mix={"synth_code": 0.5, "synth_reason": 0.5}, synth_docs=300)
ARGS = dict(steps=12, batch_size=8, seq_len=32, warmup=2, eval_every=6, log_every=2, ckpt_every=6, eval_seqs=4)


@pytest.fixture
def tout(out_dir, shared_cache):
    out_dir.mkdir(parents=True)
    (out_dir / "cache").symlink_to(shared_cache)
    return out_dir


def test_single_process_without_torchrun(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    env = dist.setup("cpu")
    assert (env.rank, env.world_size, env.distributed, env.is_main) == (0, 1, False, True)
    assert dist.all_gather_object(env, "x") == ["x"] and dist.broadcast_object(env, 3) == 3
    assert dist.rank_seed(7, 0) == 7 and len({dist.rank_seed(s, r) for s in range(4) for r in range(4)}) == 16
    assert not dist.use_fsdp(env, "3b") and dist.use_fsdp(dist.DistEnv(0, 2, 0, "cuda:0", "nccl"), "3b")
    assert not dist.use_fsdp(dist.DistEnv(0, 2, 0, "cpu", "gloo"), "3b")  # FSDP auto: GPUs only


def _torchrun(out, model: str, *extra: str):
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "harness",
            "train", "--model", model, "--scale", "tiny", "--no-progress", "--mix", "synth_code=0.5,synth_reason=0.5",
            "--synth-docs", "300", *extra]
    for k, v in ARGS.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "HARNESS_OUT": str(out), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return run_dir("tiny", model, 0)


def _compare(one, two):
    m1 = [json.loads(x) for x in open(one / "metrics.jsonl")]
    m2 = [json.loads(x) for x in open(two / "metrics.jsonl")]
    assert [r["step"] for r in m1] == [r["step"] for r in m2] and len(m1) == 6
    for a, b in zip(m1, m2):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5) and b["tokens"] == a["tokens"]
        if "val_loss" in a:
            assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-5)
    s1 = checkpoint.load(one / "ckpt" / "final.pt")["model"]
    s2 = checkpoint.load(two / "ckpt" / "final.pt")
    assert s2["world_size"] == 2 and len(s2["rng"]) == 2  # both ranks' RNG states are kept
    assert max((s1[k] - s2["model"][k]).abs().max().item() for k in s1) < 1e-5
    assert m1[-1]["loss"] != m1[0]["loss"]


@pytest.mark.parametrize("fsdp", ["off", "on"])
def test_two_process_gloo_matches_one_process(tout, tmp_path, monkeypatch, fsdp):
    one = train(TrainConfig.create("tiny", "silu", data=DCFG, **ARGS), progress=False)
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path / "two"))
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "cache").symlink_to(tout / "cache")
    two = _torchrun(tmp_path / "two", "silu", "--fsdp", fsdp)
    _compare(one, two)
    assert json.loads((two / "config.json").read_text())["fsdp"] == (fsdp == "on")
    model, info = load_for_inference(two)
    assert info["step"] == 12 and model(torch.tensor([[256, 65]])).shape == (1, 2, 264)


@pytest.mark.parametrize("fsdp", ["off", "on"])
def test_ranks_draw_different_stochastic_activations(tout, tmp_path, monkeypatch, fsdp):
    """Under torchrun each rank seeds its stochastic-activation generator with its own rank offset, so the
    ranks' Bernoulli patterns differ (identical draws would make the rows of every rank share one mask)."""
    monkeypatch.setenv("HARNESS_OUT", str(tmp_path / "two"))
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "cache").symlink_to(tout / "cache")
    two = _torchrun(tmp_path / "two", "stocha-p0.5-a0.5", "--fsdp", fsdp)
    rng = checkpoint.load(two / "ckpt" / "final.pt")["rng"]
    assert len(rng) == 2 and not torch.equal(rng[0]["act"], rng[1]["act"])
    # Each rank's generator is where one seeded with rank_seed(seed, rank) is after the same draws.
    for rank, st in enumerate(rng):
        g = torch.Generator().manual_seed(dist.rank_seed(0, rank))
        for _ in range(10_000):
            if torch.equal(g.get_state(), st["act"]):
                break
            torch.randint(0, 2**62, (1,), generator=g)
        else:
            raise AssertionError(f"rank {rank}'s activation generator does not follow rank_seed(0, {rank})")
