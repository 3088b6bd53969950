"""FFN activation sparsity of a model on given tokens, from forward hooks on every FFN's activation module
(its output is the post-activation tensor), and FLOPs per token dense vs sparse.

    >>> from models.registry import build_model
    >>> import torch
    >>> prof = profile_model(build_model("tiny", "relu"), torch.randint(0, 256, (2, 16)))
    >>> 0.0 <= prof["sparsity"] <= 1.0
    True

Per layer: the fraction of exact zeros (mean, and its distribution over tokens as quantiles), neurons
never active (dead) and always active, the fraction with |a| < τ for τ in :data:`TAUS` (what a dense
activation such as SILU would offer to a thresholding method), and per-neuron firing rates.
``harness.profiling.profile_run`` turns this into a profile result; a fine-tune measures itself with it.
"""

from __future__ import annotations

import torch

TAUS = (1e-3, 1e-2, 1e-1)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class _LayerStats:
    """Accumulates one FFN's post-activation statistics over batches of tokens."""

    def __init__(self, ffn_dim: int):
        self.tokens = 0
        self.zero_frac: list[torch.Tensor] = []  # per token
        self.active = torch.zeros(ffn_dim, dtype=torch.long)  # tokens on which each neuron was non-zero
        self.near = {t: 0 for t in TAUS}

    def add(self, a: torch.Tensor, valid: torch.Tensor | None):
        a = a.detach().reshape(-1, a.shape[-1]).float()  # (N, F)
        if valid is not None:
            a = a[valid.reshape(-1)]
        nz = a != 0
        self.tokens += a.shape[0]
        self.zero_frac.append(1.0 - nz.float().mean(-1))
        self.active += nz.sum(0)
        mag = a.abs()
        for t in TAUS:
            self.near[t] += int((mag < t).sum())

    def summary(self, layer: int) -> dict:
        zf = torch.cat(self.zero_frac) if self.zero_frac else torch.zeros(0)
        n, F = self.tokens, self.active.numel()
        q = torch.quantile(zf.double(), torch.tensor(QUANTILES, dtype=torch.float64)).tolist() if n else []
        return {"layer": layer, "tokens": n, "ffn_dim": F,
                "sparsity": float(zf.mean()) if n else None,
                "token_sparsity_quantiles": {f"p{round(100 * k):02d}": v for k, v in zip(QUANTILES, q)},
                "token_sparsity_min": float(zf.min()) if n else None,
                "token_sparsity_max": float(zf.max()) if n else None,
                "dead_frac": float((self.active == 0).float().mean()),
                "always_active_frac": float((self.active == n).float().mean()) if n else None,
                "near_zero_frac": {f"{t:g}": self.near[t] / max(1, n * F) for t in TAUS},
                "neuron_rates": (self.active.double() / max(1, n)).tolist()}


def profile_model(model, tokens: torch.Tensor, valid: torch.Tensor | None = None, batch_size: int = 8) -> dict:
    """Hook every FFN activation of ``model`` and run it over ``tokens`` (n_seqs, seq_len).

    Returns ``{"layers": [per-layer summary], "sparsity", "dead_frac", "always_active_frac",
    "near_zero_frac", "tokens", "flops": {...}}``. The model is used as it is (set its activation first).
    """
    layers = list(model.layers)
    stats = [_LayerStats(layer.feed_forward.w1.out_features) for layer in layers]
    current_valid: list[torch.Tensor | None] = [None]
    handles = [layer.feed_forward.act.register_forward_hook(
        lambda mod, inp, out, s=s: s.add(out, current_valid[0])) for layer, s in zip(layers, stats)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, tokens.shape[0], batch_size):
                current_valid[0] = None if valid is None else valid[i:i + batch_size]
                model(tokens[i:i + batch_size])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    per_layer = [s.summary(i) for i, s in enumerate(stats)]
    weights = [s["tokens"] * s["ffn_dim"] for s in per_layer]
    tot = max(1, sum(weights))
    wmean = lambda key: sum(w * s[key] for w, s in zip(weights, per_layer)) / tot  # noqa: E731
    out = {"layers": per_layer, "tokens": per_layer[0]["tokens"] if per_layer else 0,
           "sparsity": wmean("sparsity"), "dead_frac": wmean("dead_frac"),
           "always_active_frac": wmean("always_active_frac"),
           "near_zero_frac": {f"{t:g}": sum(w * s["near_zero_frac"][f"{t:g}"] for w, s in zip(weights, per_layer))
                              / tot for t in TAUS}}
    out["flops"] = flops_per_token(model.cfg, [s["sparsity"] for s in per_layer])
    return out


def flops_per_token(cfg, layer_sparsity: list[float]) -> dict:
    """Matmul FLOPs per decoded token (2 per multiply-add), dense vs sparse FFN; attention over the
    context is left out (it depends on the position, and sparsity does not change it)."""
    d, F = cfg.dim, cfg.ffn_dim
    gated = cfg.ffn_type == "gated"
    attn = 2 * (2 * d * cfg.n_heads * cfg.head_dim + 2 * d * cfg.kv_heads * cfg.head_dim)
    head = 2 * d * cfg.vocab_size
    ffn_dense = 2 * d * F * (3 if gated else 2)
    ffn_sparse = [2 * d * F * (1 + (2 if gated else 1) * (1 - s)) for s in layer_sparsity]
    fd, fs = ffn_dense * len(layer_sparsity), sum(ffn_sparse)
    md, ms = fd + attn * cfg.n_layers + head, fs + attn * cfg.n_layers + head
    return {"ffn_dense": fd, "ffn_sparse": fs, "ffn_ratio": fs / fd if fd else None,
            "model_dense": md, "model_sparse": ms, "model_ratio": ms / md}
