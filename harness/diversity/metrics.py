"""Diversity and quality measures of k samples per prompt (pure Python; ``harness.diversity.scoring`` uses them).

    >>> distinct_n(["a b c", "a b d"], 1)       # 4 distinct unigrams among 6
    0.6666666666666666
    >>> levenshtein("kitten", "sitting")
    3
    >>> round(pairwise_edit_distance(["abc", "abd", "abc"]), 4)   # pairs: 1/3, 0, 1/3
    0.2222
    >>> round(token_f1("18+12 = 30", "18+12 = <<18+12=30>>30"), 4)   # P = 3/3, R = 3/6
    0.6667

Every measure takes the k samples of ONE prompt; the study averages them over prompts.

- ``distinct_n``: distinct n-grams / all n-grams over the k samples (Li et al. 2016, per prompt). Tokens
  are runs of letters/digits and single punctuation characters (``m - 4`` → ``m``, ``-``, ``4``), so an
  operator change counts. No n-gram at all (every sample shorter than n tokens) gives 0: nothing varies.
- ``unique_fraction``: distinct completions / k (1/k when all k are identical).
- ``pairwise_edit_distance``: mean over the k(k−1)/2 pairs of Levenshtein(a, b) / max(|a|, |b|) on
  characters (0 for two empty strings); identical pairs count, as 0.
- ``token_f1``: SQuAD-style bag-of-tokens F1 with tokens = lower-cased runs of letters/digits
  (punctuation dropped, as SQuAD's normalisation does); both empty → 1, one empty → 0.
- ``extract_answer`` / ``answers_match``: GSM8K's protocol exactly as the ``syn_reason``/``gsm8k_100``
  suites score it through lm-eval: the first ``#### N`` match, then commas, ``$``, everything up to
  ``#### `` and a final period ignored, case-insensitive.
- ``majority``: the most frequent valid answer (ties: the one that appears first).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_DIVERSITY_TOKEN = re.compile(r"\w+|[^\w\s]")
_F1_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Tokens for distinct-n: runs of letters/digits and single punctuation characters."""
    return _DIVERSITY_TOKEN.findall(text)


def distinct_n(samples: Sequence[str], n: int) -> float:
    """Distinct n-grams / total n-grams over the samples (0 when there is no n-gram)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    grams = []
    for s in samples:
        t = tokens(s)
        grams += [tuple(t[i:i + n]) for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def unique_fraction(samples: Sequence[str]) -> float:
    return len(set(samples)) / len(samples) if samples else 0.0


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute; unit costs).

    Myers' bit-parallel algorithm in Hyyrö's formulation for the global distance: one column of the DP
    matrix is a pair of bit vectors (Python ints of len(a) bits), so a pair costs O(len(b)) big-int
    operations instead of len(a)·len(b) Python steps — the study compares ~10⁵ pairs.
    """
    if a == b:
        return 0
    if not a or not b:
        return len(a) + len(b)
    m = len(a)
    peq: dict[str, int] = {}
    for i, c in enumerate(a):
        peq[c] = peq.get(c, 0) | (1 << i)
    full, top = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = full, 0, m
    for c in b:
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = (ph << 1) | 1  # | 1: the first row of the DP is 0, 1, 2, ... (global, not search)
        mh <<= 1
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv & full
    return score


def normalised_edit_distance(a: str, b: str) -> float:
    longest = max(len(a), len(b))
    return levenshtein(a, b) / longest if longest else 0.0


def pairwise_edit_distance(samples: Sequence[str]) -> float:
    """Mean normalised edit distance over all unordered pairs (0 for fewer than two samples)."""
    k = len(samples)
    if k < 2:
        return 0.0
    cache: dict[tuple[str, str], float] = {}  # greedy-ish settings repeat the same few strings
    total = 0.0
    for i in range(k):
        for j in range(i + 1, k):
            a, b = sorted((samples[i], samples[j]))
            if (a, b) not in cache:
                cache[(a, b)] = normalised_edit_distance(a, b)
            total += cache[(a, b)]
    return total / (k * (k - 1) / 2)


def f1_tokens(text: str) -> list[str]:
    return _F1_TOKEN.findall(text.lower())


def token_f1(prediction: str, gold: str) -> float:
    """Bag-of-tokens F1 between a prediction and the gold text (SQuAD's definition)."""
    p, g = f1_tokens(prediction), f1_tokens(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def _gsm8k_rules():
    # The suites' own lm-eval filter and metric settings: one definition of the protocol.
    from suites.lm_tasks import GSM8K_FILTER, GSM8K_METRIC

    pattern = GSM8K_FILTER["filter"][0]["regex_pattern"]
    return re.compile(pattern), [re.compile(r) for r in GSM8K_METRIC["regexes_to_ignore"]]


def extract_answer(text: str) -> str | None:
    """The answer after the first ``#### `` (lm-eval's regex filter, take_first), or None."""
    pattern, _ = _gsm8k_rules()
    found = pattern.findall(text)
    return found[0].strip() if found else None


def normalise_answer(text: str) -> str:
    _, ignore = _gsm8k_rules()
    for rx in ignore:
        text = rx.sub("", text)
    return text.strip().lower()


def answers_match(extracted: str | None, gold: str) -> bool:
    """lm-eval's exact_match with gsm8k's ignore rules (``gold`` may be a whole ``... #### N`` solution)."""
    return extracted is not None and normalise_answer(extracted) == normalise_answer(gold)


def majority(answers: Sequence[str | None]) -> str | None:
    """Most frequent non-None answer; ties go to the one seen first; None when no answer is valid."""
    valid = [normalise_answer(a) for a in answers if a is not None]
    if not valid:
        return None
    counts = Counter(valid)
    top = max(counts.values())
    return next(a for a in valid if counts[a] == top)
