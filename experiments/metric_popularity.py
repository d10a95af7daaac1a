"""Concentration of the accumulated data: cumulative impression and click Gini.

A feedback loop's popularity bias lives in the data a recommender is retrained on,
which accumulates over episodes (Mansoury et al. 2020 measure popularity as an item's
interactions in the training data at each iteration). These metrics measure the
concentration of everything logged up to and including the measured episode: the past
episodes' counts (:class:`experiments.metric_history.MetricHistory`) plus this
episode's. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.metric_common import clicked_mask, gini, is_event
from experiments.metrics import MetricContext, metric

__all__ = ["click_gini_cumulative", "cumulative_counts", "impression_gini_cumulative"]


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


@metric("impression_gini_cumulative")
def impression_gini_cumulative(events: pd.DataFrame, context: MetricContext) -> float:
    """Gini over items of feed impressions accumulated over episodes 0..e (exposure data)."""
    if context.history is None:
        return float("nan")
    items = events.loc[is_event(events, "impression"), "item_id"].to_numpy(dtype=np.int64)
    past = context.history.item_impressions
    return gini(cumulative_counts(past, items, context.n_items_available))


@metric("click_gini_cumulative")
def click_gini_cumulative(events: pd.DataFrame, context: MetricContext) -> float:
    """Gini over items of clicks (feed + search) accumulated over episodes 0..e (training data)."""
    if context.history is None:
        return float("nan")
    items = events.loc[clicked_mask(events), "item_id"].to_numpy(dtype=np.int64)
    past = context.history.item_clicks
    return gini(cumulative_counts(past, items, context.n_items_available))
