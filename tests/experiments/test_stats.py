"""Known answers of the seed statistics (t-intervals, paired differences)."""

import math

import numpy as np
import pandas as pd
import pytest

from experiments.reporting.stats import group_intervals, paired_difference, t_interval


def test_t_interval_of_one_two_three():
    # mean 2, s = 1, t_{0.975, 2} = 4.3027; half-width 4.3027 * 1 / sqrt(3) = 2.4841
    iv = t_interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0 and iv.n == 3
    assert iv.high - iv.mean == pytest.approx(2.4841, abs=1e-4)
    assert iv.mean - iv.low == pytest.approx(2.4841, abs=1e-4)
    assert iv.excludes_zero is False  # [-0.48, 4.48]


def test_t_interval_two_values_and_other_confidence():
    # [1, 3]: mean 2, s = sqrt(2), t_{0.95, 1} = 6.3138 (90%); hw = 6.3138 * sqrt(2)/sqrt(2)
    iv = t_interval([1.0, 3.0], confidence=0.90)
    assert iv.high - 2.0 == pytest.approx(6.3138, abs=1e-4)


def test_t_interval_drops_nan_and_handles_small_n():
    assert t_interval([1.0, float("nan"), 2.0, 3.0]).high == pytest.approx(2.0 + 2.4841, abs=1e-4)
    one = t_interval([5.0])
    assert one.mean == 5.0 and one.n == 1 and math.isnan(one.low) and math.isnan(one.high)
    assert not one.excludes_zero
    none = t_interval([float("nan")])
    assert none.n == 0 and math.isnan(none.mean)
    same = t_interval([2.0, 2.0, 2.0])  # zero spread: a zero-width interval
    assert (same.low, same.mean, same.high) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="confidence"):
        t_interval([1.0, 2.0], confidence=1.0)


def test_paired_difference():
    # differences [1, 1, 2]: mean 4/3, s = 0.57735, hw = 4.3027 * 0.57735 / sqrt(3) = 1.4342
    iv = paired_difference([2.0, 3.0, 5.0], [1.0, 2.0, 3.0])
    assert iv.mean == pytest.approx(4 / 3)
    assert iv.high - iv.mean == pytest.approx(1.4342, abs=1e-4)
    assert not iv.excludes_zero  # [1.333 - 1.434, 1.333 + 1.434] = [-0.10, 2.77]


def test_paired_difference_pairs_and_nan():
    # a constant shift is detected exactly (zero-width interval) although the
    # values themselves spread widely: the point of common random numbers
    iv = paired_difference([10.5, 20.5, 30.5], [10.0, 20.0, 30.0])
    assert (iv.low, iv.mean, iv.high) == pytest.approx((0.5, 0.5, 0.5))
    assert iv.excludes_zero
    # a NaN on either side drops the pair: differences [1, 3]
    iv = paired_difference([2.0, np.nan, 5.0, 7.0], [1.0, 1.0, np.nan, 4.0])
    assert iv.n == 2 and iv.mean == 2.0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0], [1.0, 2.0])


def test_group_intervals_matches_t_interval():
    table = pd.DataFrame(
        {"g": ["a", "a", "a", "b", "c", "c"], "value": [1.0, 2.0, 3.0, 4.0, 1.0, np.nan]}
    )
    out = group_intervals(table, ["g"]).set_index("g")
    assert list(out.columns) == ["mean", "ci_low", "ci_high", "n"]
    assert out.loc["a", "ci_high"] == pytest.approx(t_interval([1, 2, 3]).high)
    assert out.loc["b", "mean"] == 4.0 and math.isnan(out.loc["b", "ci_low"])
    assert out.loc["c", "n"] == 1
