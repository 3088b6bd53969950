"""Whole-model greedy decoding, dense vs sparse FFN, at the paper's and real models' shapes.

    python -m harness bench decode --shape 1.5b --sparsity 0.9 --threads 1 --json
    python -m harness bench decode --shape smollm2-135m --sparsity 0.9
    python -m harness bench decode --shape small/relu/s0            # a trained run: its weights, its sparsity
    python -m harness bench decode --shape hf-smollm2-135m-instruct/silu --act relu   # zero-shot RELU swapped in
    python -m harness bench decode --shape 1.5b --profile out/results/small/relu/s0/profile.json

What one run measures, batch 1, with a KV cache (default: 256-token prompt, 128 new tokens):

- **our decoding, dense and sparse, on the same weights** (``enable_sparse(model, policy="always")``: the
  kernel is what is measured here; switching to dense keeps the W2ᵀ copies, built before any timing),
  interleaved, ``repeats`` times each; the prompt is prefilled once and
  each run decodes from the same cache state, so prefill is never timed;
- **transformers' ``generate``** on the same weight tensors (shared, not copied), greedy, fixed length;
  its prefill cannot be separated, so its decode rate is (T(new) − T(1)) / (new − 1), both timed here;
- **the time split** of one extra decoding per path, with hooks on the attention, FFN and output layer
  modules (the rest: embedding, norms, the loop), and the weight (+ KV cache) **bytes** each part reads per
  token, so the gain can be held against what the bytes allow: ``bound`` = dense bytes ÷ sparse bytes of
  the whole model at the measured sparsity, and ``bound_time_split`` = the dense time with its FFN share
  divided by the FFN byte bound 3/(1+2(1−s)) (Amdahl's law on the measured split).

Random weights (the named shapes) get a gate bias per FFN neuron so that neuron j fires with probability
r_j: the RMS-normalised FFN input has norm √d, so ``w1_j·x`` is close to N(0, |w1_j|²) and a bias of
``−Φ⁻¹(1 − r_j)·|w1_j|`` leaves it positive with probability r_j. r_j = 1 − s for every neuron
(``--sparsity``), or a trained model's per-neuron rates (``--profile``). Both paths and transformers
(``mlp_bias=True``, zero up/down biases) add the same bias, so all three compute the same function; the
measured sparsity of the decoded tokens is reported beside the requested one.
"""

from __future__ import annotations

import dataclasses
import pathlib
import statistics
import time

import torch

from harness.profiling.ffn import firing_quantile, neuron_rates
from harness.profiling.timing import machine_info
from models import sparse as sp
from models.config import ModelConfig
from models.llama import Attention, FeedForward, KVCache, Transformer

# Shapes with random weights. smollm2-135m: HuggingFaceTB/SmolLM2-135M's config (LlamaForCausalLM).
SHAPES = ("small", "smollm2-135m", "1.5b", "3b")
_SMOLLM2 = ModelConfig(dim=576, n_layers=30, n_heads=9, n_kv_heads=3, ffn_dim=1536, vocab_size=49152,
                       max_seq_len=2048, rope_theta=100000.0, tie_embeddings=True)
LLAMA_SHAPES = {"smollm2-135m", "1.5b", "3b"}  # compared with transformers' generate by default


def shape_config(shape: str) -> ModelConfig:
    if shape == "smollm2-135m":
        return _SMOLLM2
    from models.registry import get_scale

    return get_scale(shape).model


