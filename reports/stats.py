"""Mean ± 95% confidence interval over seeds (Student t), and paired differences between two recipes.

    >>> ci = mean_ci([1.0, 2.0, 3.0])
    >>> round(ci.mean, 4), round(ci.half, 4), ci.n
    (2.0, 2.4841, 3)

One seed gives no interval (``half`` is NaN): seed-to-seed variation cannot be estimated from one run.

**Paired differences** (:func:`paired_diff`, what the claims use). Two recipes A and B are compared on the
same items (a suite's held-out items are fixed: same generator seed, same dataset hash) and the same
training seeds (seed s of A and seed s of B see the same batches). With ``D[s, i] = A[s, i] − B[s, i]``
for seed s and item i, the estimate is ``d = mean_s d_s``, ``d_s`` the (weighted) mean of ``D[s, :]``.
Its variance has two sources, and the standard error adds both:

- **seeds** (training randomness): ``var_s(d_s) / S``, the spread of the per-seed differences;
- **items** (which items the suite happens to hold; shared by every seed, so the spread over seeds does
  not see it): ``Σ_i w_i² (D̄_i − d)² · I/(I − 1)``, with ``D̄_i`` the item's difference averaged over
  seeds and ``w`` the item weights (1/I, or bytes for bits per byte) — ``var_i(D̄_i)/I`` when unweighted.

The item-by-seed residual enters both terms, so the interval errs wide (conservative). The interval is
``d ± t(0.975, ν)·se`` with Welch–Satterthwaite degrees of freedom ν (``scipy.stats.t``); one seed leaves
the item term alone (the paired t interval over items, ν = I − 1), a result without per-item scores the
seed term alone (the paired t interval over seeds, ν = S − 1). With one seed and no items there is no
interval. ``mde`` is the smallest true difference the comparison detects with 80% power at the 5% level:
``(t(0.975, ν) + t(0.80, ν))·se``. ``tests/test_stats.py`` checks the 95% coverage by simulation.

**Verdicts** (:func:`verdict`): "A > B" holds when the interval excludes 0 in A's favour and does not hold
when it excludes 0 the other way. "A ≈ B" (equivalence) holds only when the whole interval lies inside
the margin ±m (``reports.specs.MARGINS``) and does not hold when it lies wholly outside; "A ≥ B"
(non-inferiority) holds when the interval's worse end is above −m and does not hold when its better end
is below −m. Everything in between is "undecided"; overlapping intervals alone decide nothing.

``pareto_front`` is the one dominance test of the reports: the sparsity-vs-quality figure draws it, and
the diversity table marks its frontier settings by membership in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

CONFIDENCE = 0.95


@dataclass(frozen=True)
class CI:
    """``mean ± half`` over ``n`` values; ``half`` is NaN when it cannot be estimated (n < 2)."""

    mean: float
    half: float
    n: int
    std: float = math.nan

    @property
    def lo(self) -> float:
        return self.mean - self.half

    @property
    def hi(self) -> float:
        return self.mean + self.half

    @property
    def has_interval(self) -> bool:
        return not math.isnan(self.half)


def t_half_width(std: float, n: int, confidence: float = CONFIDENCE) -> float:
    """Half-width of the Student-t interval for the mean: t(1 − (1 − c)/2, n − 1) · std / √n."""
    if n < 2 or math.isnan(std):
        return math.nan
    return float(_st.t.ppf(1 - (1 - confidence) / 2, n - 1) * std / math.sqrt(n))


def mean_ci(values, confidence: float = CONFIDENCE) -> CI:
    """Mean and Student-t half-width of the finite values (NaN/None ignored); n = 0 gives all-NaN."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return CI(math.nan, math.nan, 0)
    std = float(v.std(ddof=1)) if v.size > 1 else math.nan
    return CI(float(v.mean()), t_half_width(std, v.size, confidence), int(v.size), std)


