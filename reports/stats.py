"""Mean ± 95% confidence interval over seeds (Student t), and how two intervals compare.

    >>> ci = mean_ci([1.0, 2.0, 3.0])
    >>> round(ci.mean, 4), round(ci.half, 4), ci.n
    (2.0, 2.4841, 3)

One seed gives no interval (``half`` is NaN): seed-to-seed variation cannot be estimated from one run.

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
