"""LLaMA-style decoder whose FFN activation can be switched at run time.

RMSNorm pre-norm, rotary position embeddings, multi-head attention through torch SDPA with optional
grouped KV heads and a KV cache for decoding, and a gated FFN ``w2(act(w1 x) * w3 x)`` (or a plain
``w2(act(w1 x))``). Names follow Meta's LLaMA code (``attention``, ``feed_forward``, ``ffn_norm``,
``w1/w2/w3``) so weights map one-to-one onto other LLaMA implementations.

    >>> import torch
    >>> from models.config import ModelConfig
    >>> from models.llama import Transformer
    >>> m = Transformer(ModelConfig(dim=64, n_layers=2, n_heads=4, vocab_size=264, ffn_dim=172))
    >>> m(torch.randint(0, 264, (1, 16))).shape      # logits (B, T, V)
    torch.Size([1, 16, 264])
    >>> m.set_activation("relu")                      # every FFN now applies RELU; nothing rebuilt
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.activations import Activation, ActSpec
from models.config import ModelConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def rope_tables(head_dim: int, max_len: int, theta: float, device=None, scaling: dict | None = None):
    """cos/sin tables (max_len, head_dim/2) for rotary embeddings; ``scaling`` as ``ModelConfig.rope_scaling``."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    kind = (scaling or {}).get("rope_type", "default")
    if kind == "linear":
        inv = inv / scaling["factor"]
    elif kind == "llama3":  # Llama 3.1+: long wavelengths slowed by `factor`, short ones kept, a blend between
        factor, old_len = scaling["factor"], scaling["original_max_position_embeddings"]
        lo, hi = scaling["low_freq_factor"], scaling["high_freq_factor"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old_len / lo, inv / factor, inv)
        smooth = (old_len / wavelen - lo) / (hi - lo)
        medium = (wavelen >= old_len / hi) & (wavelen <= old_len / lo)
        inv = torch.where(medium, (1 - smooth) * scaled / factor + smooth * scaled, scaled)
    t = torch.arange(max_len, device=device, dtype=torch.float32)
    freqs = torch.outer(t, inv)
    return freqs.cos(), freqs.sin()


def apply_rope(x, cos, sin):
    """x: (B, H, T, hd); cos/sin: (B, 1, T, hd/2). Rotates interleaved pairs like Meta's LLaMA."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
    return out.type_as(x)


class KVCache:
    """Per-layer key/value buffers for incremental decoding.

    ``valid`` (B, max_len) marks real tokens: prompts of different lengths are left-padded and the pads
    are masked out of attention and skipped by the position counter used for RoPE.
    """

    def __init__(self, cfg: ModelConfig, batch: int, max_len: int | None = None, device=None, dtype=None):
        self.max_len = max_len or cfg.max_seq_len
        shape = (batch, cfg.kv_heads, self.max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.valid = torch.zeros(batch, self.max_len, dtype=torch.bool, device=device)
        self.length = 0  # tokens written so far (pads included)

    def select(self, rows: torch.Tensor):
        """Keep only the given batch rows (drop finished sequences)."""
        self.k = [k[rows] for k in self.k]
        self.v = [v[rows] for v in self.v]
        self.valid = self.valid[rows]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x, cos, sin, layer: int = 0, cache: KVCache | None = None, mask=None):
        B, T, _ = x.shape  # (B, T, D)
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k = self.wk(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)  # (B, Hkv, T, hd)
        v = self.wv(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            start = cache.length
            cache.k[layer][:, :, start:start + T] = k
            cache.v[layer][:, :, start:start + T] = v
            k = cache.k[layer][:, :, :start + T]
            v = cache.v[layer][:, :, :start + T]
        if self.n_kv != self.n_heads and cache is not None:
            # Decoding: SDPA shares each KV head across its query group itself; copying the cache out
            # (repeat_interleave) would read and write the whole KV cache once more per token.
            return self.wo(F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
                           .transpose(1, 2).reshape(B, T, -1))
        if self.n_kv != self.n_heads:  # grouped KV heads: share each KV head across a query group
            k = k.repeat_interleave(self.n_heads // self.n_kv, dim=1)
            v = v.repeat_interleave(self.n_heads // self.n_kv, dim=1)
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.wo(y.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    """Gated ``w2(act(w1 x) * w3 x)`` or plain ``w2(act(w1 x))``. ``self.act``'s output is the hook point."""

    def __init__(self, cfg: ModelConfig, act: Activation):
        super().__init__()
        self.gated = cfg.ffn_type == "gated"
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False) if self.gated else None
        self.act = act
        # Set by models.sparse.enable_sparse(): a function computing the same output while skipping the
        # neurons whose activation is exactly zero. None → the dense path below.
        self.sparse_forward = None

    def forward(self, x):  # (B, T, D) → (B, T, D)
        if self.sparse_forward is not None and not torch.is_grad_enabled() and self.act.spec.sparse:
            return self.sparse_forward(self, x)
        h = self.act(self.w1(x))  # (B, T, F): the post-activation tensor the profiler hooks
        if self.gated:
            h = h * self.w3(x)
        return self.w2(h)


