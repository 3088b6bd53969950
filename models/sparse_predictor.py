"""Neuron predictors (Deja Vu, PowerInfer): skip most of the gate as well, approximately. Opt-in only.

The exact sparse path must compute the whole gate ``W1 x`` to find the zeros, which caps it at
3 / (1 + 2(1−s)) (2.5× at s = 0.9). A small low-rank classifier per FFN guesses which neurons will fire
from the FFN input; only those rows of W1, W3 and W2ᵀ are read:

    y ≈ Σ_{j ∈ P(x)} relu(<W1_j, x>) · <W3_j, x> · W2ᵀ_j,     P(x) = {j : (U V x)_j + b_j > t}

A neuron that fires but is not in P is dropped (the approximation); one in P that does not fire costs its
W1 row only. Bytes per token: ``d·|P| + 2·d·|P ∩ fired| + (d + F)·r`` against ``3·d·F`` dense. The predictor of each FFN
is trained on the run's own activations and its threshold set for a target recall
(``harness.profiling.predictor``, ``python -m harness predictor``):

    >>> import torch
    >>> from models.registry import build_model
    >>> from models.sparse import enable_sparse
    >>> m = build_model("tiny", "relu").eval()
    >>> preds = [NeuronPredictor(64, 172, rank=8) for _ in m.layers]
    >>> _ = enable_sparse(m, predictor=preds)        # every FFN now runs predicted_ffn under no_grad
    >>> with torch.no_grad():
    ...     m(torch.randint(0, 264, (1, 4))).shape
    torch.Size([1, 4, 264])

The forward that uses them is ``models.sparse.predicted_ffn``: batch 1 on CPU reads only the predicted
rows (``sb_rows_gemv`` for the gate, then the exact path's gather); other batches compute the same
function densely (the dense gate, masked by the prediction), so evaluations at batch 16 score what
batch-1 decoding produces.
"""

from __future__ import annotations

import torch
from torch import nn


class NeuronPredictor(nn.Module):
    """Low-rank logits ``up(down(x))`` (d → rank → F) of "neuron j fires"; ``threshold`` per neuron set."""

    def __init__(self, dim: int, ffn_dim: int, rank: int = 32):
        super().__init__()
        self.down = nn.Linear(dim, rank, bias=False)
        self.up = nn.Linear(rank, ffn_dim)
        self.register_buffer("threshold", torch.tensor(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))

    def predict(self, x2: torch.Tensor) -> torch.Tensor:
        """(N, F) bool: the neurons predicted to fire for each row of ``x2`` (N, d)."""
        return self(x2.to(self.down.weight.dtype)) > self.threshold

    @property
    def rank(self) -> int:
        return self.down.out_features

    def extra_bytes(self, itemsize: int = 4) -> int:
        """Weight bytes the predictor itself reads per token."""
        return sum(p.numel() for p in self.parameters()) * itemsize


def attach(model: nn.Module, predictors) -> list:
    """Give each FeedForward of ``model`` (in order) its predictor; returns the FeedForwards."""
    from models.llama import FeedForward

    ffs = [m for m in model.modules() if isinstance(m, FeedForward)]
    predictors = list(predictors)
    if len(predictors) != len(ffs):
        raise ValueError(f"{len(predictors)} predictors for {len(ffs)} FFNs")
    for ff, p in zip(ffs, predictors):
        w = ff.w1.weight
        if (p.down.in_features, p.up.out_features) != (w.shape[1], w.shape[0]):
            raise ValueError(f"a predictor for d={p.down.in_features}, F={p.up.out_features} does not fit an "
                             f"FFN of d={w.shape[1]}, F={w.shape[0]}")
        ff.__dict__["predictor"] = p.to(w.device).eval()  # plain attribute: never in the model's state dict
    return ffs


def save_predictors(predictors, path, meta: dict) -> None:
    """``{"meta", "rank", "dims", "state"}`` with torch.save (atomic: temp file, then rename)."""
    import os
    import pathlib
    import tempfile

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"meta": meta, "dims": [(p.down.in_features, p.up.out_features, p.rank) for p in predictors],
            "state": [p.state_dict() for p in predictors]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    torch.save(blob, tmp)
    os.replace(tmp, path)


def load_predictors(path) -> tuple[list[NeuronPredictor], dict]:
    """(predictors, meta) saved by :func:`save_predictors`; a damaged file is a ValueError naming it."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        preds = []
        for (d, f, r), st in zip(blob["dims"], blob["state"]):
            p = NeuronPredictor(d, f, r)
            p.load_state_dict(st)
            preds.append(p.eval())
        return preds, blob["meta"]
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a damaged file
        raise ValueError(f"corrupt predictor file {path}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
