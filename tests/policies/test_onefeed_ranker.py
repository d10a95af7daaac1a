"""The OneFeed ranking stage: training rows from the log, the logistic fit, re-alignment."""

import numpy as np
import pandas as pd

from policies.onefeed_policy import _carry_features
from policies.onefeed_ranker import LearnedRanker, served_feature_rows


def _log(rows):
    return pd.DataFrame(rows, columns=["event", "user_id", "item_id"])


def test_rows_are_the_examined_feed_items_on_the_served_lists():
    served = np.array([[4, 7, 9], [1, 2, -1]])
    feats = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    feats[1, 1] = np.nan  # filler added after ranking: no features
    events = _log([
        ("impression", 0, 4),  # not examined
        ("skip", 0, 4),
        ("click", 0, 9),
        ("click", 1, 2),  # NaN features: dropped
        ("skip", 1, 5),  # not on the list: dropped
        ("search_click", 1, 1),  # not a feed impression
    ])  # fmt: skip
    x, y = served_feature_rows(events, served, feats)
    assert x.tolist() == [[0.0, 1.0], [4.0, 5.0]]
    assert y.tolist() == [0.0, 1.0]


def test_fit_recovers_which_feature_predicts_clicks():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20_000, 2))
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(-2.0 + 1.5 * x[:, 0])))).astype(float)
    ranker = LearnedRanker(np.array([0.0, 1.0]), min_clicks=100)
    ranker.observe(x, y)
    assert ranker.fit()
    assert abs(ranker.weights[0] - 1.5) < 0.1
    assert abs(ranker.weights[1]) < 0.1
    assert abs(ranker.intercept + 2.0) < 0.1


def test_fit_waits_for_enough_clicks_and_forgets_old_episodes():
    ranker = LearnedRanker(np.array([1.0]), min_clicks=5, memory_episodes=2)
    ranker.observe(np.zeros((10, 1)), np.r_[np.ones(2), np.zeros(8)])
    assert not ranker.fit()
    assert ranker.weights.tolist() == [1.0]
    for _ in range(3):
        ranker.observe(np.zeros((10, 1)), np.r_[np.ones(5), np.zeros(5)])
    assert len(ranker._memory) == 2
    assert ranker.fit()


def test_score_is_the_weighted_sum_with_broadcasting():
    ranker = LearnedRanker(np.array([2.0, -1.0]))
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = np.array([[10.0, 20.0]])
    assert ranker.score([a, b]).tolist() == [[-8.0, -16.0], [-4.0, -12.0]]


def test_features_follow_their_items_when_a_list_is_refinalised():
    old = np.array([[5, 3, 8], [2, 0, 1]])
    feats = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    new = np.array([[3, 8, 6], [1, 2, 0]])
    out = _carry_features(old, feats, new)[..., 0]
    assert np.isnan(out[0, 2])
    assert out[0, :2].tolist() == [1.0, 2.0]
    assert out[1].tolist() == [5.0, 3.0, 4.0]
