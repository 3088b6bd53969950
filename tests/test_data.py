"""The corpus: determinism, train/eval disjointness, held-out stdlib modules, user data, the data command."""

import json

import numpy as np
import pytest
import torch

from harness.data import corpus, sources, synth
from harness.data.config import DataConfig, parse_mix
from harness.data.tokenizer import ByteTokenizer

CFG = DataConfig(mix={"synth_code": 0.4, "synth_reason": 0.4, "stdlib": 0.2}, synth_docs=300)
TOK = ByteTokenizer()


@pytest.fixture
def tout(out_dir, shared_cache):
    out_dir.mkdir(parents=True)
    (out_dir / "cache").symlink_to(shared_cache)
    return out_dir


def _docs(tf) -> list[str]:
    """Split a token file back into its documents (BOS text EOS)."""
    toks = np.asarray(tf.tokens)
    ends = np.flatnonzero(toks == TOK.eos_id)
    starts = np.concatenate([[0], ends[:-1] + 1])
    assert (toks[starts] == TOK.bos_id).all() and ends[-1] == len(toks) - 1
    return [TOK.decode(toks[s + 1:e]) for s, e in zip(starts, ends)]


def test_parse_mix_and_bad_configs():
    assert parse_mix("synth_code=0.5, stdlib=0.5") == {"synth_code": 0.5, "stdlib": 0.5}
    for bad in ("synth_code", "synth_code=x", "foo=1"):
        with pytest.raises(ValueError):
            DataConfig.make(bad)
    with pytest.raises(ValueError, match="negative"):
        DataConfig(mix={"stdlib": -1})
    with pytest.raises(ValueError, match="--data"):
        DataConfig(mix={"user": 1})
    assert DataConfig.make(None, "x.txt").mix == {"user": 1.0}  # --data alone: that corpus only


def test_synthetic_documents_are_the_generators_documents(tout):
    tf = corpus.token_file("synth_code", "train", CFG)
    docs = _docs(tf)
    assert len(docs) == tf.meta["n_docs"] == 300
    assert docs == synth.train_documents("code", 300, seed=0)
    docs = _docs(corpus.token_file("synth_reason", "train", CFG))
    assert docs[:5] == synth.train_documents("reason", 5, seed=0)
    assert docs[0].rstrip().splitlines()[-1].startswith("#### ")


def test_corpus_is_deterministic(tout):
    a, b = corpus.Corpus(CFG), corpus.Corpus(CFG)
    assert a.digest == b.digest
    w = a.windows(seed=3, step=7, n_rows=8, length=65)
    assert np.array_equal(w, b.windows(3, 7, 8, 65))
    assert not np.array_equal(w, a.windows(3, 8, 8, 65)) and not np.array_equal(w, a.windows(4, 7, 8, 65))
    # Rebuilding the token file from scratch gives the same bytes.
    tf = corpus.token_file("synth_reason", "train", CFG)
    sha = tf.meta["sha256"]
    tf.path.unlink()
    tf.path.with_suffix(".json").unlink()
    assert corpus.token_file("synth_reason", "train", CFG).meta["sha256"] == sha
    # Another corpus seed is another corpus.
    other = corpus.token_file("synth_reason", "train", DataConfig(**{**CFG.to_dict(), "corpus_seed": 1}))
    assert other.meta["sha256"] != sha


def test_batch_rows_are_slices_of_one_global_batch(tout):
    c = corpus.Corpus(CFG)
    x, y = c.batch(seed=0, step=5, global_batch=8, seq_len=32)
    assert x.shape == y.shape == (8, 32) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])  # targets are the inputs shifted by one
    x2, y2 = c.batch(0, 5, 8, 32, rows=slice(4, 8))  # rank 1 of 2 gets rows 4..7
    assert torch.equal(x2, x[4:]) and torch.equal(y2, y[4:])
    # Over many rows the sources are drawn by their weights.
    src_counts = np.bincount(np.random.default_rng([0, 1]).choice(3, 4000, p=c.weights), minlength=3)
    assert abs(src_counts[c.names.index("stdlib")] / 4000 - 0.2) < 0.03


def test_no_eval_item_occurs_in_training_documents(tout):
    code = "\n".join(_docs(corpus.token_file("synth_code", "train", CFG)))
    reason = "\n".join(_docs(corpus.token_file("synth_reason", "train", CFG)))
    for seed in (0, 1):
        for t in synth.code_tasks("eval", 100, seed=seed):
            assert t["prompt"] not in code
        for p in synth.reason_problems("eval", 100, seed=seed):
            assert p["question"] not in reason
    # Sanity of the check itself: a training prompt is found.
    assert synth.train_documents("code", 1)[0] in code


