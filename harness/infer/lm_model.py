"""lm-eval model ``sparsebench``: our checkpoints (or an in-memory model) under lm-evaluation-harness.

In Python (what the harness's suites do)::

    import lm_eval
    from harness.infer.lm_model import SparseBenchLM
    lm = SparseBenchLM(checkpoint="out/runs/small/silu/s0")          # or SparseBenchLM(model=model)
    lm_eval.simple_evaluate(model=lm, tasks=[...])

From the command line. lm-eval has no plugin entry point, so our module must be imported before the
model is looked up. Two ways:

    # 1. this module as a drop-in for the `lm_eval` command (any task, built-in ones included):
    python -m harness.infer.lm_model --model sparsebench --model_args checkpoint=out/runs/small/silu/s0 \\
        --tasks arc_easy
    # 2. the plain `lm_eval` CLI, with the task YAMLs the harness writes (they import this module):
    lm_eval --model sparsebench --model_args checkpoint=out/runs/small/silu/s0,eval_act=relu \\
        --tasks out/cache/lm_eval_tasks/sparsebench_gsm8k_100/sparsebench_gsm8k_100.yaml

``model_args``: ``checkpoint`` (a run directory), ``eval_act`` (``relu``, ``silu``, ``stocha:p=0.7``…;
default: the recipe's inference activation), ``act_seed``, ``batch_size``, ``max_gen_toks``, ``device``.
The tokenizer is the run's (bytes, or the Hugging Face tokenizer of a fine-tuned checkpoint). Text is
scored as lm-eval's own ``hf`` model scores it (``tests/test_export.py`` checks this on an exported
checkpoint): the context starts with BOS, and the continuation's tokens are those of
``context + continuation`` after the context's. One difference: lm-eval's ``hf`` model moves a context's
trailing whitespace into the continuation; here it stays in the context, so such a continuation's
log-likelihood lacks the whitespace's own term — the same for every choice of an item, so accuracies agree.
"""

from __future__ import annotations

import torch
from lm_eval.api.model import LM
from lm_eval.api.registry import model_registry, register_model

from harness.data.tokenizer import ByteTokenizer


def process_docs(dataset):
    """Identity ``process_docs`` for the harness's task YAMLs: naming it imports this module (see above)."""
    return dataset


def _register_once(cls):
    """``register_model("sparsebench")``, unless already registered (re-import, or ``python -m`` of this file
    followed by the task YAML importing it again: lm-eval refuses a second class under one name)."""
    # lm-eval fills its registry with its own models (hf, vllm, ...) only when it finds the registry empty;
    # registering ours first would hide them: `lm_eval --model hf --tasks <our task YAML>` would fail.
    import lm_eval.models  # noqa: F401  (cheap: lm-eval registers them lazily, by name)

    return cls if "sparsebench" in model_registry else register_model("sparsebench")(cls)


# At most this many bytes of fp32 logits per forward (one row at least): bounds memory on long windows.
LOGITS_BYTES = 512 * 2**20


