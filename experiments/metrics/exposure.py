"""Exposure: how widely the catalogue is shown and consumed, and how popular what is shown is.

Registered here (family ``feedback_loop``): per-episode ``catalog_coverage``,
``impression_gini`` and ``click_gini``; the cumulative ``impression_gini_cumulative`` and
``click_gini_cumulative``; ``novelty_bits`` and ``rec_popularity_rel``.

A feedback loop's popularity bias lives in the data a recommender is retrained on,
which accumulates over episodes (Mansoury et al. 2020 measure popularity as an item's
interactions in the training data at each iteration). The cumulative metrics measure the
concentration of everything logged up to and including the measured episode: the past
episodes' counts (:class:`experiments.metrics.history.MetricHistory`) plus this
episode's. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.metrics.common import clicked_mask, gini, is_event, ratio
from experiments.metrics.registry import MetricContext, metric

__all__ = [
    "FAMILY",
    "catalog_coverage",
    "click_gini",
    "click_gini_cumulative",
    "cumulative_counts",
    "feed_impressions",
    "impression_gini",
    "impression_gini_cumulative",
    "novelty_bits",
    "rec_popularity_rel",
]

FAMILY = "feedback_loop"


@metric("catalog_coverage", FAMILY, unit="ratio")
def catalog_coverage(events: pd.DataFrame, context: MetricContext) -> float:
    """Distinct items shown in the feed (impressions) / items available."""
    items = events.loc[is_event(events, "impression"), "item_id"]
    return ratio(items[items >= 0].nunique(), context.n_items_available)


@metric("impression_gini", FAMILY, unit="[0, 1]")
def impression_gini(events: pd.DataFrame, context: MetricContext) -> float:
    """Gini coefficient of feed impressions over available items (0 even, →1 concentrated).

    Items never shown count as zeros; the Gini of sorted counts ``x_1 ≤ … ≤ x_n`` is
    ``Σ (2i − n − 1) x_i / (n Σ x_i)``.
    """
    items = events.loc[is_event(events, "impression"), "item_id"].to_numpy()
    items = items[items >= 0]
    n = max(context.n_items_available, int(np.unique(items).shape[0]))
    if n == 0 or items.shape[0] == 0:
        return float("nan")
    counts = np.zeros(n, dtype=np.float64)
    _, per_item = np.unique(items, return_counts=True)
    counts[: per_item.shape[0]] = per_item
    counts.sort()
    i = np.arange(1, n + 1, dtype=np.float64)
    return float(((2 * i - n - 1) * counts).sum() / (n * counts.sum()))


@metric("click_gini", FAMILY, unit="[0, 1]")
def click_gini(events: pd.DataFrame, context: MetricContext) -> float:
    """Gini coefficient of clicks (feed + search) over available items (consumption)."""
    items = events.loc[clicked_mask(events), "item_id"].to_numpy(dtype=np.int64)
    items = items[items >= 0]
    if items.size == 0:
        return float("nan")
    _, per_item = np.unique(items, return_counts=True)
    counts = np.zeros(max(context.n_items_available, per_item.shape[0]))
    counts[: per_item.shape[0]] = per_item
    return gini(counts)


def cumulative_counts(past: np.ndarray, items: np.ndarray, n_items_available: int) -> np.ndarray:
    """Past counts per item plus this episode's, over ``N`` items (zeros included).

    ``N = max(n_items_available, len(past), highest item id of this episode + 1)``.

    Args:
        past: Shape ``(m,)`` counts per item id in past episodes.
        items: Item ids of this episode's rows (negative ids ignored).
        n_items_available: Items available at the end of the episode.

    Returns:
        Shape ``(N,)`` float64 counts.
    """
    items = np.asarray(items, dtype=np.int64)
    items = items[items >= 0]
    n = max(int(n_items_available), past.shape[0], int(items.max()) + 1 if items.size else 0)
    counts = np.zeros(n, dtype=np.float64)
    counts[: past.shape[0]] = past
    counts += np.bincount(items, minlength=n)
    return counts


@metric("impression_gini_cumulative", FAMILY, unit="[0, 1]")
def impression_gini_cumulative(events: pd.DataFrame, context: MetricContext) -> float:
    """Gini over items of feed impressions accumulated over episodes 0..e (exposure data)."""
    if context.history is None:
        return float("nan")
    items = events.loc[is_event(events, "impression"), "item_id"].to_numpy(dtype=np.int64)
    past = context.history.item_impressions
    return gini(cumulative_counts(past, items, context.n_items_available))


@metric("click_gini_cumulative", FAMILY, unit="[0, 1]")
def click_gini_cumulative(events: pd.DataFrame, context: MetricContext) -> float:
    """Gini over items of clicks (feed + search) accumulated over episodes 0..e (training data)."""
    if context.history is None:
        return float("nan")
    items = events.loc[clicked_mask(events), "item_id"].to_numpy(dtype=np.int64)
    past = context.history.item_clicks
    return gini(cumulative_counts(past, items, context.n_items_available))


def feed_impressions(events: pd.DataFrame) -> pd.DataFrame:
    """Feed impression rows (``user_id, session_id, time_s, item_id``) of real items."""
    rows = events.loc[
        is_event(events, "impression"), ["user_id", "session_id", "time_s", "item_id"]
    ]
    return rows[rows["item_id"].to_numpy() >= 0]


def _past_popularity(events: pd.DataFrame, context: MetricContext) -> tuple[np.ndarray, np.ndarray]:
    items = feed_impressions(events)["item_id"].to_numpy(dtype=np.int64)
    n = max(context.n_items_available, int(items.max()) + 1 if items.size else 0)
    if context.history is not None:
        n = max(n, context.history.item_clicks.shape[0])
        counts = context.history.item_popularity(n)
    else:
        counts = np.zeros(n, dtype=np.int64)
    return items, counts.astype(np.float64)


@metric("novelty_bits", FAMILY)
def novelty_bits(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over feed impressions of −log2 of the item's smoothed past click share."""
    items, counts = _past_popularity(events, context)
    if items.size == 0:
        return float("nan")
    share = (counts + 1.0) / (counts.sum() + counts.shape[0])
    return float(-np.log2(share[items]).mean())


@metric("rec_popularity_rel", FAMILY, unit="ratio")
def rec_popularity_rel(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean past clicks of feed-impressed items / mean past clicks per item (1 = average)."""
    items, counts = _past_popularity(events, context)
    if items.size == 0:
        return float("nan")
    return ratio(counts[items].mean(), counts.mean())