def test_heldout_stdlib_modules_are_whole_and_not_trained_on(tout):
    held = dict(sources.heldout_stdlib_modules())
    assert {"argparse", "textwrap", "csv"} <= set(held) and all(len(t) > 1000 for t in held.values())
    train_docs = _docs(corpus.token_file("stdlib", "train", CFG))
    val_docs = _docs(corpus.token_file("stdlib", "val", CFG))
    assert sorted(val_docs) == sorted(held.values())
    train_text = "\n".join(train_docs)
    assert held["textwrap"] not in train_text and "class TextWrapper" not in train_text
    n_modules = sum(1 for _, p in sources.stdlib_modules() if p.read_text(errors="replace").strip())  # empty __init__s skipped
    assert len(train_docs) + len(val_docs) == n_modules
    assert not any(m.split(".")[0] == "test" or ".tests." in m for m, _ in sources.stdlib_modules())


def test_validation_tokens_are_fixed_and_held_out(tout):
    v = corpus.validation_tokens(6, 40, seed=0, cfg=CFG)
    assert v.shape == (6, 40) and v.dtype == torch.long and int(v.max()) < TOK.vocab_size
    assert torch.equal(v, corpus.validation_tokens(6, 40, seed=0, cfg=CFG))
    assert not torch.equal(v, corpus.validation_tokens(6, 40, seed=1, cfg=CFG))


def test_user_corpus_jsonl_and_folder(tout, tmp_path):
    f = tmp_path / "c.jsonl"
    docs = [f"document number {i} " * 20 for i in range(40)]
    f.write_text("\n".join(json.dumps({"text": d}) if i % 2 else json.dumps(d) for i, d in enumerate(docs)))
    cfg = DataConfig.make(None, str(f))
    tr, va = corpus.token_file("user", "train", cfg), corpus.token_file("user", "val", cfg)
    full = np.concatenate([np.asarray(tr.tokens), np.asarray(va.tokens)])
    assert TOK.decode(full) == "".join(docs) and tr.meta["n_docs"] == 40
    assert abs(len(va) - 0.05 * len(full)) <= 1  # the last 5% is validation
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha " * 50)
    (folder / "sub" / "b.md").write_text("beta " * 50)
    (folder / "blob.bin").write_bytes(b"\xff\xfe\x00")  # not a text suffix: ignored
    c = corpus.Corpus(DataConfig.make(None, str(folder)))
    assert c.names == ["user"] and c.info()["sources"][0]["docs"] == 2


@pytest.mark.parametrize("content,match", [("", "empty"), ("   \n", "empty"), ('{"text": "a"}\n{oops', ":2: invalid JSON"),
                                           ('{"body": 1}', "text")])
def test_bad_user_data_is_one_clear_error(tout, tmp_path, content, match):
    f = tmp_path / "bad.jsonl"
    f.write_text(content)
    with pytest.raises(ValueError, match=match):
        corpus.Corpus(DataConfig.make(None, str(f)))


def test_unreadable_user_data(tout, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        corpus.Corpus(DataConfig.make(None, str(tmp_path / "missing.txt")))
    b = tmp_path / "bin.txt"
    b.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(ValueError, match="not UTF-8"):
        corpus.Corpus(DataConfig.make(None, str(b)))


def test_data_stats_command(tout, capsys):
    from harness.__main__ import main

    assert main(["data", "--stats", "--mix", "synth_code=0.4,synth_reason=0.4,stdlib=0.2", "--synth-docs", "300",
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["sources"]
    assert {(r["split"], r["name"]) for r in rows} == {(s, n) for s in ("train", "val")
                                                       for n in ("synth_code", "synth_reason", "stdlib")}
    assert next(r for r in rows if r["split"] == "train" and r["name"] == "synth_code")["docs"] == 300
    assert main(["data", "--stats", "--mix", "nope=1"]) == 2
    assert "unknown corpus source" in capsys.readouterr().err


def test_short_documents_start_their_windows_long_ones_do_not(tout):
    """Synthetic documents (shorter than a window) are seen from their first token; stdlib modules
    (far longer) are sampled at any offset, so more than their beginnings is trained on."""
    c = corpus.Corpus(CFG)
    names = list(c.names)
    w = c.windows(seed=0, step=3, n_rows=64, length=257)  # documents average ~150-190 tokens
    rng = np.random.default_rng([0, 3])
    src = rng.choice(len(names), size=64, p=c.weights)
    synth_rows = [i for i in range(64) if names[src[i]] != "stdlib"]
    stdlib_rows = [i for i in range(64) if names[src[i]] == "stdlib"]
    assert synth_rows and stdlib_rows
    assert all(w[i, 0] == TOK.bos_id for i in synth_rows)
    assert not all(w[i, 0] == TOK.bos_id for i in stdlib_rows)
