"""Conversion between our ``models.llama.Transformer`` and transformers' ``LlamaForCausalLM``, both ways.

    >>> from models.registry import build_model
    >>> from harness.interop.hf import to_hf_llama, from_hf_llama
    >>> ours = build_model("tiny", "relu", act="relu").eval()
    >>> hf = to_hf_llama(ours)                  # hidden_act "relu", weights copied, same logits
    >>> back = from_hf_llama(hf)                 # and back: a Transformer equal to `ours`

The weights map one to one (``wq`` ↔ ``q_proj``, ``w1``/``w3``/``w2`` ↔ ``gate``/``up``/``down_proj``, ...)
except for one layout difference: our RoPE rotates interleaved pairs (Meta's layout), HF's
``rotate_half`` rotates the two halves of each head, so the rows of ``wq`` and ``wk`` are permuted per
head (Meta → HF conversion), and the inverse permutation on the way back. Logits then agree to float
rounding (max |Δ| ≤ 1e-4 in fp32 on the test models; ``tests/test_export.py``).

What an imported checkpoint may use: ``model_type`` llama, ``hidden_act`` silu/relu/gelu, grouped KV heads,
tied embeddings, any ``rope_theta`` and ``rms_norm_eps``, RoPE scaling ``linear`` or ``llama3``. Refused with
one line: attention or MLP biases, other RoPE scalings (dynamic, yarn, longrope), a ``head_dim`` other
than ``hidden_size / num_attention_heads``.

:func:`load_hf_checkpoint` reads a local checkpoint (never the Hub) and its tokenizer: a transformers
directory, or a llama.cpp ``.gguf`` file (``harness.interop.gguf_file``, needs the ``gguf`` package).
"""

from __future__ import annotations

import pathlib

import torch

from models.config import ModelConfig
from models.llama import Transformer

# HF hidden_act → our activation name (HF's "gelu" is the exact erf form, like ours).
_ACTS = {"silu": "silu", "swish": "silu", "relu": "relu", "gelu": "gelu"}
_ROPE_KEYS = {"linear": ("factor",),
              "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")}


def _to_halves(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of a q/k projection: interleaved pairs per head (ours) → two halves per head (HF)."""
    d1, d2 = w.shape
    return w.reshape(n_heads, d1 // n_heads // 2, 2, d2).transpose(1, 2).reshape(d1, d2)


def _to_pairs(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """The inverse of :func:`_to_halves`."""
    d1, d2 = w.shape
    return w.reshape(n_heads, 2, d1 // n_heads // 2, d2).transpose(1, 2).reshape(d1, d2)


def _layer_keys(i: int) -> dict:
    """Our parameter name → HF's, for layer i."""
    p = f"model.layers.{i}."
    return {f"layers.{i}.attention.wq.weight": p + "self_attn.q_proj.weight",
            f"layers.{i}.attention.wk.weight": p + "self_attn.k_proj.weight",
            f"layers.{i}.attention.wv.weight": p + "self_attn.v_proj.weight",
            f"layers.{i}.attention.wo.weight": p + "self_attn.o_proj.weight",
            f"layers.{i}.feed_forward.w1.weight": p + "mlp.gate_proj.weight",
            f"layers.{i}.feed_forward.w3.weight": p + "mlp.up_proj.weight",
            f"layers.{i}.feed_forward.w2.weight": p + "mlp.down_proj.weight",
            f"layers.{i}.attention_norm.weight": p + "input_layernorm.weight",
            f"layers.{i}.ffn_norm.weight": p + "post_attention_layernorm.weight"}


def _key_map(cfg: ModelConfig) -> dict:
    keys = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
            "output.weight": "lm_head.weight"}
    for i in range(cfg.n_layers):
        keys.update(_layer_keys(i))
    return keys


def hf_act(model) -> str:
    """The ``hidden_act`` for the model's current FFN activation; a stochastic one has none."""
    act = model.activation
    if act.kind not in ("relu", "silu", "gelu"):
        raise ValueError(f"transformers' Llama has no stochastic activation (the model uses {act}); export with "
                         f"a deterministic inference activation: relu or silu")
    return act.kind


def hf_config(cfg: ModelConfig, act: str, *, bos_id: int | None = 256, eos_id: int | None = 257,
              pad_id: int | None = 258):
    """The ``LlamaConfig`` describing our model config with FFN activation ``act``."""
    from transformers import LlamaConfig

    if cfg.ffn_type != "gated":
        raise ValueError("transformers' Llama has a gated FFN; a plain-FFN model cannot be exported")
    rope = {"rope_type": "default", "rope_theta": cfg.rope_theta, **(cfg.rope_scaling or {})}
    # rope_parameters is transformers ≥ 5's name; 4.x reads rope_theta and rope_scaling (given both).
    kw = {"rope_parameters": rope} if _transformers_major() >= 5 else {
        "rope_theta": cfg.rope_theta, "rope_scaling": cfg.rope_scaling}
    return LlamaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.dim, intermediate_size=cfg.ffn_dim,
                       num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads,
                       num_key_value_heads=cfg.kv_heads, head_dim=cfg.head_dim,
                       max_position_embeddings=cfg.max_seq_len, rms_norm_eps=cfg.norm_eps, hidden_act=act,
                       tie_word_embeddings=cfg.tie_embeddings, attention_bias=False, mlp_bias=False,
                       bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id,
                       architectures=["LlamaForCausalLM"], **kw)


