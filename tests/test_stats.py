"""reports.stats: paired differences (interval, coverage, degenerate cases) and the verdict rules."""

import math

import numpy as np
import pytest

from reports.stats import FAILS, HOLDS, NO_INTERVAL, UNDECIDED, Diff, paired_diff, verdict


def _crossed(rng, delta, S, I, sd_seed, sd_item, sd_resid):
    """Scores of A and B with seed effects, item effects shared by every seed, and noise; true A − B = delta."""
    item_a, item_b = rng.normal(0, sd_item, I), rng.normal(0, sd_item, I)
    a = delta + rng.normal(0, sd_seed, (S, 1)) + item_a + rng.normal(0, sd_resid, (S, I))
    b = rng.normal(0, sd_seed, (S, 1)) + item_b + rng.normal(0, sd_resid, (S, I))
    return a, b


@pytest.mark.parametrize("S,sd_seed,sd_item", [(3, 0.05, 0.3), (3, 0.3, 0.05), (1, 0.0, 0.3), (5, 0.1, 0.1)])
def test_interval_covers_the_true_difference_95_percent_of_the_time(S, sd_seed, sd_item):
    rng = np.random.default_rng(0)
    reps, hits = 400, 0
    for _ in range(reps):
        a, b = _crossed(rng, 0.1, S, 200, sd_seed, sd_item, 0.5)
        d = paired_diff(a, b)
        hits += d.lo <= 0.1 <= d.hi
    assert 0.93 <= hits / reps <= 1.0, hits / reps


def test_seed_only_interval_ignores_shared_items_and_would_be_too_narrow():
    """Why items count: with large shared item effects, the spread over seeds alone misses them."""
    rng = np.random.default_rng(1)
    hits_full = hits_seeds = 0
    for _ in range(1000):
        a, b = _crossed(rng, 0.0, 3, 50, 0.01, 0.5, 0.05)
        hits_full += (d := paired_diff(a, b)).lo <= 0 <= d.hi
        s = paired_diff(a.mean(1), b.mean(1))
        hits_seeds += s.lo <= 0 <= s.hi
    assert hits_full / 1000 >= 0.93 and hits_seeds / 1000 < 0.5


def test_known_answers_and_degenerate_cases():
    # One seed, paired t over items: mean 0.5, sd of D = [1, 0, 1, 0] is 0.5774, se = 0.2887, t(0.975, 3) = 3.182.
    d = paired_diff([[1, 1, 1, 0]], [[0, 1, 0, 0]])
    assert (d.mean, d.n_seeds, d.n_items, d.method, d.df) == (0.5, 1, 4, "items", 3)
    assert d.hi - d.mean == pytest.approx(3.1824 * math.sqrt(1 / 3) / 2, rel=1e-3)
    # Per-seed values only: the paired t interval over seeds (differences 0.1, 0.2, 0.3).
    s = paired_diff([0.6, 0.7, 0.8], [0.5, 0.5, 0.5])
    assert s.method == "seeds" and s.mean == pytest.approx(0.2) and s.n_items == 0
    assert s.hi - s.mean == pytest.approx(4.3027 * 0.1 / math.sqrt(3), rel=1e-3)
    # One seed, no items: no interval.
    assert not paired_diff([0.6], [0.5]).has_interval
    # Identical scores: an exact zero difference.
    z = paired_diff([[1, 0], [0, 1]], [[1, 0], [0, 1]])
    assert (z.mean, z.lo, z.hi, z.mde) == (0, 0, 0, 0)
    # Weights: a byte-weighted mean (bits per byte over modules of different sizes).
    w = paired_diff([[2.0, 4.0]], [[1.0, 1.0]], weights=[3, 1])
    assert w.mean == pytest.approx((3 * 1 + 1 * 3) / 4)
    with pytest.raises(ValueError, match="equal shapes"):
        paired_diff([[1, 2]], [[1, 2, 3]])


def test_mde_shrinks_with_more_items():
    rng = np.random.default_rng(2)
    small = paired_diff(*_crossed(rng, 0, 3, 100, 0.01, 0.3, 0.3))
    large = paired_diff(*_crossed(rng, 0, 3, 1600, 0.01, 0.3, 0.3))
    assert large.mde < small.mde / 2


def _d(lo, hi):
    return Diff((lo + hi) / 2, lo, hi, 1.0, 10.0, 3, 600, 0.1, "seeds+items")


@pytest.mark.parametrize("lo,hi,rel,expected", [
    (0.01, 0.2, ">", HOLDS), (-0.2, -0.01, ">", FAILS), (-0.1, 0.1, ">", UNDECIDED),
    (-0.03, 0.04, "≈", HOLDS), (-0.03, 0.08, "≈", UNDECIDED), (0.06, 0.2, "≈", FAILS), (-0.2, -0.06, "≈", FAILS),
    (-0.04, 0.3, "≥", HOLDS), (-0.08, 0.01, "≥", UNDECIDED), (-0.2, -0.06, "≥", FAILS),
])
def test_verdicts_with_a_margin_of_five_points(lo, hi, rel, expected):
    assert verdict(_d(lo, hi), rel, margin=0.05) == expected


def test_overlap_is_not_equivalence_and_no_interval_is_its_own_verdict():
    # Wide interval around zero: intervals of A and B would overlap, but equivalence is undecided.
    assert verdict(_d(-0.3, 0.3), "≈", margin=0.05) == UNDECIDED
    nan = Diff(0.1, math.nan, math.nan, math.nan, math.nan, 1, 0, math.nan, "point")
    assert verdict(nan, ">") == NO_INTERVAL and verdict(nan, "≈", 0.05) == NO_INTERVAL
    with pytest.raises(ValueError):
        verdict(_d(0, 1), "≈")
