"""Sparsity profile of a trained variant, and dense vs sparse decode speed → a "profile" result.

    python -m harness profile --model swi-ft-a0.1 --scale tiny           # trains first if needed
    python -m harness profile --model stocha-p0.7-a0.05 [--scale small] [--seed 0] [--force]
    make profile MODEL=swi-ft-a0.1 SCALE=tiny

What it measures, on a fixed held-out token set (``harness.data.validation_tokens``) with the variant's
inference activation (RELU for Swi+FT and StochA):

- per layer, from forward hooks on every FFN's activation module (its output is the post-activation
  tensor): the fraction of exact zeros (mean, and its distribution over tokens as quantiles), neurons
  never active (dead) and always active, the fraction with |a| < τ for τ in 1e-3, 1e-2, 1e-1 (what a
  dense activation such as SILU would offer to a thresholding method), and per-neuron firing rates;
- FLOPs per token, dense vs sparse (dense gate + active rows of W3 and W2);
- decode tokens/s of the trained checkpoint, dense vs sparse (``models.sparse.enable_sparse``), same
  process, interleaved, medians;
- the FFN and decoder-layer speed-up at widths d = 1024, 2048, 4096 with the trained model's sparsity and
  per-neuron firing rates (tiny models are too small for the gain to show over per-op overhead).

The result goes to ``out/results/<scale>/<model>/s<seed>/profile.json`` (kind and suite "profile"); a
finished one is not recomputed unless ``--force``.
"""

from __future__ import annotations

import pathlib
import statistics
import time

import torch

from harness import results as R
from models import sparse as sp

VERSION = "2"  # 2: same-kernel speed-up and its bound per width
TAUS = (1e-3, 1e-2, 1e-1)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
WIDTHS = (1024, 2048, 4096)
HEADLINE_WIDTH = 2048  # the width whose speed-ups stand for the run in tables and plots


def add_arguments(p):
    p.add_argument("--model", required=True, help="variant name, e.g. swi-ft-a0.1 or stocha-p0.7-a0.05")
    p.add_argument("--scale", default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="recompute a finished profile")
    g = p.add_argument_group("sizes")
    g.add_argument("--n-seqs", type=int, default=32, help="held-out sequences profiled")
    g.add_argument("--seq-len", type=int, default=None, help="tokens per sequence (default: model max, ≤ 256)")
    g.add_argument("--decode-tokens", type=int, default=64, help="tokens decoded per timing run")
    g.add_argument("--widths", default=",".join(map(str, WIDTHS)),
                   help="widths for the synthetic FFN/layer benchmark ('' to skip)")
    g.add_argument("--threads", type=int, default=1, help="torch threads for the timings")


# ---- the sparsity profile ------------------------------------------------------------------------------
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


# ---- decode timing -----------------------------------------------------------------------------------
def _decode_once(model, prompt: torch.Tensor, n_new: int) -> float:
    """Seconds for n_new greedy decode steps after the prompt (prefill not timed)."""
    from models.llama import KVCache

    cache = KVCache(model.cfg, prompt.shape[0], max_len=prompt.shape[1] + n_new)
    logits = model(prompt, cache=cache)
    tok = logits[:, -1:].argmax(-1)
    t0 = time.perf_counter()
    for _ in range(n_new):
        tok = model(tok, cache=cache)[:, -1:].argmax(-1)
    return time.perf_counter() - t0


def decode_benchmark(model, prompt: torch.Tensor, n_new: int = 64, repeats: int = 7) -> dict:
    """Tokens/s dense vs sparse for the same model, interleaved (order alternating), medians."""
    n_new = min(n_new, model.cfg.max_seq_len - prompt.shape[1])
    if n_new < 1:
        raise ValueError("prompt leaves no room to decode within max_seq_len")
    times = {"dense": [], "sparse": []}
    with torch.no_grad():
        for on in (False, True):  # warm-up (and builds the kernel and W2ᵀ copies)
            sp.enable_sparse(model, on)
            _decode_once(model, prompt, min(4, n_new))
        for r in range(repeats):
            for name in (("dense", "sparse") if r % 2 == 0 else ("sparse", "dense")):
                sp.enable_sparse(model, name == "sparse")
                times[name].append(_decode_once(model, prompt, n_new))
    sp.enable_sparse(model, False)
    tps = {k: n_new / statistics.median(v) for k, v in times.items()}
    return {"tokens": n_new, "repeats": repeats, "prompt_len": prompt.shape[1],
            "tokens_per_s_dense": tps["dense"], "tokens_per_s_sparse": tps["sparse"],
            "speedup": tps["sparse"] / tps["dense"],
            "ms_per_token": {k: [1e3 * t / n_new for t in v] for k, v in times.items()}}