def _transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def hf_weights(model) -> dict:
    """Our weights under transformers' Llama names: the q/k projections' rows rotated to its RoPE layout
    (new tensors), every other entry the model's own tensor (shared, not copied)."""
    cfg = model.cfg
    ours = model.state_dict()
    out = {}
    for k, hk in _key_map(cfg).items():
        w = ours[k]
        if k.endswith("wq.weight"):
            w = _to_halves(w, cfg.n_heads)
        elif k.endswith("wk.weight"):
            w = _to_halves(w, cfg.kv_heads)
        out[hk] = w
    return out


def to_hf_llama(model, *, bos_id: int | None = 256, eos_id: int | None = 257, pad_id: int | None = 258):
    """An equivalent ``transformers.LlamaForCausalLM`` (eval mode) carrying a copy of our weights.

    ``hidden_act`` is the model's current activation (relu, silu or gelu). The special-token ids default to
    the byte tokenizer's.
    """
    from transformers import LlamaForCausalLM

    cfg = model.cfg
    hf = LlamaForCausalLM(hf_config(cfg, hf_act(model), bos_id=bos_id, eos_id=eos_id, pad_id=pad_id))
    sd = {hk: w.detach().to("cpu", torch.float32).clone() for hk, w in hf_weights(model).items()}
    missing, unexpected = hf.load_state_dict(sd, strict=False)
    missing = [k for k in missing if "rotary" not in k and not (cfg.tie_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise RuntimeError(f"weight mapping to HF Llama failed: missing {missing}, unexpected {unexpected}")
    if cfg.tie_embeddings:
        hf.tie_weights()
    return hf.eval()


# ---- import ----------------------------------------------------------------------------------------
def config_from_hf(hf_cfg, max_seq_len: int | None = None) -> tuple[ModelConfig, str]:
    """(our ModelConfig, activation name) for a transformers Llama config; unsupported features raise
    ValueError with one line. ``max_seq_len`` caps the context (default: ``max_position_embeddings``)."""
    get = lambda k, d=None: getattr(hf_cfg, k, d)  # noqa: E731
    mtype = get("model_type")
    if mtype != "llama":
        raise ValueError(f"only Llama-family checkpoints (model_type 'llama') can be imported, got {mtype!r}")
    act = _ACTS.get(str(get("hidden_act")))
    if act is None:
        raise ValueError(f"unsupported hidden_act {get('hidden_act')!r}; supported: {', '.join(_ACTS)}")
    if get("attention_bias", False) or get("mlp_bias", False):
        raise ValueError("checkpoints with attention or MLP biases (attention_bias / mlp_bias) are not supported")
    dim, heads = int(get("hidden_size")), int(get("num_attention_heads"))
    head_dim = get("head_dim") or dim // heads
    if head_dim * heads != dim:
        raise ValueError(f"head_dim {head_dim} × {heads} heads != hidden_size {dim}: not supported")
    # transformers ≥ 5: rope_parameters {rope_type, rope_theta, ...}; 4.x: rope_theta + rope_scaling.
    rope = dict(get("rope_parameters") or get("rope_scaling") or {})
    theta = float(rope.pop("rope_theta", None) or get("rope_theta", None) or 10000.0)
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind not in ("default", *_ROPE_KEYS):
        raise ValueError(f"unsupported RoPE scaling {kind!r}; supported: none, linear, llama3")
    scaling = None
    if kind != "default":
        missing = [k for k in _ROPE_KEYS[kind] if rope.get(k) is None]
        if missing:
            raise ValueError(f"RoPE scaling {kind!r} without {', '.join(missing)}")
        scaling = {"rope_type": kind, **{k: float(rope[k]) for k in _ROPE_KEYS[kind]}}
    n_pos = int(get("max_position_embeddings") or 2048)
    kv = int(get("num_key_value_heads") or heads)
    cfg = ModelConfig(dim=dim, n_layers=int(get("num_hidden_layers")), n_heads=heads,
                      n_kv_heads=None if kv == heads else kv, vocab_size=int(get("vocab_size")),
                      ffn_dim=int(get("intermediate_size")), ffn_type="gated",
                      max_seq_len=min(n_pos, max_seq_len) if max_seq_len else n_pos,
                      norm_eps=float(get("rms_norm_eps")), rope_theta=theta,
                      tie_embeddings=bool(get("tie_word_embeddings", False)), rope_scaling=scaling)
    return cfg, act


def from_hf_llama(hf, *, seed: int = 0, max_seq_len: int | None = None) -> Transformer:
    """Our Transformer (eval mode, activation = the checkpoint's ``hidden_act``) with a copy of the HF
    model's weights, in fp32."""
    cfg, act = config_from_hf(hf.config, max_seq_len)
    with torch.device("meta"):  # no random init of weights that are overwritten next
        model = Transformer(cfg, act, seed=seed)
    theirs = hf.state_dict()
    sd = {}
    for k, hk in _key_map(cfg).items():
        if hk not in theirs and k == "output.weight" and cfg.tie_embeddings:
            hk = "model.embed_tokens.weight"
        if hk not in theirs:
            raise ValueError(f"the checkpoint has no weight {hk}")
        w = theirs[hk].detach().to("cpu", torch.float32)
        if k.endswith("wq.weight"):
            w = _to_pairs(w, cfg.n_heads)
        elif k.endswith("wk.weight"):
            w = _to_pairs(w, cfg.kv_heads)
        sd[k] = w.clone()
    model.load_state_dict(sd, assign=True)
    if cfg.tie_embeddings:  # assign=True replaced both tensors: share them again
        model.output.weight = model.tok_embeddings.weight
    model.init_rope()  # built on the meta device above
    return model.eval()


def dtype_kw() -> str:
    """The ``from_pretrained`` keyword for the weights' dtype (renamed in transformers 4.56)."""
    return "dtype" if _transformers_major() >= 5 else "torch_dtype"


# What holds the weights of a transformers checkpoint directory (sharded ones have an index beside the shards).
WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin", "model.safetensors.index.json")


def read_hf_config(path, max_seq_len: int | None = None):
    """(our ModelConfig, activation, transformers config) of a local checkpoint — a directory or a ``.gguf``
    file — weights unread: a missing path, a directory without weights, an unsupported architecture, a
    foreign or truncated GGUF file fail here with one line."""
    from transformers import AutoConfig

    from harness.interop.gguf_file import gguf_hf_config, is_gguf

    path = pathlib.Path(path).expanduser()
    if is_gguf(path):
        hf_cfg = gguf_hf_config(path)
        return (*config_from_hf(hf_cfg, max_seq_len), hf_cfg)
    if path.is_file():
        raise ValueError(f"{path} is neither a checkpoint directory nor a .gguf file")
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a local Hugging Face checkpoint (no config.json); the harness "
                                f"never downloads: fetch it first, e.g. `hf download NAME --local-dir DIR`")
    try:
        hf_cfg = AutoConfig.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"cannot read the checkpoint config in {path}: {msg}") from None
    cfg, act = config_from_hf(hf_cfg, max_seq_len)
    if not any(next(path.glob(g), None) for g in WEIGHT_GLOBS):
        raise FileNotFoundError(f"{path} holds no weights (no {', '.join(WEIGHT_GLOBS)}); copy the whole "
                                f"checkpoint directory, or pass a .gguf file")
    return cfg, act, hf_cfg


