"""Trainer throughput: tokens/s and achieved FLOP/s of the training step, against this machine's fp32 matmul
peak measured in the same process (``make bench``).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from harness.train.config import TrainConfig
from models.registry import build_model


def _matmul_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def measure_throughput(scale: str = "small", steps: int = 20, threads: int | None = None,
                       model: str = "silu", warmup: int = 3) -> dict:
    """Trainer tokens/s and achieved FLOP/s, against this machine's fp32 matmul peak measured here.

    FLOPs per token follow the PaLM/nanoGPT convention: 6·N (N = parameters in matmuls: all but the
    embedding table) + 12·L·T·d for attention. Random tokens: the data pipeline is not measured."""
    prev = torch.get_num_threads()
    threads = threads or prev
    torch.set_num_threads(threads)
    try:
        cfg = TrainConfig.create(scale, model)
        net = build_model(cfg.scale, cfg.model, seed=0)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr)
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, net.cfg.vocab_size, (cfg.batch_size, cfg.seq_len + 1), generator=g)
        times = []
        for i in range(warmup + steps):
            t = time.perf_counter()
            loss = F.cross_entropy(net(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if i >= warmup:
                times.append(time.perf_counter() - t)
        mc = net.cfg
        n_matmul = net.num_params() - net.tok_embeddings.weight.numel()
        flops_tok = 6 * n_matmul + 12 * mc.n_layers * cfg.seq_len * mc.dim
        tok_s = cfg.batch_size * cfg.seq_len * len(times) / sum(times)
        peak = _matmul_peak(threads)
        return {"scale": scale, "model": model, "threads": threads, "batch_size": cfg.batch_size,
                "seq_len": cfg.seq_len, "steps": steps, "warmup_steps": warmup, "num_params": net.num_params(),
                "step_s_median": float(np.median(times)), "tokens_per_s": tok_s, "flops_per_token": flops_tok,
                "achieved_flops": tok_s * flops_tok, "matmul_peak_flops": peak,
                "fraction_of_peak": tok_s * flops_tok / peak, "dtype": "fp32", "device": "cpu"}
    finally:
        torch.set_num_threads(prev)
