import math

import numpy as np
import pytest

from experiments.metrics import MetricContext, compute_metrics
from experiments.metrics.history import MetricHistory
from tests.experiments.fake_world import events_table

H = 3600.0
# Episode 1 of a 3-user population. User 0: two sessions (10 and 11), user 1: one.
ROWS = [
    {"session_id": 10, "user_id": 0, "event": "session_start", "time_s": 10 * H},
    # page 1 (time 10h + 1), two slots; page 2 (time 10h + 50)
    {"session_id": 10, "user_id": 0, "event": "impression", "item_id": 1, "time_s": 10 * H + 1},
    {"session_id": 10, "user_id": 0, "event": "impression", "item_id": 2, "time_s": 10 * H + 1},
    {"session_id": 10, "user_id": 0, "event": "click", "item_id": 2, "time_s": 10 * H + 5},
    {"session_id": 10, "user_id": 0, "event": "impression", "item_id": 3, "time_s": 10 * H + 50},
    {"session_id": 10, "user_id": 0, "event": "impression", "item_id": 4, "time_s": 10 * H + 50},
    {"session_id": 10, "user_id": 0, "event": "session_end", "time_s": 11 * H},
    {"session_id": 11, "user_id": 0, "event": "session_start", "time_s": 13 * H},
    {"session_id": 11, "user_id": 0, "event": "impression", "item_id": 1, "time_s": 13 * H + 1},
    {"session_id": 11, "user_id": 0, "event": "session_end", "time_s": 13 * H + 60},
    {"session_id": 12, "user_id": 1, "event": "session_start", "time_s": 20 * H},
    {"session_id": 12, "user_id": 1, "event": "query", "query_id": 5, "time_s": 20 * H + 2},
    {"session_id": 12, "user_id": 1, "event": "search_click", "item_id": 4, "query_id": 5,
     "time_s": 20 * H + 9},
    {"session_id": 12, "user_id": 1, "event": "session_end", "time_s": 21 * H},
]  # fmt: skip


def _history() -> MetricHistory:
    # Before episode 1: user 0 last ended at 4 h, user 1 at 8 h, user 2 never came;
    # users {0, 2} were active in episode 0.
    return MetricHistory(
        episodes=1,
        item_clicks=np.zeros(5, np.int64),
        user_topic_clicks=None,
        last_session_end_s=np.array([4 * H, 8 * H, np.nan]),
        previous_active=np.array([0, 2]),
    )


def _values(history):
    log = events_table(ROWS).to_pandas()
    ctx = MetricContext(episode=1, n_users=3, n_items_available=5, history=history)
    names = ["clicks_per_session", "session_depth", "return_gap_h", "retention"]
    return compute_metrics(log, ctx, names)


def test_engagement_hand_values():
    v = _values(_history())
    # clicks: 1 feed + 1 search over 3 sessions
    assert v["clicks_per_session"] == pytest.approx(2 / 3)
    # pages: session 10 has 2 (two impression times), session 11 has 1, session 12 none
    assert v["session_depth"] == pytest.approx(3 / 3)
    # gaps: user 0: 10h - 4h = 6 h and 13h - 11h = 2 h; user 1: 20h - 8h = 12 h
    assert v["return_gap_h"] == pytest.approx((6 + 2 + 12) / 3)
    # retention: of {0, 2} active before, only 0 is active now
    assert v["retention"] == pytest.approx(0.5)


def test_without_history_first_episode():
    v = _values(None)
    assert math.isnan(v["retention"])
    # only the within-episode gap 13h - 11h = 2 h is known
    assert v["return_gap_h"] == pytest.approx(2.0)


def test_history_advance_folds_an_episode():
    log = events_table(ROWS).to_pandas()
    topics = np.eye(5)[:, :4] + 0.0  # item i has topic i (item 4: no topic)
    h = MetricHistory.empty(3, 4).advance(log, topics)
    assert h.episodes == 1
    assert h.item_clicks.tolist() == [0, 0, 1, 0, 1]
    assert h.previous_active.tolist() == [0, 1]
    assert h.last_session_end_s[0] == pytest.approx(13 * H + 60)
    assert np.isnan(h.last_session_end_s[2])
    # user 0 clicked item 2 -> topic 2
    assert h.user_topic_clicks[0].tolist() == [0, 0, 1, 0]