def width_benchmarks(sparsity: float, rates: list[float], widths=WIDTHS, repeats: int = 10,
                     threads: int = 1, **kw) -> list[dict]:
    """Synthetic FFN + decoder layer at each width with the trained model's sparsity and neuron rates."""
    from tqdm import tqdm

    from harness.bench import bench_ffn

    out = []
    for d in tqdm(list(widths), desc="width benchmarks", leave=False):
        r = bench_ffn(d=d, sparsity=min(sparsity, 0.999), threads=threads, repeats=repeats,
                      profile_rates=rates, **kw)
        out.append({k: r[k] for k in ("d", "ffn_dim", "measured_sparsity", "ideal", "dense_ms", "sparse_ms",
                                      "speedup", "speedup_same_gemv", "spread", "layer_speedup",
                                      "layer_dense_ms", "layer_sparse_ms", "bandwidth_fraction_sparse",
                                      "read_bandwidth_gbs", "threads", "dtype", "load_avg") if k in r})
    return out


# ---- the result ----------------------------------------------------------------------------------------
def build_metrics(prof: dict, decode: dict | None, widths: list[dict]) -> list[dict]:
    m = R.metric
    n = prof["tokens"]
    out = [m("sparsity", prof["sparsity"], n=n), m("dead_frac", prof["dead_frac"], higher_is_better=False),
           m("always_active_frac", prof["always_active_frac"], higher_is_better=False)]
    for t, v in prof["near_zero_frac"].items():
        out.append(m("near_zero_frac", v, tau=float(t)))
    fl = prof["flops"]
    out += [m("flops_ratio", fl["ffn_ratio"], higher_is_better=False, scope="ffn"),
            m("model_flops_ratio", fl["model_ratio"], higher_is_better=False, scope="model"),
            m("flops_per_token_dense", fl["model_dense"], higher_is_better=False),
            m("flops_per_token_sparse", fl["model_sparse"], higher_is_better=False)]
    for L in prof["layers"]:
        i = L["layer"]
        out += [m("sparsity", L["sparsity"], n=L["tokens"], layer=i),
                m("dead_frac", L["dead_frac"], higher_is_better=False, layer=i),
                m("always_active_frac", L["always_active_frac"], higher_is_better=False, layer=i)]
        for q, v in L["token_sparsity_quantiles"].items():
            out.append(m("token_sparsity", v, layer=i, quantile=int(q[1:]) / 100))
        for t, v in L["near_zero_frac"].items():
            out.append(m("near_zero_frac", v, layer=i, tau=float(t)))
    if decode is not None:
        out += [m("decode_tokens_per_s", decode["tokens_per_s_dense"], path="dense", unit="tokens/s"),
                m("decode_tokens_per_s", decode["tokens_per_s_sparse"], path="sparse", unit="tokens/s"),
                m("decode_speedup", decode["speedup"])]
    # Per width: the speed-up against torch's dense FFN ("vs torch dense"), against the same kernel with no
    # neuron skipped ("sparsity only", the one the byte bound applies to), and that bound.
    for w in widths:
        speed = {"ffn_speedup": w["speedup"], "ffn_speedup_same_gemv": w.get("speedup_same_gemv"),
                 "ffn_speedup_bound": w["ideal"], "layer_speedup": w["layer_speedup"]}
        out += [m(k, v, width=w["d"], sparsity=w["measured_sparsity"]) for k, v in speed.items() if v is not None]
        if w["d"] == HEADLINE_WIDTH:  # the headline rows carry no width key
            out += [m(k, v) for k, v in speed.items() if v is not None]
    return out


def _validation(n_seqs: int, seq_len: int, seed: int = 0, tokenizer=None) -> torch.Tensor:
    """The held-out token set, in the run's own tokens (a fine-tuned Hugging Face checkpoint has its own)."""
    from harness.data import validation_tokens

    return validation_tokens(n_seqs, seq_len, seed=seed, tokenizer=tokenizer)


