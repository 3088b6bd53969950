"""Crash safety: kill -9 during training and evaluation (real processes), the generation journal, torn files."""

import json

import pytest
import torch
from fakes import Counting, train_until
from lm_eval.api.instance import Instance

from harness.data.config import DataConfig
from harness.evaluation.suite_run import run_suite
from harness.infer.journal import ChunkJournal, chunked
from harness.infer.records import read_samples
from harness.results import read_result, result_path
from harness.train import checkpoint
from harness.train.checkpoint_files import CorruptCheckpointError, final_checkpoint, latest_checkpoint
from harness.train.config import TrainConfig
from harness.train.trainer import train
from harness.verify.crash import run_checks
from suites import EvalContext, get_suite

RUN = {"scale": "tiny", "model": "silu", "seed": 0, "step": 60, "checkpoint": "ckpt.pt", "eval_act": "silu",
       "variant": {"recipe": "silu"}}


def test_kill_9_during_training_and_evaluation(tmp_path):
    """The real thing (about a minute): python -m harness train/eval SIGKILLed mid-checkpoint-write, between a
    checkpoint and its sidecar, while pruning, at a random moment, after a chunk, mid-journal-line; then
    resumed. Weights must be torch.equal to the uninterrupted run's, results and samples identical."""
    logs = []
    checks = run_checks(tmp_path, quick=True, log=logs.append)
    failed = [c for c in checks if not c["ok"]]
    assert not failed, "\n".join(logs)
    names = " | ".join(c["name"] for c in checks)
    for point in ("ckpt.write", "ckpt.sidecar", "ckpt.prune", "random moment", "eval.chunk", "eval.torn",
                  "equals the uninterrupted", "cut mid-line"):
        assert point in names
    assert len(checks) == 12
    by_name = {c["name"]: c["detail"] for c in checks}
    # the kill at ckpt.sidecar leaves a sidecar whose .pt never appeared: ignored, resumed from the one before
    assert "continues from step_0000003.pt" in by_name["train: kill -9 at ckpt.sidecar (step 6)"]
    assert "step_0000006.json (ignored)" in by_name["train: kill -9 at ckpt.sidecar (step 6)"]
    assert "all 21 weight tensors torch.equal" in by_name["train: resumed run equals the uninterrupted one"]
    # kill 1: after syn_code's first chunk; kill 2 re-used it, generated the second, finished syn_code, and
    # tore syn_reason's second line; the last run re-used syn_reason's first chunk and did syn_choice.
    assert by_name["eval: kill -9 at eval.chunk (chunk 1 of this run)"].endswith("syn_code 0+1")
    assert by_name["eval: kill -9 at eval.torn (chunk 3 of this run)"].endswith("syn_code 1+1, syn_reason 0+1")
    final = by_name["eval: resumed evaluation redoes only missing chunks and equals the uninterrupted one"]
    assert "syn_reason 1+1, syn_choice 0+6" in final and "metrics and samples of 3 suites equal" in final


# ---- leftovers of killed checkpoint saves ----------------------------------------------------------------
@pytest.fixture
def tout(out_dir, shared_cache):
    out_dir.mkdir(parents=True)
    (out_dir / "cache").symlink_to(shared_cache)
    return out_dir


def cfg(**kw):
    base = dict(steps=9, batch_size=4, seq_len=32, warmup=2, eval_every=3, log_every=3, ckpt_every=3,
                eval_seqs=2, data=DataConfig(mix={"synth_code": 1.0}, synth_docs=300))
    return TrainConfig.create("tiny", "stocha-p0.5-a0.2", **{**base, **kw})


