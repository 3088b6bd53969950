"""Train a neuron predictor per FFN on a run's own activations, set it to a recall, and measure it.

    python -m harness predictor --model relu --scale small --seed 0 [--rank 32] [--recall 0.99]
    python -m harness eval --model relu --scale small --predictor     # quality with it, beside the exact path

(``models.sparse_predictor`` says what a predictor is; this module makes and measures one.)

1. **Activations**: the FFN inputs and which neurons fire, at the recipe's inference activation, over
   held-out token windows (``validation_tokens``, seed 1 to train, seed 0 to measure: disjoint windows).
2. **Training**: per FFN, a rank-r classifier ``up(down(x))`` with binary cross-entropy, positives
   up-weighted by the negatives/positives ratio (so rare firing is not ignored), Adam, minibatches.
3. **Threshold**: the (1 − recall) quantile of the logits of the neurons that fire on the training
   tokens, so at least ``recall`` of them are kept there; the measurement tokens report what it gives.
4. **Measured**, per layer and overall: recall (firing neurons kept), false-positive rate (silent
   neurons read anyway), predicted density |P|/F against the true 1 − s; and the FFN speed-up at
   d = 2048 with that density and recall (random weights, as ``bench ffn``), against torch's dense FFN
   and the exact sparse path, in one interleaved run.

Writes ``<run>/predictor.pt`` and the result ``out/results/<scale>/<model>/s<seed>/predictor.json``. The
quality cost on every suite comes from ``eval --predictor`` (``<suite>.pred.json``, rows labelled "+
predictor" in the tables), compared item by item with the exact path.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from harness import results as R
from harness.data.corpus import validation_tokens
from harness.paths import run_dir
from harness.profiling.ffn import ffn_config, gate_inputs, make_blocks, neuron_rates
from harness.profiling.settings import MIN_STREAM_BYTES
from harness.profiling.timing import interleaved, machine_info, stream_bytes
from harness.provenance import provenance
from models import sparse as sp
from models.llama import FeedForward
from models.sparse_predictor import NeuronPredictor, save_predictors

VERSION = "1"


def predictor_path(scale: str, model: str, seed: int):
    return run_dir(scale, model, seed) / "predictor.pt"


@torch.no_grad()
def collect(model, tokens: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per FFN: (inputs (n, d), fired (n, F) bool) over ``tokens`` (B, T)."""
    ffs = [m for m in model.modules() if isinstance(m, FeedForward)]
    xs, ys = [[] for _ in ffs], [[] for _ in ffs]
    hooks = []
    for i, ff in enumerate(ffs):
        hooks.append(ff.register_forward_pre_hook(lambda m, a, i=i: xs[i].append(a[0].reshape(-1, a[0].shape[-1]))))
        hooks.append(ff.act.register_forward_hook(lambda m, a, o, i=i: ys[i].append((o != 0).reshape(-1, o.shape[-1]))))
    try:
        sp.enable_sparse(model, False)
        for b in range(0, tokens.shape[0], 8):
            model(tokens[b:b + 8])
    finally:
        for h in hooks:
            h.remove()
    return [(torch.cat(x).float(), torch.cat(y)) for x, y in zip(xs, ys)]