@_register_once
class SparseBenchLM(LM):
    """Batched log-likelihoods and generation over a ``models.llama.Transformer`` and its tokenizer."""

    def __init__(self, checkpoint: str | None = None, model=None, batch_size: int | str = 16,
                 device: str | None = None, eval_act: str | None = None, act_seed: int = 0,
                 max_gen_toks: int = 256, progress: bool = True, tokenizer=None, **_ignored):
        super().__init__()
        if (checkpoint is None) == (model is None):
            raise ValueError("give exactly one of checkpoint=RUN_DIR or model=<in-memory model>")
        if model is None:
            from harness.infer.load import load_for_inference

            # lm_eval's CLI passes device="cuda" by default: fall back to the CPU where there is no GPU.
            if not device or (str(device).startswith("cuda") and not torch.cuda.is_available()):
                device = "cpu"
            model, info = load_for_inference(checkpoint, device=device)
            tokenizer = tokenizer or info["tok"]
        self.model = model.eval()
        self.tok = tokenizer or ByteTokenizer()
        self.batch_size = 16 if batch_size in (None, "auto") else int(str(batch_size).split(":")[0])
        self.eval_act = eval_act
        self.act_seed = int(act_seed)
        self.max_gen_toks = int(max_gen_toks)
        self.progress = progress if isinstance(progress, bool) else str(progress).lower() in ("1", "true", "yes")
        self.max_length = model.cfg.max_seq_len
        self._device = next(model.parameters()).device
        self.journal = None  # harness.infer.journal.ChunkJournal: set per suite by EvalContext.lm_eval_model

    # ---- scoring -------------------------------------------------------------------------------
    @torch.no_grad()
    def _score(self, pairs: list[tuple[list[int], list[int]]], desc: str, act_seed: int | None = None,
               bar: bool = True) -> list[tuple[float, bool]]:
        """(context ids, continuation ids) → (sum log p(continuation | context), continuation is greedy).

        The last ``max_length + 1`` tokens are kept (context cut on the left); rows are right-padded, which
        a causal model never attends to. Longest first, so a batch holds similar lengths.
        """
        from harness.infer.generate import activation

        results: list[tuple[float, bool] | None] = [None] * len(pairs)
        order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + len(pairs[i][1])))
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        from tqdm import tqdm

        with activation(self.model, self.eval_act, self.act_seed if act_seed is None else act_seed):
            for idx in tqdm(batches, desc=desc, disable=not (self.progress and bar), leave=False):
                rows, spans = [], []
                for i in idx:
                    ctx, cont = pairs[i]
                    whole = (ctx + cont)[-(self.max_length + 1):]
                    n_cont = min(len(cont), len(whole) - 1)
                    rows.append(whole[:-1])
                    spans.append((len(whole) - 1 - n_cont, n_cont, whole[-n_cont:] if n_cont else []))
                T = max(len(r) for r in rows)
                # Logits are (B, T, V) floats: a real vocabulary over long windows (49k × 8k tokens is 1.6 GB a
                # row) would not fit, so the batch goes through in as many rows as LOGITS_BYTES allow.
                step = max(1, LOGITS_BYTES // (T * self.model.cfg.vocab_size * 4))
                for lo in range(0, len(rows), step):
                    part = rows[lo:lo + step]
                    x = torch.full((len(part), T), self.tok.pad_id, dtype=torch.long, device=self._device)
                    for j, r in enumerate(part):
                        x[j, :len(r)] = torch.tensor(r, device=self._device)
                    logits = self.model(x)  # (b, T, V)
                    for j, i in enumerate(idx[lo:lo + step]):
                        start, n, target = spans[lo + j]
                        # predictions for the continuation tokens only
                        lp = logits[j, start:start + n].float().log_softmax(-1)
                        tgt = torch.tensor(target, device=self._device, dtype=torch.long)
                        ll = float(lp.gather(-1, tgt[:, None]).sum())
                        greedy = bool((lp.argmax(-1) == tgt).all())
                        results[i] = (ll, greedy)
                    del logits
        return results

    # ---- resumable chunks (harness.infer.journal) ------------------------------------------------------
    def _chunked(self, kind: str, requests, compute) -> list:
        """``compute(chunk_index, [request args])`` over fixed chunks of requests, in lm-eval's (deterministic)
        request order; finished chunks come from ``self.journal`` when a killed evaluation is resumed. We do
        not use lm-eval's ``CachingLM`` for this: it hands the model only the uncached requests, so batches
        (and with them seeds and float rounding) would differ from an uninterrupted run's, and it never
        caches sampled generations."""
        from tqdm.auto import tqdm

        from harness.infer.journal import CHUNK_BATCHES, chunked

        settings = {"eval_act": self.eval_act, "act_seed": self.act_seed, "max_length": self.max_length,
                    "max_gen_toks": self.max_gen_toks}
        with tqdm(total=len(requests), desc=kind, disable=not self.progress, leave=False) as bar:
            return chunked(self.journal, kind, [list(r.args) for r in requests], CHUNK_BATCHES * self.batch_size,
                           compute, settings, bar=bar)

    def loglikelihood(self, requests) -> list[tuple[float, bool]]:
        def run(c, part):
            # A continuation's leading space belongs to it, as lm-eval expects. Its tokens are those the
            # whole text has after the context's (a subword tokenizer merges across the boundary; for bytes
            # this equals encoding the continuation alone).
            # BOS as the tokenizer adds it (lm-eval's hf model does the same); an empty context gets it anyway.
            pairs = []
            adds_bos = getattr(self.tok, "adds_bos", True)
            for context, continuation in part:
                ctx = self.tok.encode(context, bos=adds_bos or not context)
                pairs.append((ctx, self.tok.encode(context + continuation, bos=adds_bos or not context)[len(ctx):]))
            return self._score(pairs, "loglikelihood", act_seed=self.act_seed + c, bar=False)

        out = [(float(ll), bool(greedy)) for ll, greedy in self._chunked("loglikelihood", requests, run)]
        for r, o in zip(requests, out):
            self.cache_hook.add_partial("loglikelihood", r.args, o)
        return out

    def loglikelihood_rolling(self, requests) -> list[float]:
        from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

        def run(c, part):
            pairs, owner = [], []
            for k, (text,) in enumerate(part):
                windows = get_rolling_token_windows(token_list=self.tok.encode(text), prefix_token=self.tok.bos_id,
                                                    max_seq_len=self.max_length, context_len=1)
                for w in windows:
                    pairs.append(make_disjoint_window(w))
                    owner.append(k)
            scored = self._score(pairs, "loglikelihood_rolling", act_seed=self.act_seed + c, bar=False)
            totals = [0.0] * len(part)
            for k, (ll, _) in zip(owner, scored):
                totals[k] += ll
            return totals

        totals = [float(t) for t in self._chunked("loglikelihood_rolling", requests, run)]
        for r, t in zip(requests, totals):
            self.cache_hook.add_partial("loglikelihood_rolling", r.args, t)
        return totals

    # ---- generation ----------------------------------------------------------------------------
    def generate_until(self, requests) -> list[str]:
        """Generation per distinct gen_kwargs group of each chunk, cut at ``until`` here (lm-eval does not
        cut). Chunk c seeds like ``EvalContext.generate``: sampling ``act_seed + c·CHUNK_BATCHES``,
        activations ``act_seed + c``."""
        from harness.infer.generate import generate
        from harness.infer.journal import CHUNK_BATCHES

        def run(c, part):
            groups: dict[str, list[int]] = {}
            for i, (_, gen_kwargs) in enumerate(part):
                groups.setdefault(repr(sorted(gen_kwargs.items(), key=lambda kv: kv[0])), []).append(i)
            texts_out: list[str] = [""] * len(part)
            for idx in groups.values():
                kw = dict(part[idx[0]][1])
                until = kw.pop("until", None) or []
                until = [until] if isinstance(until, str) else list(until)
                do_sample = bool(kw.pop("do_sample", False))
                temperature = float(kw.pop("temperature", 0.0)) if do_sample else 0.0
                top_p = float(kw.pop("top_p", 1.0)) if do_sample else 1.0
                max_new = int(kw.pop("max_gen_toks", kw.pop("max_new_tokens", self.max_gen_toks)))
                texts = generate(self.model, [part[i][0] for i in idx], max_new_tokens=max_new,
                                 temperature=temperature, top_p=top_p, stop=until, batch_size=self.batch_size,
                                 seed=self.act_seed + c * CHUNK_BATCHES, eval_act=self.eval_act,
                                 act_seed=self.act_seed + c, tokenizer=self.tok)
                for i, t in zip(idx, texts):
                    texts_out[i] = t
            return texts_out

        out = self._chunked("generate_until", requests, run)
        for r, t in zip(requests, out):
            self.cache_hook.add_partial("generate_until", r.args, t)
        return out

    def get_model_info(self) -> dict:
        return {"model_num_parameters": sum(p.numel() for p in self.model.parameters()),
                "eval_act": self.eval_act or str(self.model.activation)}


def main(argv: list[str] | None = None) -> int:
    """The ``lm_eval`` command line, with the ``sparsebench`` model registered."""
    import sys

    from lm_eval.__main__ import cli_evaluate

    if argv is not None:
        sys.argv = ["lm_eval", *argv]
    cli_evaluate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