def test_leftovers_of_a_killed_save_are_ignored_then_swept(tout):
    ref = train(cfg(), progress=False)
    ref_state = checkpoint.load(ref / "ckpt" / "final.pt")
    import shutil

    shutil.rmtree(ref)
    rd = train_until(cfg(), 4)  # step_0000003 written
    d = rd / "ckpt"
    # What a kill between the sidecar and the rename leaves (harness.train.checkpoint.save): a complete temp
    # file, and a sidecar naming a .pt that never appeared; plus a half-written temp of another save.
    good = (d / "step_0000003.pt").read_bytes()
    (d / ".step_0000006.pt.abc.tmp").write_bytes(good)
    (d / "step_0000006.json").write_text((d / "step_0000003.json").read_text().replace("0000003", "0000006"))
    (d / ".final.pt.xyz.tmp").write_bytes(good[: len(good) // 2])
    assert latest_checkpoint(rd) == d / "step_0000003.pt"
    assert final_checkpoint(rd) is None
    train(cfg(), progress=False, resume=True)
    # temp files swept, the orphan sidecar replaced by step 6's real one (the last step writes final.pt)
    assert sorted(p.name for p in d.iterdir()) == ["final.json", "final.pt", "step_0000003.json",
                                                   "step_0000003.pt", "step_0000006.json", "step_0000006.pt"]
    state = checkpoint.load(d / "final.pt")
    assert all(torch.equal(v, state["model"][k]) for k, v in ref_state["model"].items())


def test_a_pt_without_sidecar_is_damage_and_stays(tout):
    """A save writes the sidecar before the .pt appears, so a lone .pt never comes from a kill: it is
    reported (one line naming it), not skipped and not overwritten."""
    rd = train_until(cfg(), 7)
    p = rd / "ckpt" / "step_0000006.pt"
    p.with_suffix(".json").unlink()
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(CorruptCheckpointError, match="step_0000006.pt"):
        train(cfg(), progress=False, resume=True)
    assert len(p.read_bytes()) == 1000


# ---- the generation journal ------------------------------------------------------------------------------
def test_journal_drops_a_torn_line_and_reuses_the_rest(tmp_path):
    path = tmp_path / "x.chunks.jsonl"
    calls = []

    def compute(c, part):
        calls.append(c)
        return [f"{c}:{x}" for x in part]

    items = list(range(10))
    j = ChunkJournal(path, {"run": 1}, log=lambda *_: None)
    want = chunked(j, "t", items, 4, compute)
    assert want == [f"{i // 4}:{i}" for i in range(10)] and calls == [0, 1, 2] and j.generated == 3
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 5 and lines[-1] == b""  # header + 3 chunks, newline-terminated
    path.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:20])  # chunk 2's line torn by a kill
    logs, calls[:] = [], []
    j = ChunkJournal(path, {"run": 1}, log=logs.append)
    assert j.dropped == 1 and "dropped 1 torn line" in logs[0]
    assert chunked(j, "t", items, 4, compute) == want and calls == [2] and j.reused == 2
    assert [json.loads(x)["key"] for x in path.read_text().splitlines()[1:]] == \
        [json.loads(x)["key"] for x in b"\n".join(lines[1:4]).decode().splitlines()]
    # other settings: the key differs, nothing is reused; another run: a fresh journal
    calls[:] = []
    chunked(ChunkJournal(path, {"run": 1}), "t", items, 4, compute, settings={"seed": 1})
    assert calls == [0, 1, 2]
    calls[:] = []
    j = ChunkJournal(path, {"run": 2}, log=logs.append)
    assert not j.done and "another run" in logs[-1] and len(path.read_text().splitlines()) == 1


def test_context_generates_in_fixed_chunks_with_their_own_seeds():
    seen = []

    def fake(ps, seed, **kw):
        seen.append((len(ps), seed))
        return [f"{seed}" for _ in ps]

    ctx = EvalContext(generate_fn=fake, batch_size=2, seed=3, progress=False)
    out = ctx.generate([f"p{i}" for i in range(20)], max_new_tokens=5, seed=100)
    # chunks of CHUNK_BATCHES (4) × batch_size; chunk c samples with seed + 4c (one seed per batch)
    assert seen == [(8, 100), (8, 104), (4, 108)]
    assert out == ["100"] * 8 + ["104"] * 8 + ["108"] * 4


def test_resumed_generation_equals_uninterrupted_with_a_real_model(tmp_path):
    from models.registry import build_model

    model = build_model("tiny", "stocha-p0.5-a0.2", seed=0).eval()
    prompts = [f"def f{i}(x):\n    return" for i in range(11)]
    kw = dict(max_new_tokens=6, temperature=0.8, top_p=0.9, seed=5)

    def ctx(journal):
        return EvalContext(load_model=lambda: model, batch_size=2, eval_act="stocha:p=0.5", seed=1,
                           progress=False, journal=journal)

    whole = ctx(None).generate(prompts, **kw)
    path = tmp_path / "g.chunks.jsonl"
    first = ctx(ChunkJournal(path, {"m": 1})).generate(prompts[:8], **kw)  # "killed" after chunk 0
    assert first == whole[:8]
    j = ChunkJournal(path, {"m": 1})
    assert ctx(j).generate(prompts, **kw) == whole and (j.reused, j.generated) == (1, 1)