def load_hf_checkpoint(path, *, max_seq_len: int | None = None, seed: int = 0):
    """(our Transformer, HFTokenizer, source info) from a local transformers checkpoint directory, or a
    ``.gguf`` file (read by :func:`harness.interop.gguf_file.load_gguf_hf`).

    The weights load with ``AutoModelForCausalLM.from_pretrained(path, local_files_only=True)`` (sharded
    safetensors, .bin, any dtype) and are converted to fp32. The tokenizer must lie beside them.
    """
    from transformers import AutoModelForCausalLM

    from harness.data.tokenizer import HFTokenizer
    from harness.interop.gguf_file import is_gguf, load_gguf_hf

    path = pathlib.Path(path).expanduser()
    _, _, hf_cfg = read_hf_config(path, max_seq_len)  # refuse unsupported checkpoints before reading weights
    if is_gguf(path):
        hf, hf_tok, info = load_gguf_hf(path, hf_cfg)
        tok = HFTokenizer(hf_tok)
    else:
        tok = HFTokenizer(path)
        hf = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, **{dtype_kw(): torch.float32})
        info = {"path": str(path.resolve()), "format": "hf", "hf_config": hf_cfg.to_dict(),
                "hidden_act": hf_cfg.hidden_act, "files": _files_digest(path)}
    model = from_hf_llama(hf, seed=seed, max_seq_len=max_seq_len)
    del hf
    if tok.vocab_size > model.cfg.vocab_size:
        raise ValueError(f"the tokenizer has {tok.vocab_size} tokens but the model only {model.cfg.vocab_size} "
                         f"embedding rows")
    return model, tok, info


def _files_digest(path: pathlib.Path) -> list:
    """(name, size, mtime) of the checkpoint's files: cheap identity of the weights for resume checks."""
    return sorted([p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in path.iterdir() if p.is_file())
