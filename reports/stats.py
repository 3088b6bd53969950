"""Mean ± 95% confidence interval over seeds (Student t), and how two intervals compare.

    >>> ci = mean_ci([1.0, 2.0, 3.0])
    >>> round(ci.mean, 4), round(ci.half, 4), ci.n
    (2.0, 2.4841, 3)

One seed gives no interval (``half`` is NaN): seed-to-seed variation cannot be estimated from one run.
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
