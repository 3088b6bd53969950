"""Sparsity profile of a trained variant, and dense vs sparse decode speed → a "profile" result.

    >>> from harness.profiling.profile_run import run_profile
    >>> path = run_profile("tiny", "swi-ft-a0.1")            # trains first if needed   # doctest: +SKIP

(``python -m harness profile`` is the command line: ``harness.commands.profiling``.) What it measures, on
a fixed held-out token set (``harness.data.corpus.validation_tokens``) with the variant's inference
activation (RELU for Swi+FT and StochA):

- per layer (``harness.infer.sparsity``): the fraction of exact zeros (mean, and its distribution over
  tokens as quantiles), neurons never active (dead) and always active, the fraction with |a| < τ for τ in
  1e-3, 1e-2, 1e-1 (what a dense activation such as SILU would offer to a thresholding method), and
  per-neuron firing rates;
- FLOPs per token, dense vs sparse (dense gate + active rows of W3 and W2);
- decode tokens/s of the trained checkpoint, dense vs sparse (``harness.profiling.decode``): with the path
  ``enable_sparse`` chooses on this machine (and why), and with the sparse kernel forced;
- the FFN and decoder-layer speed-up (``harness.profiling.ffn``) at widths d = 1024, 2048, 4096 with the trained model's sparsity and
  per-neuron firing rates (tiny models are too small for the gain to show over per-op overhead).

The result goes to ``out/results/<scale>/<model>/s<seed>/profile.json`` (kind and suite "profile"); a
finished one is not recomputed unless ``--force``. With ``act`` (``--act relu``) the model is profiled with that
activation swapped in instead — zero-shot relufication of an imported SILU checkpoint — into
``profile.act-<act>.json``, recorded with ``eval_act_default: false`` so reports show it as its own row.
"""

from __future__ import annotations

import pathlib
import time

import torch

from harness import results as R
from harness.data.corpus import validation_tokens
from harness.infer.load import load_for_inference
from harness.infer.sparsity import TAUS, profile_model
from harness.paths import run_dir
from harness.profiling.decode import decode_benchmark
from harness.profiling.ffn import bench_ffn
from harness.profiling.settings import HEADLINE_WIDTH, VERSION, WIDTHS
from harness.provenance import provenance
from harness.train.checkpoint_files import final_checkpoint, sidecar_sha256
from harness.train.trainer import ensure_trained
from models import sparse as sp
from models.registry import get_variant


def width_benchmarks(sparsity: float, rates: list[float], widths=WIDTHS, repeats: int = 10,
                     threads: int = 1, **kw) -> list[dict]:
    """Synthetic FFN + decoder layer at each width with the trained model's sparsity and neuron rates."""
    from tqdm import tqdm

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
                m("decode_tokens_per_s", decode["tokens_per_s_kernel"], path="kernel", unit="tokens/s"),
                m("decode_speedup", decode["speedup"]),  # enable_sparse's choice: 1.0 when it kept dense
                m("decode_speedup_kernel", decode["speedup_kernel"])]  # the sparse kernel forced
    # Per width: the speed-up against torch's dense FFN ("vs torch dense"), against the same kernel with no
    # neuron skipped ("sparsity only", the one the byte bound applies to), and that bound.
    for w in widths:
        speed = {"ffn_speedup": w["speedup"], "ffn_speedup_same_gemv": w.get("speedup_same_gemv"),
                 "ffn_speedup_bound": w["ideal"], "layer_speedup": w["layer_speedup"]}
        out += [m(k, v, width=w["d"], sparsity=w["measured_sparsity"]) for k, v in speed.items() if v is not None]
        if w["d"] == HEADLINE_WIDTH:  # the headline rows carry no width key
            out += [m(k, v) for k, v in speed.items() if v is not None]
    return out


def run_profile(scale: str, model: str, seed: int = 0, force: bool = False, *, n_seqs: int = 32,
                seq_len: int | None = None, decode_tokens: int = 64, widths=WIDTHS, threads: int = 1,
                bench_kw: dict | None = None, act: str | None = None) -> pathlib.Path:
    """Profile a trained run (training it first if needed); returns the result path."""
    from models.config import ActSpec

    var = get_variant(model)
    act = None if act is None else str(ActSpec.parse(act))
    path = R.result_path(scale, var.name, seed, "profile" + R.act_tag(act))
    params = {"n_seqs": n_seqs, "seq_len": seq_len, "decode_tokens": decode_tokens, "widths": list(widths),
              "threads": threads, "taus": list(TAUS)}
    if path.exists() and not force:
        sha = sidecar_sha256(final_checkpoint(run_dir(scale, var.name, seed)))
        if R.finished_on(path, version=VERSION, params=params, sha256=sha):  # a corrupt one is redone
            print(f"profile exists: {path} (use --force to redo)")
            return path
    started, t0 = R.now_iso(), time.perf_counter()
    rd = ensure_trained(scale, var.name, seed=seed)
    net, info = load_for_inference(rd)
    if act is not None:
        net.set_activation(act)
    net.eval()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        L = min(seq_len or net.cfg.max_seq_len, net.cfg.max_seq_len, 256)
        # the held-out token set, in the run's own tokens (a fine-tuned Hugging Face checkpoint has its own)
        tokens = validation_tokens(n_seqs, L, seed=0, tokenizer=info.get("tok"))
        prof = profile_model(net, tokens)
        decode = None
        sparse_act = net.activation.sparse
        if sparse_act:
            decode = decode_benchmark(net, tokens[:1, : max(1, min(32, L // 2))], decode_tokens,
                                      sparsity=prof["sparsity"])
        wb = width_benchmarks(prof["sparsity"], [r for lay in prof["layers"] for r in lay["neuron_rates"]],
                              widths, threads=threads, **(bench_kw or {})) if sparse_act and widths else []
    finally:
        torch.set_num_threads(old_threads)
    run = {"scale": scale, "model": var.name, "seed": seed, "step": info.get("step"),
           "checkpoint": str(info.get("checkpoint")), "checkpoint_sha256": info.get("sha256"),
           "variant": var.to_dict(), "eval_act": str(net.activation)}
    if act is not None:
        run["eval_act_default"] = False
    suite = {"name": "profile", "version": VERSION, "backend": "torch-hooks",
             "dataset": {"name": "validation_tokens", "sha256": R.sha256_text(str(tokens.tolist()))},
             "params": params}
    layers = [{k: v for k, v in lay.items() if k != "neuron_rates"} for lay in prof["layers"]]
    prov = provenance(threads=threads, dtype="fp32", started_at=started, wall_s=time.perf_counter() - t0,
                        kernel=sp.kernel_available(), kernel_error=sp.kernel_error())
    res = R.make_result("profile", run=run, suite=suite, metrics=build_metrics(prof, decode, wb),
                        provenance=prov, layers=layers, flops=prof["flops"], decode=decode, widths=wb,
                        neuron_rates=[lay["neuron_rates"] for lay in prof["layers"]])
    return R.write_result(res, path)
