"""Confidence intervals over seeds: Student-t intervals and paired differences.

Every function here ignores ``NaN`` values (a metric undefined in a run, e.g. a query
success rate without queries). With ``n`` finite values the interval is
``mean ± t_{1-α/2, n-1} · s / √n`` (``s`` the sample standard deviation, ``ddof=1``);
with one value the interval is ``NaN``, with none the mean is ``NaN`` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Interval", "group_intervals", "paired_difference", "t_interval"]


@dataclass(frozen=True)
class Interval:
    """A mean and its confidence interval.

    Attributes:
        mean: Mean of the finite values (``NaN`` if none).
        low: Lower end of the interval (``NaN`` with fewer than two values).
        high: Upper end of the interval (``NaN`` with fewer than two values).
        n: Number of finite values used.
    """

    mean: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval is defined and lies entirely above or below zero."""
        return bool(np.isfinite(self.low) and (self.low > 0 or self.high < 0))


def _half_width(sd: np.ndarray, n: np.ndarray, confidence: float) -> np.ndarray:
    """``t_{(1+c)/2, n-1} · sd / √n`` elementwise; ``NaN`` where ``n < 2``."""
    n = np.asarray(n, dtype=np.float64)
    ok = n >= 2
    dof = np.where(ok, n - 1, 1.0)
    quantile = stats.t.ppf(0.5 + confidence / 2.0, dof)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = quantile * np.asarray(sd, dtype=np.float64) / np.sqrt(np.where(ok, n, 1.0))
    return np.where(ok, half, np.nan)


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Interval:
    """Student-t interval of the mean of ``values`` (``NaN`` values are dropped).

    Example (the arithmetic of the test): ``[1, 2, 3]`` has mean 2, ``s = 1``, and
    ``t_{0.975, 2} = 4.303``, so the half-width is ``4.303 · 1 / √3 = 2.484``.

    Args:
        values: Shape ``(n,)`` values, one per seed.
        confidence: Coverage of the interval, in (0, 1).

    Returns:
        The mean and its interval.

    Raises:
        ValueError: If ``confidence`` is not in (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    n = int(x.shape[0])
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if n >= 2 else float("nan")
    half = float(_half_width(np.asarray([sd]), np.asarray([n]), confidence)[0])
    return Interval(mean, mean - half, mean + half, n)


def paired_difference(
    values: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
) -> Interval:
    """Mean and t-interval of the per-seed differences ``values[s] - reference[s]``.

    Pairs in which either value is ``NaN`` are dropped. Under common random numbers the
    paired interval is usually much narrower than the difference of two intervals.

    Args:
        values: Shape ``(n_seeds,)`` per-run values of one policy.
        reference: Shape ``(n_seeds,)`` values of the reference policy, same seed order.
        confidence: Coverage of the interval.

    Returns:
        The mean difference and its interval.

    Raises:
        ValueError: If the two arrays differ in length.
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    b = np.asarray(reference, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.shape[0]} and {b.shape[0]}")
    return t_interval(a - b, confidence)


def group_intervals(
    table: pd.DataFrame, by: list[str], value: str = "value", confidence: float = 0.95
) -> pd.DataFrame:
    """Mean and t-interval of ``table[value]`` within each group of ``by`` (vectorised).

    Args:
        table: A long table.
        by: Grouping columns.
        value: The column to summarise; ``NaN`` values are dropped.
        confidence: Coverage of the intervals.

    Returns:
        One row per group: the ``by`` columns, then ``mean``, ``ci_low``, ``ci_high``
        and ``n`` (number of finite values).
    """
    finite = table.assign(_v=table[value].where(np.isfinite(table[value].astype(np.float64))))
    grouped = finite.groupby(by, sort=False, observed=True)["_v"]
    out = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    half = _half_width(out["sd"].to_numpy(), out["n"].to_numpy(), confidence)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out[[*by, "mean", "ci_low", "ci_high", "n"]]
