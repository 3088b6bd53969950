import pytest
import torch

from models.llama import KVCache, ModelConfig, Transformer
from models.registry import DEFAULT_VARIANTS, SCALES, build_model, get_variant


@pytest.mark.parametrize("name", DEFAULT_VARIANTS + ["stocha-p0.5-a0.1-full-tok", "stocha-p0.3-a0.2-tensor"])
def test_forward_backward_every_recipe_at_tiny(name):
    var = get_variant(name)
    m = build_model("tiny", var, seed=0)
    tok = torch.randint(0, m.cfg.vocab_size, (2, 32))
    for act in (var.train_act, var.inference_act):
        m.set_activation(act)
        logits = m(tok)
        assert logits.shape == (2, 32, m.cfg.vocab_size)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), tok[:, 1:].flatten())
        loss.backward()
        assert torch.isfinite(loss)
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
        m.zero_grad()


@pytest.mark.parametrize("kv_heads,ffn", [(None, "gated"), (2, "gated"), (None, "plain")])
def test_kv_cache_decoding_equals_full_forward(kv_heads, ffn):
    cfg = ModelConfig(dim=64, n_layers=2, n_heads=4, n_kv_heads=kv_heads, vocab_size=50, ffn_dim=96,
                      ffn_type=ffn, max_seq_len=64)
    torch.manual_seed(0)
    m = Transformer(cfg, "relu").eval()
    tok = torch.randint(0, 50, (3, 20))
    with torch.no_grad():
        full = m(tok)
        cache = KVCache(cfg, batch=3)
        steps = [m(tok[:, :8], cache=cache)] + [m(tok[:, t:t + 1], cache=cache) for t in range(8, 20)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-4)


def test_left_padded_batch_matches_unpadded_rows():
    cfg = ModelConfig(dim=32, n_layers=2, n_heads=2, vocab_size=40, ffn_dim=64, max_seq_len=32)
    torch.manual_seed(1)
    m = Transformer(cfg, "silu").eval()
    a, b = torch.randint(0, 40, (1, 10)), torch.randint(0, 40, (1, 6))
    batch = torch.cat([a, torch.cat([torch.zeros(1, 4, dtype=torch.long), b], 1)])
    valid = torch.ones(2, 10, dtype=torch.bool)
    valid[1, :4] = False
    with torch.no_grad():
        cache = KVCache(cfg, batch=2)
        out = m(batch, cache=cache, valid=valid)
        nxt = torch.randint(0, 40, (2, 1))
        step = m(nxt, cache=cache)
        ref_b = m(torch.cat([b, nxt[1:]], 1))
    torch.testing.assert_close(out[1, 4:], ref_b[0, :6], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(step[1, 0], ref_b[0, 6], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out[0], m(a)[0].detach(), atol=1e-5, rtol=1e-4)


def test_set_activation_switches_every_layer_and_hook_sees_post_activation():
    m = build_model("tiny", "swi-ft-a0.1")
    seen = []
    for layer in m.layers:
        layer.feed_forward.act.register_forward_hook(lambda mod, inp, out: seen.append(out))
    tok = torch.randint(0, 264, (1, 16))
    m.set_activation("relu")
    with torch.no_grad():
        m(tok)
    assert len(seen) == m.cfg.n_layers and all((h >= 0).all() and (h == 0).any() for h in seen)
    seen.clear()
    m.set_activation("silu")
    with torch.no_grad():
        m(tok)
    assert all((h < 0).any() for h in seen)


def test_stochastic_model_reproducible_from_seed():
    tok = torch.randint(0, 264, (2, 16))
    outs = []
    for _ in range(2):
        m = build_model("tiny", "stocha-p0.5-a0.1", seed=3)
        outs.append(m(tok))
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)


@pytest.mark.parametrize("scale,lo,hi", [("1.5b", 1.4e9, 1.6e9), ("3b", 3.0e9, 3.4e9)])
def test_paper_scale_parameter_counts_on_meta(scale, lo, hi):
    m = build_model(scale, "relu", device="meta")
    n = m.num_params()
    assert n == SCALES[scale].model.num_params()
    assert lo < n < hi
    assert next(m.parameters()).device.type == "meta"


def test_config_param_count_matches_built_model():
    for name in ("tiny", "small"):
        assert build_model(name, "silu").num_params() == SCALES[name].model.num_params()
    cfg = ModelConfig(dim=32, n_layers=1, n_heads=4, n_kv_heads=2, vocab_size=10, ffn_dim=48,
                      ffn_type="plain", tie_embeddings=True)
    assert Transformer(cfg).num_params() == cfg.num_params()