def summarize(df: pd.DataFrame, by: list[str], value: str = "value") -> pd.DataFrame:
    """Group ``df`` by ``by`` and give mean, ci95 (half-width), n, std of ``value`` for each group."""
    rows = []
    for key, g in df.groupby(by, dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        c = mean_ci(g[value])
        rows.append({**dict(zip(by, key)), "mean": c.mean, "ci95": c.half, "n": c.n, "std": c.std})
    return pd.DataFrame(rows, columns=[*by, "mean", "ci95", "n", "std"])


def overlap(a: CI, b: CI) -> bool:
    """True when the two intervals overlap (a point estimate counts as a zero-width interval)."""
    ah = 0.0 if math.isnan(a.half) else a.half
    bh = 0.0 if math.isnan(b.half) else b.half
    return a.mean - ah <= b.mean + bh and b.mean - bh <= a.mean + ah


HOLDS, FAILS, UNDECIDED, NO_INTERVAL = "holds", "does not hold", "undecided", "no interval"


@dataclass(frozen=True)
class Diff:
    """A − B (positive: A better when ``sign`` was applied), its interval and what it rests on."""

    mean: float
    lo: float
    hi: float
    se: float
    df: float
    n_seeds: int
    n_items: int
    mde: float
    method: str  # "seeds+items" | "items" | "seeds" | "point"

    @property
    def has_interval(self) -> bool:
        return not math.isnan(self.se)


def _t(q: float, df: float) -> float:
    return float(_st.t.ppf(q, df))


def paired_diff(a, b, weights=None, confidence: float = CONFIDENCE) -> Diff:
    """Paired difference ``a − b`` of two (seeds × items) score arrays (rows: seeds paired by seed number,
    columns: the same items in the same order); ``weights`` per item (None: equal). A 1-D input is one
    value per seed (no item scores). See the module docstring for the method.

    >>> d = paired_diff([[1, 1, 0, 1], [1, 0, 1, 1]], [[0, 1, 0, 0], [1, 0, 0, 1]])
    >>> round(d.mean, 3), d.n_seeds, d.n_items, d.method
    (0.375, 2, 4, 'seeds+items')
    """
    A, B = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if A.shape != B.shape:
        raise ValueError(f"paired_diff needs equal shapes, got {A.shape} and {B.shape}")
    per_seed_only = A.ndim == 1
    D = A[:, None] - B[:, None] if per_seed_only else A - B
    S, n_items = D.shape
    w = np.full(n_items, 1.0 / n_items) if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    d_s = D @ w
    d = float(d_s.mean())
    parts = []  # (variance of the mean, degrees of freedom)
    if S >= 2:
        parts.append((float(d_s.var(ddof=1)) / S, S - 1))
    if not per_seed_only and n_items >= 2:
        dbar = D.mean(0)
        parts.append((float(np.sum(w ** 2 * (dbar - d) ** 2)) * n_items / (n_items - 1), n_items - 1))
    method = {(True, True): "seeds+items", (False, True): "items", (True, False): "seeds"}.get(
        (S >= 2, not per_seed_only and n_items >= 2), "point")
    items = 0 if per_seed_only else n_items
    if not parts:
        return Diff(d, math.nan, math.nan, math.nan, math.nan, S, items, math.nan, method)
    var = sum(v for v, _ in parts)
    se = math.sqrt(var)
    if var == 0:  # identical scores everywhere: the difference is exact
        return Diff(d, d, d, 0.0, math.inf, S, items, 0.0, method)
    df = var ** 2 / sum(v ** 2 / k for v, k in parts if v > 0)  # Welch–Satterthwaite
    t = _t(1 - (1 - confidence) / 2, df)
    mde = (t + _t(0.80, df)) * se
    return Diff(d, d - t * se, d + t * se, se, df, S, items, mde, method)


def verdict(diff: Diff, relation: str, margin: float | None = None) -> str:
    """Verdict on "A relation B" from ``diff`` = A − B oriented so that positive favours A.

    ``>``: superiority; ``≈``: equivalence within ±margin; ``≥``: non-inferiority by at most margin.
    """
    if relation not in (">", "≈", "≥"):
        raise ValueError(f"unknown relation {relation!r}")
    if not diff.has_interval:
        return NO_INTERVAL
    if relation == ">":
        return HOLDS if diff.lo > 0 else FAILS if diff.hi < 0 else UNDECIDED
    if margin is None:
        raise ValueError(f"relation {relation!r} needs a margin")
    if relation == "≈":
        if -margin < diff.lo and diff.hi < margin:
            return HOLDS
        return FAILS if diff.lo > margin or diff.hi < -margin else UNDECIDED
    return HOLDS if diff.lo > -margin else FAILS if diff.hi < -margin else UNDECIDED


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool = True) -> list[tuple]:
    """Points not dominated in (x higher, y better), sorted by x; ties in x keep the best y only.

    A point is dominated when another is at least as good on both axes and better on one, so equal
    points are all kept (once each in the result). NaN compares false: a NaN point dominates nothing
    and is dominated by nothing, so callers leave such points out.

    >>> pareto_front([(0.0, 1.0), (1.0, 0.5), (0.5, 0.4), (1.0, 0.5)])
    [(0.0, 1.0), (1.0, 0.5)]
    """
    sign = 1.0 if higher_is_better else -1.0
    front = []
    for x, y in points:
        dominated = any((x2 >= x and sign * y2 >= sign * y) and (x2 > x or sign * y2 > sign * y)
                        for x2, y2 in points)
        if not dominated and (x, y) not in front:
            front.append((x, y))
    return sorted(front)
