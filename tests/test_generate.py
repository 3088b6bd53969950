"""Generation: KV-cache batching equals plain greedy decoding, stop strings, truncation, activations, HF parity."""

import pytest
import torch

from harness.data.tokenizer import ByteTokenizer
from harness.infer.generate import _first_stop, _top_p_filter, activation, generate, generate_ids
from models.registry import build_model


@pytest.fixture(scope="module")
def model():
    m = build_model("tiny", "silu", seed=3).eval()
    with torch.no_grad():  # larger weights: logits without near-ties, so greedy choices are robust
        for p in m.parameters():
            if p.dim() > 1:
                p.mul_(8.0)
    return m


def greedy_reference(model, ids, n):
    x = torch.tensor([ids])
    with torch.no_grad():
        for _ in range(n):
            x = torch.cat([x, model(x)[:, -1].argmax(-1, keepdim=True)], 1)
    return x[0, len(ids):].tolist()


def test_kv_cache_batched_equals_unbatched_and_no_cache(model):
    tok = ByteTokenizer()
    prompts = ["def add(a, b):\n", "x", "Question: what is 2+3?\nAnswer:", "hello world " * 5]
    ids = [tok.encode(p, bos=True) for p in prompts]
    batched = generate_ids(model, ids, max_new_tokens=12)
    for i, p in enumerate(ids):
        assert batched[i] == generate_ids(model, [p], max_new_tokens=12)[0]
        assert batched[i] == greedy_reference(model, p, 12)
    assert generate(model, prompts, max_new_tokens=12, stop_at_eos=False, batch_size=3) == \
        [tok.decode(b) for b in batched]


def test_stop_strings_are_cut(model):
    prompts = ["def f(x):\n", "abc"]
    full = generate(model, prompts, max_new_tokens=24, stop_at_eos=False)
    stop = full[0][5:8]  # a string the model is known to produce
    cut = generate(model, prompts, max_new_tokens=24, stop=[stop], stop_at_eos=False)
    assert cut[0] == full[0][:full[0].find(stop)]
    assert stop not in cut[0]
    assert cut[1] == (full[1][:full[1].find(stop)] if stop in full[1] else full[1])
    assert _first_stop("a\n\nb#c", ["#", "\n\n"]) == 1 and _first_stop("abc", ["x"]) == -1


def test_prompt_left_truncated_to_fit(model):
    long = "y" * 500  # longer than tiny's max_seq_len (128)
    out = generate_ids(model, [ByteTokenizer().encode(long, bos=True)], max_new_tokens=10)[0]
    kept = ByteTokenizer().encode(long, bos=True)[-(128 - 10):]
    assert out == greedy_reference(model, kept, 10)


def test_large_max_new_tokens_does_not_eat_the_prompt(model):
    """A budget larger than the context keeps 3/4 of the context for the prompt, then fills the rest."""
    prompt = ByteTokenizer().encode("x" * 20 + "y" * 480, bos=True)
    out = generate_ids(model, [prompt], max_new_tokens=100)[0]
    kept = prompt[-(128 - 32):]  # tiny: max_seq_len 128, a quarter (32) reserved for generation
    assert len(out) == 32
    assert out == greedy_reference(model, kept, 32)


def test_eval_act_per_call_is_seeded_and_restored(model):
    before = str(model.activation)
    a = generate(model, ["def f("], max_new_tokens=16, eval_act="stocha:p=0.5", act_seed=7, stop_at_eos=False)
    b = generate(model, ["def f("], max_new_tokens=16, eval_act="stocha:p=0.5", act_seed=7, stop_at_eos=False)
    assert a == b
    assert str(model.activation) == before
    with activation(model, "relu"):
        assert str(model.activation) == "relu"
    assert str(model.activation) == before
    with pytest.raises(ValueError):
        generate(model, ["x"], eval_act="tanh")


def test_sampling_reproducible_and_top_p():
    logits = torch.tensor([[3.0, 2.0, 0.0, -1.0]])
    kept = torch.isfinite(_top_p_filter(logits, 0.7))  # p = .66, .24, ...: two tokens reach 0.7
    assert kept.tolist() == [[True, True, False, False]]
    m = build_model("tiny", "silu", seed=0).eval()
    kw = dict(max_new_tokens=8, temperature=1.0, top_p=0.9, seed=5)
    assert generate(m, ["a", "b"], **kw) == generate(m, ["a", "b"], **kw)


def test_hf_llama_conversion_matches_logits(model):
    pytest.importorskip("transformers")
    from harness.interop.hf import to_hf_llama

    hf = to_hf_llama(model)
    x = torch.randint(0, 256, (2, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(model(x), hf(x).logits, atol=1e-4)
        out = hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=8, min_new_tokens=8,
                          do_sample=False, pad_token_id=258)
    assert out[:, 20:].tolist() == generate_ids(model, x.tolist(), max_new_tokens=8)