# ---- the model ---------------------------------------------------------------------------------------
def random_model(cfg: ModelConfig, rates_per_layer: list[torch.Tensor], dtype, seed: int = 0) -> Transformer:
    """A RELU model with random weights whose FFN neurons fire at the given rates (gate bias, see above)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        m = Transformer(cfg, "relu", seed=seed)
        for layer, rates in zip(m.layers, rates_per_layer):
            w1 = layer.feed_forward.w1
            w1.bias = torch.nn.Parameter(-firing_quantile(rates) * w1.weight.norm(dim=1), requires_grad=False)
    return m.to(dtype).eval()


def _run_model(spec: str, dtype, act: str | None = None):
    """A trained run ``SCALE/MODEL[/sSEED]``: its weights with the inference activation (or ``act``)."""
    from harness.infer.load import load_for_inference
    from harness.paths import run_dir

    parts = spec.split("/")
    if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].startswith("s")):
        raise ValueError(f"unknown shape {spec!r}; valid: {', '.join(SHAPES)}, or a run SCALE/MODEL[/sSEED]")
    seed = int(parts[2][1:]) if len(parts) == 3 else 0
    net, _ = load_for_inference(run_dir(parts[0], parts[1], seed))
    if act is not None:
        net.set_activation(act)
    return net.to(dtype).eval()


def profile_rates(path: str | pathlib.Path) -> tuple[float, list[float]]:
    """(sparsity, per-neuron firing rates of every layer) of a profile result."""
    from harness.results import read_result

    res = read_result(path)
    if res.get("kind") != "profile" or not res.get("neuron_rates"):
        raise ValueError(f"{path} is not a profile result with neuron rates (python -m harness profile)")
    s = next(m["value"] for m in res["metrics"] if m["name"] == "sparsity" and "layer" not in m)
    return s, [r for layer in res["neuron_rates"] for r in layer]


# ---- transformers on the same tensors ----------------------------------------------------------------
def hf_twin(model: Transformer):
    """transformers' ``LlamaForCausalLM`` holding the same weight tensors (the rotated q/k rows are the only
    copies), built on the meta device so nothing is allocated twice; the gate bias via ``mlp_bias``."""
    from transformers import LlamaForCausalLM

    from harness.interop.hf import hf_act, hf_config, hf_weights

    cfg = model.cfg
    biased = model.layers[0].feed_forward.w1.bias is not None
    hcfg = hf_config(cfg, hf_act(model), bos_id=None, eos_id=None, pad_id=None)
    hcfg.mlp_bias = biased
    with torch.device("meta"):
        hf = LlamaForCausalLM(hcfg)
    sd = {hk: w.contiguous() for hk, w in hf_weights(model).items()}  # contiguous: the shared ones already are
    if biased:
        for i, layer in enumerate(model.layers):
            ff = layer.feed_forward
            sd[f"model.layers.{i}.mlp.gate_proj.bias"] = ff.w1.bias.detach()
            sd[f"model.layers.{i}.mlp.up_proj.bias"] = torch.zeros_like(ff.w1.bias)
            sd[f"model.layers.{i}.mlp.down_proj.bias"] = torch.zeros(cfg.dim, dtype=ff.w1.bias.dtype)
    if cfg.tie_embeddings:
        sd.pop("lm_head.weight", None)
    hf.load_state_dict(sd, strict=False, assign=True)
    if cfg.tie_embeddings:
        hf.lm_head.weight = hf.model.embed_tokens.weight
    hf.model.rotary_emb = type(hf.model.rotary_emb)(config=hcfg)  # its buffers were on the meta device
    left = [n for n, t in [*hf.named_parameters(), *hf.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"transformers' twin left tensors unset: {left[:5]}")
    return hf.eval()


# ---- timing ------------------------------------------------------------------------------------------
class PartTimer:
    """Wall time per part of a forward pass (attention, ffn, output), from module hooks."""

    def __init__(self, model: Transformer):
        self.ms = {"attention": 0.0, "ffn": 0.0, "output": 0.0}
        self.zeros = self.acts = 0
        self._t0 = {}
        self._hooks = []
        for name, kinds in (("attention", (Attention,)), ("ffn", (FeedForward,))):
            for mod in model.modules():
                if isinstance(mod, kinds):
                    self._watch(mod, name)
        self._watch(model.output, "output")
        for mod in model.modules():
            if isinstance(mod, FeedForward):
                self._hooks.append(mod.act.register_forward_hook(self._count))

    def _watch(self, mod, name):
        self._hooks.append(mod.register_forward_pre_hook(lambda m, a: self._t0.__setitem__(id(m), time.perf_counter())))
        self._hooks.append(mod.register_forward_hook(
            lambda m, a, o: self.ms.__setitem__(name, self.ms[name] + 1e3 * (time.perf_counter() - self._t0[id(m)]))))

    def _count(self, mod, inp, out):
        self.zeros += int((out == 0).sum())
        self.acts += out.numel()

    def remove(self):
        for h in self._hooks:
            h.remove()


def _decode(model, cache: KVCache, first: torch.Tensor, prompt_len: int, n: int) -> tuple[float, list[int]]:
    """Greedy decoding of n tokens from the cache's prompt state; (seconds, tokens)."""
    cache.length = prompt_len
    cache.valid[:, prompt_len:] = False
    tok, out = first, []
    t0 = time.perf_counter()
    for _ in range(n):
        tok = model(tok, cache=cache)[:, -1:].argmax(-1)
        out.append(int(tok))
    return time.perf_counter() - t0, out


def _stats(rates: list[float]) -> dict:
    s = sorted(rates)
    return {"median": statistics.median(s), "min": s[0], "max": s[-1], "runs": rates}


