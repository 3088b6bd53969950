"""Decoding speed of ``harness.infer.generate`` against transformers' ``LlamaForCausalLM.generate`` built
from the same weights, in the same process (``python -m harness bench all`` includes it)::

    python -c "from harness.profiling.vs_hf import bench_vs_hf; print(bench_vs_hf())"
"""

from __future__ import annotations

import statistics
import time

import torch

from harness.infer.generate import generate_ids
from harness.infer.load import load_for_inference
from harness.interop.hf import to_hf_llama
from harness.paths import run_dir
from harness.train.checkpoint_files import final_checkpoint
from models.registry import build_model, get_variant


@torch.no_grad()
def bench_vs_hf(scale: str = "small", model: str = "silu", *, batch_size: int = 1, prompt_len: int = 32,
                new_tokens: int = 64, repeats: int = 3, threads: int | None = None, seed: int = 0) -> dict:
    """Decode tokens/s of our ``generate`` vs transformers' ``generate`` on the same weights, same run.

    Greedy, fixed length (EOS ignored by both), random prompts; runs interleaved, medians reported. Also
    checks the two models' logits agree (``max_abs_logit_diff``) and how long their greedy outputs agree.
    """
    if threads:
        torch.set_num_threads(threads)
    weights = "random"
    if final_checkpoint(run_dir(scale, model, seed)) is not None:  # the trained run's weights if there are some
        ours, _ = load_for_inference(run_dir(scale, model, seed))
        weights = "checkpoint"
    if weights == "random":
        ours = build_model(scale, model, seed=seed, act=get_variant(model).inference_act)
        with torch.no_grad():  # N(0, 0.02) init gives near-tied logits: greedy outputs would then differ
            for p in ours.parameters():  # on rounding alone; larger weights make the comparison meaningful
                if p.dim() > 1:
                    p.mul_(8.0)
    ours.eval()
    hf = to_hf_llama(ours)
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randint(0, 256, (batch_size, prompt_len), generator=g)
    max_diff = float((ours(prompts) - hf(prompts).logits).abs().max())

    def run_ours():
        out = generate_ids(ours, prompts.tolist(), max_new_tokens=new_tokens, eos_id=None)
        return torch.tensor(out)

    def run_hf():
        out = hf.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=new_tokens,
                          min_new_tokens=new_tokens, do_sample=False, use_cache=True, pad_token_id=258)
        return out[:, prompt_len:]

    a, b = run_ours(), run_hf()  # also the warm-up of both
    # Tokens until the first disagreement: float rounding can flip a near-tie, after which the two
    # continuations legitimately diverge, so a prefix fraction says more than a yes/no.
    diverge = (a != b).any(0).nonzero()
    agree = (int(diverge[0]) if len(diverge) else new_tokens) / new_tokens
    t_ours, t_hf = [], []
    for _ in range(repeats):  # interleaved so both see the same machine load
        t0 = time.perf_counter()
        run_ours()
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_hf()
        t_hf.append(time.perf_counter() - t0)
    toks = batch_size * new_tokens
    ours_tps, hf_tps = toks / statistics.median(t_ours), toks / statistics.median(t_hf)
    import transformers

    return {"name": "decode_vs_hf", "scale": scale, "model": model, "weights": weights,
            "batch_size": batch_size,
            "prompt_len": prompt_len, "new_tokens": new_tokens, "repeats": repeats, "warmup": 1,
            "threads": torch.get_num_threads(), "dtype": "fp32", "ours_tokens_per_s": ours_tps,
            "hf_tokens_per_s": hf_tps, "speedup_vs_hf": ours_tps / hf_tps,
            "max_abs_logit_diff": max_diff, "greedy_prefix_agree": agree,
            "transformers": transformers.__version__, "times_ours_s": t_ours, "times_hf_s": t_hf}
