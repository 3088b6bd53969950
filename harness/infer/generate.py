"""Batched text generation with a KV cache: greedy, temperature and top-p sampling, stop strings.

    >>> from models.registry import build_model
    >>> model = build_model("tiny", "silu").eval()
    >>> texts = generate(model, ["def add(a, b):\\n", "x = "], max_new_tokens=16, stop=["\\n\\n"])
    >>> len(texts)
    2

What it does, per call:
- prompts are byte-tokenized (BOS first, like the training documents), sorted by length so a batch holds
  similar lengths, left-padded (``KVCache.valid`` masks the pads) and left-truncated so that prompt +
  ``max_new_tokens`` fits ``max_seq_len``;
- decoding stops per row at EOS, at ``max_new_tokens`` or when a stop string appears; the text is cut
  *before* the stop string (we cut: the model never sees that a stop string ended its row) and finished
  rows leave the batch (their cache rows are dropped);
- the FFN activation used for this call is ``eval_act`` (``relu``, ``silu``, ``stocha:p=0.7``…) or, if
  None, whatever the model holds (the recipe's inference activation after
  ``harness.infer.load.load_for_inference``); stochastic draws are seeded with ``act_seed``. The model's
  activation is restored afterwards.

How fast this decodes against Hugging Face's ``generate`` on the same weights: ``harness.profiling.vs_hf``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch

from harness.data.tokenizer import ByteTokenizer
from models.config import ActSpec


@contextlib.contextmanager
def activation(model, eval_act: str | ActSpec | None = None, act_seed: int | None = None):
    """Use ``eval_act`` in every FFN inside the block (None: keep the model's), then restore it."""
    old = model.activation
    if eval_act is not None:
        model.set_activation(ActSpec.parse(eval_act) if isinstance(eval_act, str) else eval_act)
    if act_seed is not None:
        model.seed_activation(act_seed)
    try:
        yield model.activation
    finally:
        model.set_activation(old)


def _top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of tokens whose probability mass reaches ``top_p`` (nucleus sampling)."""
    sorted_logits, idx = logits.sort(dim=-1, descending=True)
    cum = sorted_logits.softmax(-1).cumsum(-1)
    drop = cum - sorted_logits.softmax(-1) >= top_p  # mass before this token already reaches top_p
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, idx, sorted_logits)


def _next_token(logits, temperature: float, top_p: float, gen: torch.Generator | None):
    """logits (B, V) → token ids (B,)."""
    if temperature <= 0.0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_p < 1.0:
        logits = _top_p_filter(logits, top_p)
    return torch.multinomial(logits.softmax(-1), 1, generator=gen).squeeze(-1)


def _first_stop(text: str, stop: Sequence[str]) -> int:
    """Index where the earliest stop string starts in ``text``, or -1."""
    hits = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return min(hits) if hits else -1


@torch.no_grad()
def generate_ids(model, prompt_ids: list[list[int]], *, max_new_tokens: int = 128, temperature: float = 0.0,
                 top_p: float = 1.0, stop: Sequence[str] = (), eos_id: int | None = None,
                 pad_id: int = 0, seed: int = 0, decode=None) -> list[list[int]]:
    """One batch, token ids in → generated ids out (stop strings still inside; see :func:`generate`).

    ``decode`` (ids → text) is needed only for stop strings. Rows finish at ``eos_id`` (excluded), at a
    stop string, or after ``max_new_tokens``; finished rows are dropped from the batch and its cache.
    """
    from models.llama import KVCache

    cfg = model.cfg
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    B = len(prompt_ids)
    max_new_tokens = max(1, min(max_new_tokens, cfg.max_seq_len - 1))
    # A long prompt is left-truncated, but only as far as needed to leave room for a quarter of the context
    # (or max_new_tokens if smaller): reserving the whole max_new_tokens would cut away the part of a short
    # model's context that matters (a function's signature, a problem's first sentence). Generation then
    # stops at max_new_tokens or when the context is full.
    keep = cfg.max_seq_len - min(max_new_tokens, max(1, cfg.max_seq_len // 4))
    prompts = [p[-keep:] if len(p) > keep else p for p in prompt_ids]
    prompts = [p or [pad_id] for p in prompts]
    T = max(len(p) for p in prompts)
    max_new_tokens = min(max_new_tokens, cfg.max_seq_len - T)
    tokens = torch.full((B, T), pad_id, dtype=torch.long, device=device)
    valid = torch.zeros(B, T, dtype=torch.bool, device=device)
    for i, p in enumerate(prompts):  # left padding: the last prompt token sits at T-1 in every row
        tokens[i, T - len(p):] = torch.tensor(p, device=device)
        valid[i, T - len(p):] = True
    cache = KVCache(cfg, B, max_len=T + max_new_tokens, device=device, dtype=dtype)
    gen = torch.Generator(device=device).manual_seed(seed) if temperature > 0 else None
    logits = model(tokens, cache=cache, valid=valid)[:, -1]  # (B, V)
    out: list[list[int]] = [[] for _ in range(B)]
    rows = list(range(B))  # batch position → original row
    stop = [s for s in stop if s]
    for step in range(max_new_tokens):
        nxt = _next_token(logits, temperature, top_p, gen)  # (b,)
        alive = []
        for j, r in enumerate(rows):
            t = int(nxt[j])
            if eos_id is not None and t == eos_id:
                continue
            out[r].append(t)
            if stop and _first_stop(decode(out[r][-64:]) if decode else "", stop) >= 0:
                # The last 64 tokens hold any stop string we use (all are short); a longer one is still
                # cut correctly by generate(), only found later.
                continue
            alive.append(j)
        if not alive or step == max_new_tokens - 1:
            break
        if len(alive) < len(rows):
            sel = torch.tensor(alive, device=device)
            cache.select(sel)
            nxt = nxt[sel]
            rows = [rows[j] for j in alive]
        logits = model(nxt[:, None], cache=cache, valid=torch.ones(len(rows), 1, dtype=torch.bool,
                                                                    device=device))[:, -1]
    return out


def generate(model, prompts: Sequence[str], *, max_new_tokens: int = 128, temperature: float = 0.0,
             top_p: float = 1.0, stop: Sequence[str] | None = None, batch_size: int = 16, seed: int = 0,
             eval_act: str | ActSpec | None = None, act_seed: int | None = None, tokenizer=None,
             add_bos: bool | None = None, stop_at_eos: bool = True, progress: bool = False) -> list[str]:
    """Continue each prompt; returns the continuations (prompt excluded, cut before the first stop string).

    ``add_bos`` None: start each prompt with BOS if the tokenizer does so itself (``tok.adds_bos``), so a
    prompt is the ids transformers' ``generate`` sees for the same text.

    Same seed, same prompts, same batch size → same texts. ``temperature=0`` is greedy.
    """
    if temperature < 0 or not 0 < top_p <= 1:
        raise ValueError(f"need temperature >= 0 and 0 < top_p <= 1, got {temperature}, {top_p}")
    tok = tokenizer or ByteTokenizer()
    stop = list(stop or ())
    bos = getattr(tok, "adds_bos", True) if add_bos is None else add_bos
    ids = [tok.encode(p, bos=bos or not p) for p in prompts]  # an empty prompt still needs one token
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    results: list[str] = [""] * len(ids)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="generate", unit="batch", leave=False)
    was_training = model.training
    model.eval()
    try:
        with activation(model, eval_act, act_seed):
            for b, idx in enumerate(batches):
                outs = generate_ids(model, [ids[i] for i in idx], max_new_tokens=max_new_tokens,
                                    temperature=temperature, top_p=top_p, stop=stop,
                                    eos_id=tok.eos_id if stop_at_eos else None, pad_id=tok.pad_id,
                                    seed=seed + b, decode=tok.decode)
                for i, o in zip(idx, outs):
                    text = tok.decode(o)
                    cut = _first_stop(text, stop)
                    results[i] = text[:cut] if cut >= 0 else text
    finally:
        model.train(was_training)
    return results
