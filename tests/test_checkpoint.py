"""Checkpoints: atomic, self-describing, pruned; corrupt or incompatible ones give one clear error and stay."""

import json

import pytest
import torch
from fakes import train_until

from harness.data.config import DataConfig
from harness.infer.load import load_for_inference
from harness.paths import run_dir
from harness.train import checkpoint
from harness.train.checkpoint_files import CorruptCheckpointError, final_checkpoint
from harness.train.config import TrainConfig
from harness.train.trainer import train

DCFG = DataConfig(mix={"synth_code": 0.5, "synth_reason": 0.5}, synth_docs=300)


@pytest.fixture
def tout(out_dir, shared_cache):
    out_dir.mkdir(parents=True)
    (out_dir / "cache").symlink_to(shared_cache)
    return out_dir


def cfg(model="stocha-p0.7-a0.1", **kw):
    base = dict(steps=12, batch_size=4, seq_len=32, warmup=2, eval_every=6, log_every=3, ckpt_every=3,
                eval_seqs=2, data=DCFG)
    return TrainConfig.create("tiny", model, **{**base, **kw})


def test_checkpoint_is_self_describing_and_pruned(tout):
    rd = train(cfg(), progress=False)
    files = sorted(p.name for p in (rd / "ckpt").iterdir())
    # keep_ckpts=2: the two newest periodic ones survive next to the final one.
    assert files == ["final.json", "final.pt", "step_0000006.json", "step_0000006.pt", "step_0000009.json",
                     "step_0000009.pt"]
    side = json.loads((rd / "ckpt" / "final.json").read_text())
    assert side["step"] == 12 and side["final"] and side["variant"] == "stocha-p0.7-a0.1" and side["scale"] == "tiny"
    st = checkpoint.load(rd / "ckpt" / "final.pt")
    assert {"model", "optimizer", "rng", "data", "variant", "model_config", "train_config", "tokenizer",
            "git_sha"} <= set(st)
    assert set(st["rng"][0]) >= {"python", "numpy", "torch", "act"} and st["data"]["next_step"] == 12
    assert st["variant"]["p"] == 0.7 and st["train_config"]["steps"] == 12


def test_load_for_inference_needs_a_final_checkpoint(tout):
    rd = train_until(cfg(), 7)
    assert final_checkpoint(rd) is None
    with pytest.raises(FileNotFoundError, match="no final checkpoint"):
        load_for_inference(rd)


@pytest.mark.parametrize("damage", ["truncate", "flip", "truncate_no_sidecar", "foreign"])
def test_corrupt_checkpoint_is_one_clear_error_and_never_overwritten(tout, damage, capsys):
    c = cfg()
    rd = train_until(c, 7)  # latest checkpoint: step 6
    p = rd / "ckpt" / "step_0000006.pt"
    raw = p.read_bytes()
    if damage.startswith("truncate"):
        p.write_bytes(raw[: len(raw) // 2])
        if damage == "truncate_no_sidecar":
            p.with_suffix(".json").unlink()
    elif damage == "flip":
        p.write_bytes(raw[:1000] + bytes([raw[1000] ^ 0xFF]) + raw[1001:])
    else:
        torch.save({"weights": torch.zeros(2)}, p)
        p.with_suffix(".json").unlink()
    damaged = p.read_bytes()
    with pytest.raises(CorruptCheckpointError, match="corrupt checkpoint|incompatible checkpoint"):
        train(c, progress=False, resume=True)
    assert p.read_bytes() == damaged  # left as it was, for the user to inspect
    from harness.__main__ import main

    argv = ["train", "--model", c.model, "--scale", "tiny", "--steps", "12", "--resume", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "step_0000006.pt" in err
    assert p.read_bytes() == damaged


def test_incompatible_resume_is_refused(tout):
    rd = train_until(cfg(), 7)
    before = (rd / "ckpt" / "step_0000006.pt").read_bytes()
    with pytest.raises(CorruptCheckpointError, match="lr: 0.003 in the checkpoint, 0.001 now"):
        train(cfg(lr=1e-3), progress=False, resume=True)
    with pytest.raises(CorruptCheckpointError, match="steps"):
        train(cfg(steps=20), progress=False, resume=True)
    # Logging and checkpoint cadence do not change the weights: those may differ on resume.
    train(cfg(log_every=2, ckpt_every=6), progress=False, resume=True)
    assert final_checkpoint(rd) is not None
    assert before != (rd / "ckpt" / "final.pt").read_bytes()


def test_force_starts_over_a_corrupt_run(tout):
    c = cfg(steps=6)
    rd = train_until(c, 4)
    (rd / "ckpt" / "step_0000003.pt").write_bytes(b"garbage")
    rd2 = train(c, progress=False, force=True)
    assert rd2 == rd == run_dir("tiny", c.model, 0) and final_checkpoint(rd) is not None
    assert checkpoint.load(rd / "ckpt" / "step_0000003.pt")["step"] == 3  # rewritten, valid


def test_resume_refuses_a_changed_corpus(tout, tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("def f(x):\n    return x + 1\n" * 200)
    c = cfg("silu", data=DataConfig.make(None, str(f)))
    train_until(c, 4)
    f.write_text("def g(y):\n    return y * 2\n" * 200)  # same path and settings, other tokens
    with pytest.raises(CorruptCheckpointError, match="corpus tokens changed"):
        train(c, progress=False, resume=True)