def bytes_per_token(cfg: ModelConfig, itemsize: int, density: float, ctx: float) -> dict:
    """Weight (and KV cache) bytes one decoded token reads, per part; ``density`` = 1 − FFN sparsity."""
    d, F_, L, hd = cfg.dim, cfg.ffn_dim, cfg.n_layers, cfg.head_dim
    attn_w = d * hd * (2 * cfg.n_heads + 2 * cfg.kv_heads)
    kv = 2 * cfg.kv_heads * hd * ctx
    dense = {"ffn": 3 * d * F_ * L, "attention": (attn_w + kv) * L, "output": d * cfg.vocab_size,
             "rest": d * (2 * L + 2)}  # the embedding row and the norm gains
    sparse = dict(dense, ffn=d * F_ * (1 + 2 * density) * L)
    return {k: {p: int(v * itemsize) for p, v in b.items()} for k, b in (("dense", dense), ("sparse", sparse))}


@torch.no_grad()
def bench_decode(shape: str = "1.5b", sparsity: float | None = 0.9, *, profile: str | None = None,
                 threads: int = 1, dtype: str = "fp32", prompt_len: int = 256, new_tokens: int = 128,
                 repeats: int = 3, hf: bool | None = None, seed: int = 0, act: str | None = None) -> dict:
    """Dense vs sparse whole-model decoding (and transformers' ``generate``); returns the JSON record.

    ``act`` (a run only): the FFN activation to decode with instead of the recipe's inference one, e.g.
    ``relu`` on an imported SILU checkpoint (zero-shot relufication)."""
    tdt = {"fp32": torch.float32, "bf16": torch.bfloat16}.get(dtype)
    if tdt is None:
        raise ValueError(f"unknown dtype {dtype!r}; valid: fp32, bf16")
    if sparsity is not None and not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if threads < 1 or repeats < 1 or new_tokens < 2 or prompt_len < 1:
        raise ValueError("need threads >= 1, repeats >= 1, new_tokens >= 2, prompt_len >= 1")
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t_build = time.perf_counter()
        rec = {"bench": "decode", "shape": shape, "dtype": dtype, "threads": threads, "repeats": repeats}
        if shape in SHAPES and act is not None:
            raise ValueError("--act applies to a run SCALE/MODEL[/sSEED]; random-weight shapes use RELU")
        if shape in SHAPES:
            cfg = shape_config(shape)
            cfg = dataclasses.replace(cfg, max_seq_len=max(cfg.max_seq_len, prompt_len + new_tokens))
            if profile:
                s_req, src = profile_rates(profile)
                rec["profile"] = str(profile)
            else:
                s_req, src = (0.9 if sparsity is None else sparsity), None
            rates = [neuron_rates(cfg.ffn_dim, s_req, src, seed=seed + i) for i in range(cfg.n_layers)]
            model = random_model(cfg, rates, tdt, seed)
            rec.update(weights="random", sparsity_requested=s_req)
        else:
            if act is not None:
                from models.config import ActSpec

                act = str(ActSpec.parse(act))
                if not ActSpec.parse(act).sparse:
                    raise ValueError(f"--act {act} gives no exact zeros to skip: use relu")
            model = _run_model(shape, tdt, act)
            rec["act"] = str(model.activation)
            cfg = model.cfg
            prompt_len = min(prompt_len, cfg.max_seq_len - new_tokens)
            if prompt_len < 1:
                raise ValueError(f"max_seq_len {cfg.max_seq_len} leaves no room for {new_tokens} new tokens")
            rec.update(weights="checkpoint", sparsity_requested=None)
        rec.update(config=cfg.to_dict(), params=model.num_params(), prompt_len=prompt_len,
                   new_tokens=new_tokens, build_s=time.perf_counter() - t_build, **machine_info(threads))
        rec.update(_measure(model, cfg, tdt, prompt_len, new_tokens, repeats, seed,
                            hf=(shape in LLAMA_SHAPES) if hf is None else hf))
        return rec
    finally:
        torch.set_num_threads(old_threads)