def test_lm_eval_model_resumes_from_the_journal(tmp_path):
    from harness.infer.lm_model import SparseBenchLM
    from models.registry import build_model

    lm = SparseBenchLM(model=build_model("tiny", "silu", seed=0), batch_size=2, progress=False)
    reqs = [Instance(request_type="loglikelihood", doc={}, arguments=(f"ctx {i}", f" cont{i % 3}"), idx=0)
            for i in range(19)]
    want = lm.loglikelihood(reqs)  # no journal: the same chunks
    path = tmp_path / "l.chunks.jsonl"
    lm.journal = ChunkJournal(path, {"m": 1})
    assert lm.loglikelihood(reqs) == want and lm.journal.generated == 3
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:30])  # the last chunk torn
    scored = []
    orig = lm._score
    lm._score = lambda pairs, *a, **k: scored.append(len(pairs)) or orig(pairs, *a, **k)
    lm.journal = ChunkJournal(path, {"m": 1}, log=lambda *_: None)
    assert lm.loglikelihood(reqs) == want and scored == [3]  # only the torn chunk's 3 requests again
    assert all(isinstance(x, tuple) and isinstance(x[1], bool) for x in want)


# ---- a damaged samples file ------------------------------------------------------------------------------
def test_truncated_samples_file_keeps_intact_records_and_regenerates_nothing(out_dir):
    suite = get_suite("syn_code", n_items=20)
    gen = Counting(suite)
    path = result_path("tiny", "silu", 0, "syn_code")
    run_suite(suite, EvalContext(generate_fn=gen, batch_size=2, progress=False), RUN, limit=None, path=path,
              log=lambda *_: None)
    samples = path.with_name("syn_code.samples.jsonl")
    whole = samples.read_text().splitlines()
    assert gen.calls == 3  # 20 tasks in chunks of 8
    raw = samples.read_bytes()
    samples.write_bytes(raw[: len(raw) // 2])
    logs = []
    ctx = EvalContext(generate_fn=gen, batch_size=2, progress=False)
    run_suite(suite, ctx, RUN, limit=None, path=path, log=logs.append)
    assert any(str(samples) in x and "is damaged" in x and "intact records are kept" in x for x in logs)
    assert gen.calls == 3  # everything came from the journal
    assert samples.read_text().splitlines() == whole and read_result(path)["metrics"][0]["value"] == 1.0


def test_a_samples_file_cut_at_a_line_boundary_is_damaged_too(out_dir):
    """A copy or a full disk can stop exactly after a newline: every line parses, yet records are missing.
    The header counts the records, so this reads as damaged (and is rebuilt), never as a shorter run."""
    suite = get_suite("syn_code", n_items=6)
    path = result_path("tiny", "silu", 0, "syn_code")
    run_suite(suite, EvalContext(generate_fn=Counting(suite), progress=False), RUN, limit=None, path=path,
              log=lambda *_: None)
    samples = path.with_name("syn_code.samples.jsonl")
    whole = samples.read_text()
    lines = whole.splitlines(keepends=True)
    assert read_samples(samples)[2] is None and len(read_samples(samples)[1]) == 6
    samples.write_text("".join(lines[:4]))  # header + 3 of 6 records, ending on a newline
    meta, records, damage = read_samples(samples)
    assert len(records) == 3 and damage == "it ends after 3 of its 6 records"
    logs = []
    run_suite(suite, EvalContext(generate_fn=Counting(suite), progress=False), RUN, limit=None, path=path,
              log=logs.append)
    assert any("is damaged (it ends after 3 of its 6 records)" in x for x in logs)
    assert samples.read_text() == whole
    samples.write_text(lines[0])  # the header alone
    assert read_samples(samples)[2] == "it ends after 0 of its 6 records"


def test_truncated_samples_file_that_disagrees_is_left_untouched(out_dir):
    suite = get_suite("syn_code", n_items=6)
    path = result_path("tiny", "silu", 0, "syn_code")
    run_suite(suite, EvalContext(generate_fn=Counting(suite), progress=False), RUN, limit=None, path=path,
              log=lambda *_: None)
    samples = path.with_name("syn_code.samples.jsonl")
    lines = samples.read_text().splitlines()
    rec = json.loads(lines[1])
    rec["completion"] = "    return 42\n"  # an intact record that is not what this run generates
    damaged = "\n".join([lines[0], json.dumps(rec), lines[2], lines[3][:25]]).encode()
    samples.write_bytes(damaged)
    (path.with_name("syn_code.chunks.jsonl")).unlink()
    with pytest.raises(RuntimeError, match=r"syn_code.samples.jsonl is damaged \(line 4 is cut off\).*left untouched"):
        run_suite(suite, EvalContext(generate_fn=Counting(suite), progress=False), RUN, limit=None, path=path,
                  log=lambda *_: None)
    assert samples.read_bytes() == damaged
    with pytest.raises(RuntimeError, match="--rescore.*damaged"):
        run_suite(suite, EvalContext(progress=False), RUN, limit=None, path=path, rescore=True,
                  log=lambda *_: None)
    assert samples.read_bytes() == damaged


def test_checks_need_a_fresh_folder(tmp_path):
    (tmp_path / "crashsafety").mkdir()
    (tmp_path / "crashsafety" / "old").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        run_checks(tmp_path)
