"""Small numeric building blocks shared by the metric families.

Event masks over a log slice, safe ratios, the Gini coefficient, distances between
distributions (total variation, Kullback–Leibler, Jensen–Shannon) and the mapping
of events to users' topic mixes. Everything is a pure function of its arguments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "FEED_CLICK",
    "SEARCH_CLICK",
    "clicked_mask",
    "gini",
    "group_sum",
    "is_event",
    "js_divergence_bits",
    "kl_divergence_nats",
    "normalise_rows",
    "ratio",
    "session_count",
    "tv_distance",
]

FEED_CLICK = "click"
SEARCH_CLICK = "search_click"


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or ``NaN`` when the denominator is zero."""
    return float(numerator) / float(denominator) if denominator else float("nan")


def is_event(events: pd.DataFrame, name: str) -> np.ndarray:
    """Boolean mask of rows whose ``event`` is ``name`` (works on categorical columns)."""
    return (events["event"] == name).to_numpy(dtype=bool, na_value=False)


def share_of_queries_with(events: pd.DataFrame, base: str, then: str) -> float:
    """Share of the ``query_id``s of ``base`` rows that also have a ``then`` row.

    E.g. ``("query", "search_click")`` is the query success rate.
    """
    queries = events.loc[is_event(events, base), "query_id"].unique()
    followed = events.loc[is_event(events, then), "query_id"].unique()
    return ratio(np.isin(queries, followed).sum(), len(queries))


def clicked_mask(events: pd.DataFrame) -> np.ndarray:
    """Rows that consume an item: feed clicks and search clicks."""
    return is_event(events, FEED_CLICK) | is_event(events, SEARCH_CLICK)


def session_count(events: pd.DataFrame) -> int:
    """Number of distinct sessions in the log slice."""
    return int(events["session_id"].nunique())


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative amounts (0 = equal, → 1 = concentrated).

    With sorted amounts ``x_1 ≤ … ≤ x_n``: ``G = Σ (2i − n − 1) x_i / (n Σ x_i)``.
    Example: ``[0, 0, 1, 1]`` (``n = 4``) has the non-zero terms
    ``(2·3 − 5)·1 + (2·4 − 5)·1 = 1 + 3 = 4`` over ``4 · 2 = 8``, so ``G = 0.5``.

    Args:
        counts: Shape ``(n,)`` non-negative amounts (zeros included).

    Returns:
        The coefficient, ``NaN`` if ``n == 0`` or the total is zero.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.shape[0]
    total = x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    i = np.arange(1, n + 1, dtype=np.float64)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one; all-zero rows become ``NaN`` rows.

    Args:
        x: Shape ``(n, k)`` non-negative.

    Returns:
        Shape ``(n, k)`` float64.
    """
    x = np.asarray(x, dtype=np.float64)
    total = x.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, x / np.where(total > 0, total, 1.0), np.nan)


def tv_distance(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Total-variation distance ``½ Σ_k |p_k − q_k|`` along the last axis, in [0, 1]."""
    return 0.5 * np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)).sum(axis=-1)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, x / y, 1.0)), 0.0)


def kl_divergence_nats(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``KL(p ‖ q) = Σ_k p_k ln(p_k / q_k)`` along the last axis (``inf`` if ``q_k = 0 < p_k``)."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    return _xlogy(p, q).sum(axis=-1)


def js_divergence_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence in bits along the last axis, in [0, 1].

    ``JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)`` with ``m = ½ (p + q)``, logarithm base 2.
    Example: ``p = (1, 0)``, ``q = (0, 1)`` gives ``m = (½, ½)`` and ``JS = 1`` bit.
    """
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    m = 0.5 * (p + q)
    return (0.5 * _xlogy(p, m).sum(axis=-1) + 0.5 * _xlogy(q, m).sum(axis=-1)) / np.log(2.0)


def group_sum(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Row sums of ``values`` per group (a fast ``np.add.at``).

    Args:
        groups: Shape ``(n,)`` group index of each row, in ``[0, n_groups)``.
        values: Shape ``(n, k)`` values.
        n_groups: Number of groups.

    Returns:
        Shape ``(n_groups, k)`` float64 sums.
    """
    values = np.asarray(values, np.float64)
    out = np.empty((n_groups, values.shape[1]))
    for k in range(values.shape[1]):
        out[:, k] = np.bincount(groups, weights=values[:, k], minlength=n_groups)
    return out
