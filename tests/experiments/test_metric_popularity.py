import math

import numpy as np
import pytest

from experiments.metrics import MetricContext, compute_metrics
from experiments.metrics.exposure import cumulative_counts
from experiments.metrics.history import MetricHistory
from tests.experiments.fake_world import events_table


def imp(item):
    return {"event": "impression", "item_id": item}


# This episode: impressions of items 1, 2, 3, 3; a feed click and a search click on item 3.
ROWS = [
    imp(1), imp(2), imp(3), imp(3),
    {"event": "click", "item_id": 3},
    {"event": "search_click", "item_id": 3, "query_id": 1},
    {"event": "query", "query_id": 1},
]  # fmt: skip
HISTORY = MetricHistory(
    episodes=2,
    item_clicks=np.array([0, 0, 3]),
    user_topic_clicks=None,
    last_session_end_s=np.full(1, np.nan),
    previous_active=np.array([0]),
    item_impressions=np.array([2, 0, 1]),
)
NAMES = ["impression_gini_cumulative", "click_gini_cumulative"]


def _values(history, n_available=4):
    ctx = MetricContext(episode=2, n_users=1, n_items_available=n_available, history=history)
    return compute_metrics(events_table(ROWS).to_pandas(), ctx, NAMES)


def test_cumulative_gini_hand_values():
    v = _values(HISTORY)
    # impressions: past [2, 0, 1] + this [0, 1, 1, 2] = [2, 1, 2, 2]; sorted [1, 2, 2, 2],
    # n = 4, total 7: (-3·1 - 1·2 + 1·2 + 3·2) / (4 · 7) = 3 / 28
    assert v["impression_gini_cumulative"] == pytest.approx(3 / 28)
    # clicks: past [0, 0, 3] + this [0, 0, 0, 2] = [0, 0, 3, 2]; sorted [0, 0, 2, 3],
    # total 5: (1·2 + 3·3) / (4 · 5) = 11 / 20
    assert v["click_gini_cumulative"] == pytest.approx(11 / 20)


def test_cumulative_gini_counts_unavailable_ids_seen_and_needs_history():
    # 3 available items but item 3 was shown: N = 4, the same values
    assert _values(HISTORY, n_available=3)["click_gini_cumulative"] == pytest.approx(11 / 20)
    # 6 available: two more zeros. clicks sorted [0, 0, 0, 0, 2, 3], total 5:
    # (3·2 + 5·3) / (6 · 5) = 21 / 30
    assert _values(HISTORY, n_available=6)["click_gini_cumulative"] == pytest.approx(0.7)
    assert all(math.isnan(x) for x in _values(None).values())


def test_cumulative_counts_pads_the_past():
    counts = cumulative_counts(np.array([1, 2]), np.array([3, -1, 0]), 3)
    assert counts.tolist() == [2.0, 2.0, 0.0, 1.0]


def test_history_accumulates_feed_impressions():
    log = events_table(ROWS).to_pandas()
    h = MetricHistory.empty(1, None).advance(log, None)
    assert h.item_impressions.tolist() == [0, 1, 1, 2]
    assert h.advance(log, None).item_impressions.tolist() == [0, 2, 2, 4]
    assert h.item_exposure(6).tolist() == [0, 1, 1, 2, 0, 0]
    assert h.item_clicks.tolist() == [0, 0, 0, 2]