def _measure(model, cfg, tdt, prompt_len, new_tokens, repeats, seed, hf: bool) -> dict:
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, cfg.vocab_size, (1, prompt_len), generator=g)
    cache = KVCache(cfg, 1, max_len=prompt_len + new_tokens, dtype=tdt)
    sp.enable_sparse(model, False)
    logits = model(prompt, cache=cache)  # the prefill, once: every run decodes from this cache state
    first = logits[:, -1:].argmax(-1)
    for path in ("dense", "sparse"):  # warm-up; the sparse one builds the W2ᵀ copies
        sp.enable_sparse(model, path == "sparse", policy="always", release=False)
        _decode(model, cache, first, prompt_len, 2)
    twin = hf_twin(model) if hf else None
    out = {"hf": None}
    if twin is not None:
        hl = twin(prompt).logits[:, -1].float()
        out["max_abs_logit_diff_hf"] = float((hl - logits[:, -1].float()).abs().max())
    secs = {"dense": [], "sparse": [], "hf_n": [], "hf_1": []}
    toks = {}
    from tqdm import tqdm

    for r in tqdm(range(repeats), desc=f"decode {cfg.dim}x{cfg.n_layers}", leave=False):
        for path in (("dense", "sparse") if r % 2 == 0 else ("sparse", "dense")):
            sp.enable_sparse(model, path == "sparse", policy="always", release=False)
            t, toks[path] = _decode(model, cache, first, prompt_len, new_tokens)
            secs[path].append(t)
        if twin is not None:
            for n, key in ((new_tokens, "hf_n"), (1, "hf_1")):
                t0 = time.perf_counter()
                twin.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n, min_new_tokens=n,
                              do_sample=False, use_cache=True, pad_token_id=0)
                secs[key].append(time.perf_counter() - t0)
    tps = {p: [new_tokens / t for t in secs[p]] for p in ("dense", "sparse")}
    out["tokens_per_s"] = {p: _stats(v) for p, v in tps.items()}
    sd = statistics.median(secs["dense"]) / statistics.median(secs["sparse"])
    pairs = [a / b for a, b in zip(secs["dense"], secs["sparse"])]
    out.update(speedup=sd, speedup_runs=pairs, speedup_min=min(pairs), speedup_max=max(pairs))
    diverge = [i for i, (a, b) in enumerate(zip(toks["dense"], toks["sparse"])) if a != b]
    out["greedy_agree"] = (diverge[0] if diverge else new_tokens) / new_tokens
    if twin is not None:
        hf_tps = [(new_tokens - 1) / max(a - b, 1e-9) for a, b in zip(secs["hf_n"], secs["hf_1"])]
        out["tokens_per_s"]["hf"] = _stats(hf_tps)
        out["hf"] = {"method": "(T(new) - T(1)) / (new - 1) of generate, prefill cancels",
                     "generate_s": {"new": secs["hf_n"], "one": secs["hf_1"]}}
        out["vs_hf"] = out["tokens_per_s"]["dense"]["median"] / out["tokens_per_s"]["hf"]["median"]
        out["vs_hf_sparse"] = out["tokens_per_s"]["sparse"]["median"] / out["tokens_per_s"]["hf"]["median"]
    out.update(_split(model, cfg, tdt, cache, first, prompt_len, min(new_tokens, 32)))
    sp.enable_sparse(model, False)
    return out


def _split(model, cfg, tdt, cache, first, prompt_len, n) -> dict:
    """Per-part ms per token of one hooked decoding per path, the bytes per part and the bounds."""
    parts, density = {}, None
    for path in ("dense", "sparse"):
        sp.enable_sparse(model, path == "sparse", policy="always", release=False)
        timer = PartTimer(model)
        try:
            total, _ = _decode(model, cache, first, prompt_len, n)
        finally:
            timer.remove()
        ms = {k: v / n for k, v in timer.ms.items()}
        ms["rest"] = max(0.0, 1e3 * total / n - sum(ms.values()))
        ms["total"] = 1e3 * total / n
        parts[path] = ms
        density = 1 - timer.zeros / max(timer.acts, 1)
    isz = torch.finfo(tdt).bits // 8
    byts = bytes_per_token(cfg, isz, density, prompt_len + n / 2)
    ffn_bound = sp.ideal_speedup(1 - density)
    d = parts["dense"]
    return {"measured_sparsity": 1 - density, "parts_ms_per_token": parts, "bytes_per_token": byts,
            "ffn_bound": ffn_bound,
            "bound": sum(byts["dense"].values()) / sum(byts["sparse"].values()),
            "bound_time_split": d["total"] / (d["total"] - d["ffn"] + d["ffn"] / ffn_bound),
            "ffn_share_dense": d["ffn"] / d["total"],
            "ffn_speedup_in_model": d["ffn"] / max(parts["sparse"]["ffn"], 1e-9)}


def summary(r: dict) -> str:
    tp = r["tokens_per_s"]
    line = (f"decode {r['shape']} ({r['params'] / 1e6:.0f}M params, {r['dtype']}, {r['threads']} thread(s), "
            f"sparsity {r['measured_sparsity']:.3f}): dense {tp['dense']['median']:.2f} tok/s, sparse "
            f"{tp['sparse']['median']:.2f} tok/s = {r['speedup']:.2f}x [{r['speedup_min']:.2f}-{r['speedup_max']:.2f}]"
            f", bound {r['bound']:.2f}x (bytes) / {r['bound_time_split']:.2f}x (time split)")
    if "hf" in tp:
        line += f"; transformers generate {tp['hf']['median']:.2f} tok/s: ours dense = {r['vs_hf']:.2f}x"
    parts = " ".join(f"{k} {v:.1f}" for k, v in r["parts_ms_per_token"]["dense"].items())
    sparts = " ".join(f"{k} {v:.1f}" for k, v in r["parts_ms_per_token"]["sparse"].items())
    return f"{line}\n  ms/token dense: {parts}\n  ms/token sparse: {sparts}"