def run_profile(scale: str, model: str, seed: int = 0, force: bool = False, *, n_seqs: int = 32,
                seq_len: int | None = None, decode_tokens: int = 64, widths=WIDTHS, threads: int = 1,
                bench_kw: dict | None = None) -> pathlib.Path:
    """Profile a trained run (training it first if needed); returns the result path."""
    from harness.checkpoint import load_for_inference
    from harness.train import ensure_trained
    from models.registry import get_variant

    var = get_variant(model)
    path = R.result_path(scale, var.name, seed, "profile")
    params = {"n_seqs": n_seqs, "seq_len": seq_len, "decode_tokens": decode_tokens, "widths": list(widths),
              "threads": threads, "taus": list(TAUS)}
    if path.exists() and not force:
        from harness.checkpoint import final_checkpoint, sidecar_sha256
        from harness.paths import run_dir as run_dir_of

        sha = sidecar_sha256(final_checkpoint(run_dir_of(scale, var.name, seed)))
        res = R.finished_result(path)  # None if corrupt: recompute
        if res is not None and R.is_complete(res, version=VERSION, params=params) and R.same_checkpoint(res, sha):
            print(f"profile exists: {path} (use --force to redo)")
            return path
    started, t0 = R.now_iso(), time.perf_counter()
    run_dir = ensure_trained(scale, var.name, seed=seed)
    net, info = load_for_inference(run_dir)
    net.eval()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        L = min(seq_len or net.cfg.max_seq_len, net.cfg.max_seq_len, 256)
        tokens = _validation(n_seqs, L, seed=0, tokenizer=info.get("tok"))
        prof = profile_model(net, tokens)
        decode = None
        sparse_act = net.activation.sparse
        if sparse_act:
            decode = decode_benchmark(net, tokens[:1, : max(1, min(32, L // 2))], decode_tokens)
        wb = width_benchmarks(prof["sparsity"], [r for lay in prof["layers"] for r in lay["neuron_rates"]],
                              widths, threads=threads, **(bench_kw or {})) if sparse_act and widths else []
    finally:
        torch.set_num_threads(old_threads)
    run = {"scale": scale, "model": var.name, "seed": seed, "step": info.get("step"),
           "checkpoint": str(info.get("checkpoint")), "checkpoint_sha256": info.get("sha256"),
           "variant": var.to_dict(), "eval_act": str(net.activation)}
    suite = {"name": "profile", "version": VERSION, "backend": "torch-hooks",
             "dataset": {"name": "validation_tokens", "sha256": R.sha256_text(str(tokens.tolist()))},
             "params": params}
    layers = [{k: v for k, v in lay.items() if k != "neuron_rates"} for lay in prof["layers"]]
    prov = R.provenance(threads=threads, dtype="fp32", started_at=started, wall_s=time.perf_counter() - t0,
                        kernel=sp.kernel_available(), kernel_error=sp.kernel_error())
    res = R.make_result("profile", run=run, suite=suite, metrics=build_metrics(prof, decode, wb),
                        provenance=prov, layers=layers, flops=prof["flops"], decode=decode, widths=wb,
                        neuron_rates=[lay["neuron_rates"] for lay in prof["layers"]])
    return R.write_result(res, path)


def run(args) -> int:
    widths = [int(w) for w in args.widths.split(",") if w.strip()]
    if any(w < 8 for w in widths):
        raise ValueError(f"widths must be >= 8, got {args.widths}")
    p = run_profile(args.scale, args.model, args.seed, args.force, n_seqs=args.n_seqs, seq_len=args.seq_len,
                    decode_tokens=args.decode_tokens, widths=widths, threads=args.threads)
    res = R.read_result(p)
    get = {(m["name"], m.get("layer"), m.get("width")): m["value"] for m in res["metrics"]}
    print(f"{res['run']['model']} ({res['run']['scale']}): sparsity {get[('sparsity', None, None)]:.3f}, "
          f"dead {get[('dead_frac', None, None)]:.3f}, FFN FLOPs ratio {get[('flops_ratio', None, None)]:.3f}")
    if ("decode_speedup", None, None) in get:
        print(f"  decode speed-up (trained model, sparse/dense): {get[('decode_speedup', None, None)]:.2f}x")
    for w in res.get("widths") or []:
        print(f"  d={w['d']}: FFN {w['speedup']:.2f}x, layer {w['layer_speedup']:.2f}x (ideal {w['ideal']:.2f}x)")
    print(f"wrote {p}")
    return 0