class TransformerBlock(nn.Module):
    def __init__(self, layer_id: int, cfg: ModelConfig, act: Activation):
        super().__init__()
        self.layer_id = layer_id
        self.attention = Attention(cfg)
        self.feed_forward = FeedForward(cfg, act)
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)

    def forward(self, x, cos, sin, cache=None, mask=None):
        x = x + self.attention(self.attention_norm(x), cos, sin, self.layer_id, cache, mask)
        return x + self.feed_forward(self.ffn_norm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig, act: ActSpec | str = "silu", seed: int = 0):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        # One generator for every stochastic draw in the model: one seed, one state to checkpoint.
        self.act_generator = torch.Generator().manual_seed(seed)
        spec = ActSpec.parse(act) if isinstance(act, str) else act
        self.layers = nn.ModuleList(
            TransformerBlock(i, cfg, Activation(spec, self.act_generator)) for i in range(cfg.n_layers)
        )
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight
        self.register_buffer("rope_cos", torch.empty(0), persistent=False)
        self.register_buffer("rope_sin", torch.empty(0), persistent=False)
        self.init_rope()
        self.reset_parameters()

    def init_rope(self, device=None):
        """(Re)build the RoPE tables, which are buffers outside the state dict: a model built on the meta
        device (FSDP materialisation, Hugging Face import) needs them computed again on its real device."""
        cfg = self.cfg
        self.rope_cos, self.rope_sin = rope_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta, device,
                                                   scaling=cfg.rope_scaling)

    # ---- activation control -------------------------------------------------------------------
    @property
    def activation(self) -> ActSpec:
        return self.layers[0].feed_forward.act.spec

    def set_activation(self, spec: ActSpec | str):
        """Switch every FFN's non-linearity (training schedule, inference mode) without rebuilding."""
        spec = ActSpec.parse(spec) if isinstance(spec, str) else spec
        for layer in self.layers:
            layer.feed_forward.act.spec = spec

    def seed_activation(self, seed: int):
        """Re-seed the stochastic draws."""
        self.act_generator.manual_seed(seed)

    def _attach_generator(self, gen: torch.Generator):
        self.act_generator = gen
        for layer in self.layers:
            layer.feed_forward.act.generator = gen

    def _apply(self, fn, *args, **kwargs):
        # torch.rand needs a generator on the tensor's device: moving the model (.to("cuda")) gives it
        # a generator there, seeded like the old one (its stream restarts; move before drawing).
        out = super()._apply(fn, *args, **kwargs)
        dev = self.tok_embeddings.weight.device
        if dev.type != "meta" and self.act_generator.device != dev:
            seed = self.act_generator.initial_seed()
            self._attach_generator(torch.Generator(device=dev).manual_seed(seed))
        return out

    # ---- init -----------------------------------------------------------------------------------
    def reset_parameters(self):
        """LLaMA/nanoGPT-style init: N(0, 0.02), output projections scaled by 1/sqrt(2·n_layers)."""
        std = 0.02
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.ones_(p)  # RMSNorm gains
            elif name.endswith(("wo.weight", "w2.weight")):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.cfg.n_layers))
            else:
                nn.init.normal_(p, 0.0, std)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- forward --------------------------------------------------------------------------------
    def forward(self, tokens, cache: KVCache | None = None, valid: torch.Tensor | None = None):
        """tokens (B, T) → logits (B, T, V).

        Without ``cache``: a causal forward over the whole sequence. With ``cache``: the tokens continue
        the cached ones. ``valid`` (B, T) marks real tokens in a left-padded batch (None = all real).
        """
        B, T = tokens.shape
        x = self.tok_embeddings(tokens)  # (B, T, D)
        mask = None
        if cache is None and valid is None:
            if T > self.cfg.max_seq_len:
                raise ValueError(f"sequence of {T} tokens exceeds max_seq_len {self.cfg.max_seq_len}")
            cos, sin = self.rope_cos[:T][None, None], self.rope_sin[:T][None, None]  # (1, 1, T, hd/2)
        else:
            if valid is None:
                valid = torch.ones(B, T, dtype=torch.bool, device=tokens.device)
            start = cache.length if cache is not None else 0
            if cache is not None:
                if start + T > cache.max_len:
                    raise ValueError(f"KV cache full: {start} + {T} > {cache.max_len}")
                cache.valid[:, start:start + T] = valid
                all_valid = cache.valid[:, :start + T]
            else:
                all_valid = valid
            # Position of each token = number of real tokens before it (pads don't advance RoPE).
            pos = (all_valid.long().cumsum(-1) - 1).clamp_min(0)[:, start:start + T]  # (B, T)
            cos, sin = self.rope_cos[pos][:, None], self.rope_sin[pos][:, None]  # (B, 1, T, hd/2)
            causal = torch.ones(T, start + T, dtype=torch.bool, device=tokens.device).tril(start)
            mask = causal[None] & all_valid[:, None, :]  # (B, T, S)
            # A pad query would attend to nothing (NaN); let it see itself — its output is ignored.
            idx = torch.arange(T, device=tokens.device)
            mask[:, idx, start + idx] = True
            mask = mask[:, None]  # (B, 1, T, S)
        for layer in self.layers:
            x = layer(x, cos, sin, cache, mask)
        if cache is not None:
            cache.length += T
        return self.output(self.norm(x))
