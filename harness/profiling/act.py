"""The cost of the stochastic activation: forward + backward against plain SILU and RELU at training shapes.

    python -m harness bench act [--json]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.profiling.timing import interleaved, machine_info
from models.activations import stochastic_activation


def bench_act(shape=(32, 256, 344), threads: int = 1, repeats: int = 20, p: float = 0.7) -> dict:
    """Forward + backward of the stochastic activation vs plain SILU (interleaved medians)."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.randn(*shape, requires_grad=True)
        gout = torch.randn(*shape)
        gen = torch.Generator().manual_seed(0)

        def silu(_):
            F.silu(x).backward(gout)
            x.grad = None

        def stoch(_):
            stochastic_activation(x, p, "neg", "element", gen).backward(gout)
            x.grad = None

        def relu(_):
            F.relu(x).backward(gout)
            x.grad = None

        t = interleaved({"silu": silu, "stochastic": stoch, "relu": relu}, 1, repeats)
    finally:
        torch.set_num_threads(old)
    ratio = t["stochastic"]["median_ms"] / t["silu"]["median_ms"]
    return {"bench": "act", "shape": list(shape), "p": p, "threads": threads, "times": t,
            "silu_ms": t["silu"]["median_ms"], "stochastic_ms": t["stochastic"]["median_ms"],
            "ratio_vs_silu": ratio, "target": 1.5, "meets_target": ratio <= 1.5, **machine_info(threads)}
