"""The lm-eval adapter: log-likelihoods equal a direct computation; generation cuts at `until`."""

import pytest
import torch
from lm_eval.api.instance import Instance

from harness.data.tokenizer import ByteTokenizer
from harness.infer.lm_model import SparseBenchLM
from models.registry import build_model


@pytest.fixture(scope="module")
def model():
    return build_model("tiny", "silu", seed=1).eval()


def req(kind, args):
    return Instance(request_type=kind, doc={}, arguments=args, idx=0)


def direct_logprob(model, ids, n_cont):
    with torch.no_grad():
        logp = model(torch.tensor([ids[:-1]])).log_softmax(-1)[0]
    tgt = torch.tensor(ids[1:])
    return float(logp.gather(-1, tgt[:, None])[-n_cont:].sum())


def test_registered_under_sparsebench():
    from lm_eval.api.registry import get_model

    assert get_model("sparsebench") is SparseBenchLM


def test_loglikelihood_equals_direct_computation_and_ignores_batching(model):
    tok = ByteTokenizer()
    pairs = [("def f(x):\n", "    return x"), ("Question: 2+2?\nAnswer:", " 4"), ("", "abc"), ("z" * 300, "q")]
    reqs = [req("loglikelihood", p) for p in pairs]
    out3 = SparseBenchLM(model=model, batch_size=3, progress=False).loglikelihood(reqs)
    out1 = SparseBenchLM(model=model, batch_size=1, progress=False).loglikelihood(reqs)
    for (ctx, cont), (ll3, _), (ll1, _) in zip(pairs, out3, out1):
        ids = (tok.encode(ctx, bos=True) + tok.encode(cont))[-129:]  # tiny: max_seq_len 128
        assert ll3 == pytest.approx(direct_logprob(model, ids, len(tok.encode(cont))), abs=1e-4)
        assert ll3 == pytest.approx(ll1, abs=1e-4)


def test_a_logits_budget_splits_batches_without_changing_scores(model, monkeypatch):
    """A real vocabulary over long windows: the batch goes through in as many rows as LOGITS_BYTES allow."""
    from harness.infer import lm_model

    pairs = [("def f(x):\n", "    return x"), ("Question: 2+2?\nAnswer:", " 4"), ("z" * 300, "q"), ("ab", "cd")]
    reqs = [req("loglikelihood", p) for p in pairs]
    whole = SparseBenchLM(model=model, batch_size=4, progress=False).loglikelihood(reqs)
    calls = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda x, *a, **k: calls.append(x.shape[0]) or forward(x, *a, **k))
    monkeypatch.setattr(lm_model, "LOGITS_BYTES", 2 * 128 * model.cfg.vocab_size * 4)  # two rows of 128
    split = SparseBenchLM(model=model, batch_size=4, progress=False).loglikelihood(reqs)
    assert calls == [2, 2]
    assert [ll for ll, _ in split] == pytest.approx([ll for ll, _ in whole], abs=1e-5)
    assert [g for _, g in split] == [g for _, g in whole]


def test_is_greedy_flag(model):
    lm = SparseBenchLM(model=model, progress=False)
    for ctx in ("ab", "cd", "ef", "gh", "ij", "kl", "mn", "op"):  # a context whose greedy byte is ASCII
        with torch.no_grad():
            nxt = int(model(torch.tensor([ByteTokenizer().encode(ctx, bos=True)]))[0, -1].argmax())
        if nxt < 128:
            break
    assert nxt < 128
    (_, greedy), (_, other) = lm.loglikelihood([req("loglikelihood", (ctx, chr(nxt))),
                                                 req("loglikelihood", (ctx, chr((nxt + 1) % 128)))])
    assert greedy is True and other is False


def test_loglikelihood_rolling(model):
    lm = SparseBenchLM(model=model, batch_size=4, progress=False)
    short = "import os\nprint(os.sep)\n"
    ids = ByteTokenizer().encode(short, bos=True)
    (ll,) = lm.loglikelihood_rolling([req("loglikelihood_rolling", (short,))])
    assert ll == pytest.approx(direct_logprob(model, ids, len(ids) - 1), abs=1e-4)
    long = "abcdefghij" * 40  # 400 bytes > 128: several windows, each byte predicted once
    a = lm.loglikelihood_rolling([req("loglikelihood_rolling", (long,))])[0]
    b = SparseBenchLM(model=model, batch_size=1, progress=False).loglikelihood_rolling(
        [req("loglikelihood_rolling", (long,))])[0]
    assert a == pytest.approx(b, abs=1e-3) and a < 0
    first = direct_logprob(model, ByteTokenizer().encode(long, bos=True)[:129], 128)
    assert a < first  # more bytes scored than fit one window


def test_generate_until_cuts_at_until(model):
    lm = SparseBenchLM(model=model, progress=False)
    (free,) = lm.generate_until([req("generate_until", ("def f(", {"until": [], "max_gen_toks": 20}))])
    stop = free[4:6]
    (cut,) = lm.generate_until([req("generate_until", ("def f(", {"until": [stop], "max_gen_toks": 20}))])
    assert cut == free[:free.find(stop)]


def test_needs_exactly_one_source(model):
    with pytest.raises(ValueError):
        SparseBenchLM()
    with pytest.raises(ValueError):
        SparseBenchLM(checkpoint="x", model=model)