def train_one(x: torch.Tensor, y: torch.Tensor, rank: int, recall: float, steps: int = 400, batch: int = 1024,
              lr: float = 3e-3, seed: int = 0) -> NeuronPredictor:
    """A predictor for one FFN, its threshold set so that ``recall`` of the firing neurons in (x, y) pass."""
    torch.manual_seed(seed)
    p = NeuronPredictor(x.shape[1], y.shape[1], rank)
    yf = y.float()
    pos = yf.mean().clamp(1e-4, 1 - 1e-4)
    weight = ((1 - pos) / pos).clamp(max=50.0)
    opt = torch.optim.Adam(p.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    with torch.enable_grad():
        for _ in range(steps):
            i = torch.randint(0, x.shape[0], (min(batch, x.shape[0]),), generator=g)
            loss = F.binary_cross_entropy_with_logits(p(x[i]), yf[i], pos_weight=weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        fired = p(x)[y]
        p.threshold.fill_(float(torch.quantile(fired, 1 - recall)) if fired.numel() else 0.0)
    return p.eval()


@torch.no_grad()
def score(p: NeuronPredictor, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Recall, false-positive rate and predicted density of ``p`` on (x, y)."""
    pred = p.predict(x)
    tp = (pred & y).sum().item()
    return {"recall": tp / max(int(y.sum()), 1), "fp_rate": (pred & ~y).sum().item() / max(int((~y).sum()), 1),
            "predicted_density": pred.float().mean().item(), "true_density": y.float().mean().item(),
            "tokens": x.shape[0]}


class _GivenSets(NeuronPredictor):
    """A predictor of realistic cost (its own forward runs) whose set is given: the speed benchmark's."""

    def __init__(self, d, f, rank):
        super().__init__(d, f, rank)
        self.mask = None

    def predict(self, x2):
        self(x2)  # pay for the prediction
        return self.mask


@torch.no_grad()
def bench_predicted(d: int = 2048, sparsity: float = 0.9, predicted_density: float = 0.15, recall: float = 0.99,
                    rank: int = 32, threads: int = 1, repeats: int = 5, min_bytes: float | None = None,
                    tokens: int = 8, seed: int = 0) -> dict:
    """FFN time at batch 1: torch dense, the exact sparse path and the predicted path whose sets keep
    ``recall`` of the firing neurons and have ``predicted_density`` of F in all (random weights).

    Each weight copy gets ``tokens`` different inputs, each with its own firing and predicted set, so
    neither sparse path re-reads the rows it read the call before (as in decoding), and the copies
    together exceed twice the last-level cache."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        cfg = ffn_config(d)
        Fd = cfg.ffn_dim
        n = max(3, int(stream_bytes(MIN_STREAM_BYTES) if min_bytes is None else min_bytes) // (3 * d * Fd * 4) + 1)
        ffs = make_blocks(cfg, neuron_rates(Fd, sparsity), torch.float32, n, seed=seed)
        for ff in ffs:
            ff.__dict__["predictor"] = _GivenSets(d, Fd, rank)
            sp.w2_transposed(ff)
        xs = iter(gate_inputs(n * tokens, 1, d, torch.float32, seed=seed + 1))
        g = torch.Generator().manual_seed(seed + 2)
        items = []  # (copy, input, predicted set); token-major, so consecutive items use different copies
        for _ in range(tokens):
            for c, ff in enumerate(ffs):
                x = next(xs)
                fired = F.relu(F.linear(x[0], ff.w1.weight))[0] != 0
                on, off = fired.nonzero().squeeze(1), (~fired).nonzero().squeeze(1)
                keep = on[torch.randperm(on.numel(), generator=g)[: round(recall * on.numel())]]
                extra = max(0, round(predicted_density * Fd) - keep.numel())
                mask = torch.zeros(1, Fd, dtype=torch.bool)
                mask[0, torch.cat([keep, off[torch.randperm(off.numel(), generator=g)[:extra]]])] = True
                items.append((c, x, mask))
        paths = {"dense": None, "exact": sp.sparse_ffn, "predicted": sp.predicted_ffn}

        def runner(fwd):
            def run(i):
                c, x, mask = items[i]
                ffs[c].predictor.mask = mask
                ffs[c].sparse_forward = fwd
                ffs[c](x)
            return run

        t = interleaved({k: runner(f) for k, f in paths.items()}, len(items), repeats)
        ms = {k: v["median_ms"] for k, v in t.items()}
        # Bytes per token: the predictor, W1 rows of the predicted set, W3 and W2ᵀ rows of the firing
        # neurons it kept (a predicted neuron that stays silent costs its W1 row only).
        kept = recall * (1 - sparsity) * Fd
        pred_bytes = 4 * (d * round(predicted_density * Fd) + 2 * d * kept + (d + Fd) * rank)
        return {"d": d, "ffn_dim": Fd, "sparsity": sparsity, "predicted_density": predicted_density,
                "recall": recall, "rank": rank, "copies": n, "tokens_per_copy": tokens, "times": t,
                **machine_info(threads),
                "speedup_vs_dense": ms["dense"] / ms["predicted"], "speedup_vs_exact": ms["exact"] / ms["predicted"],
                "exact_speedup": ms["dense"] / ms["exact"], "bound": 3 * d * Fd * 4 / pred_bytes,
                "exact_bound": sp.ideal_speedup(sparsity)}
    finally:
        torch.set_num_threads(old)


def run_predictor(scale: str, model: str, seed: int = 0, *, rank: int = 32, recall: float = 0.99,
                  n_train: int = 64, n_eval: int = 32, steps: int = 400, bench: bool = True,
                  threads: int = 1) -> tuple:
    """Train, save, measure; returns (result path, predictor path)."""
    from harness.infer.load import load_for_inference

    if not 0.0 < recall <= 1.0:
        raise ValueError(f"recall must be in (0, 1], got {recall}")
    if rank < 1:
        raise ValueError(f"rank must be at least 1, got {rank}")
    started, t0 = R.now_iso(), time.perf_counter()
    net, info = load_for_inference(run_dir(scale, model, seed))
    if not net.activation.sparse:
        raise ValueError(f"{model} runs {net.activation} at inference: no exact zeros to predict")
    L = min(net.cfg.max_seq_len, 256)
    train_data = collect(net, validation_tokens(n_train, L, seed=1, tokenizer=info.get("tok")))
    eval_data = collect(net, validation_tokens(n_eval, L, seed=0, tokenizer=info.get("tok")))
    preds, layers = [], []
    from tqdm import tqdm

    for i, ((x, y), (xv, yv)) in enumerate(tqdm(list(zip(train_data, eval_data)), desc="predictors", leave=False)):
        p = train_one(x, y, rank, recall, steps=steps, seed=seed + i)
        preds.append(p)
        layers.append({"layer": i, **score(p, xv, yv)})
    meta = {"scale": scale, "model": model, "seed": seed, "rank": rank, "recall_target": recall,
            "checkpoint_sha256": info.get("sha256"), "version": VERSION}
    ppath = predictor_path(scale, model, seed)
    save_predictors(preds, ppath, meta)
    overall = {k: sum(lay[k] * lay["tokens"] for lay in layers) / sum(lay["tokens"] for lay in layers)
               for k in ("recall", "fp_rate", "predicted_density", "true_density")}
    speed = None
    if bench:
        speed = bench_predicted(sparsity=0.9, predicted_density=overall["predicted_density"] / max(
            overall["true_density"], 1e-9) * 0.1, recall=overall["recall"], rank=rank, threads=threads)
    m = R.metric
    metrics = [m(k, v) for k, v in overall.items()]
    metrics += [m(k, lay[k], layer=lay["layer"]) for lay in layers for k in ("recall", "fp_rate", "predicted_density")]
    if speed:
        metrics += [m("ffn_speedup_predicted", speed["speedup_vs_dense"], width=2048, sparsity=0.9),
                    m("ffn_speedup_predicted_vs_exact", speed["speedup_vs_exact"], width=2048, sparsity=0.9)]
    run = {"scale": scale, "model": model, "seed": seed, "step": info.get("step"),
           "checkpoint": str(info.get("checkpoint")), "checkpoint_sha256": info.get("sha256"),
           "variant": info["variant"].to_dict(), "eval_act": str(net.activation)}
    suite = {"name": "predictor", "version": VERSION, "backend": "torch",
             "params": {"rank": rank, "recall": recall, "n_train": n_train, "n_eval": n_eval, "steps": steps}}
    res = R.make_result("predictor", run=run, suite=suite, metrics=metrics, layers=layers, speed=speed,
                        predictor_file=str(ppath),
                        provenance=provenance(threads=threads, dtype="fp32", started_at=started,
                                              wall_s=time.perf_counter() - t0))
    return R.write_result(res, R.result_path(scale, model, seed, "predictor")), ppath
