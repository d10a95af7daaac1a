import math

import numpy as np
import pandas as pd
import pytest

from experiments.metrics import MetricContext, compute_metrics
from experiments.metrics.diversity import relative_to_reference
from experiments.metrics.drift import drift_split_per_user
from experiments.metrics.history import MetricHistory
from experiments.metrics.homogenisation import (
    homogenisation_rng,
    mean_pairwise_jaccard,
    mean_pairwise_overlap,
)
from tests.experiments.fake_world import events_table

R2 = math.sqrt(0.5)  # cos of 45 degrees
TOPICS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
QUALITY = np.array([0.0, 1.0, -1.0, 2.0])


def imp(user, session, item):
    return {"user_id": user, "session_id": session, "event": "impression", "item_id": item,
            "time_s": 1.0}  # fmt: skip


def clk(user, session, item, event="click"):
    return {"user_id": user, "session_id": session, "event": event, "item_id": item, "time_s": 2.0}


# Slates: user 0 {0, 1}; user 1 {2, 3}; user 2 {3, 0, 1}.
# Consumed: user 0 {1, 2 (search)}, user 1 {2, 3}, user 2 {3}.
ROWS = [
    imp(0, 1, 0), imp(0, 1, 1), clk(0, 1, 1), clk(0, 1, 2, "search_click"),
    imp(1, 2, 2), imp(1, 2, 3), clk(1, 2, 2), clk(1, 2, 3),
    imp(2, 3, 3), imp(2, 3, 0), imp(2, 3, 1), clk(2, 3, 3),
]  # fmt: skip
HISTORY = MetricHistory(
    episodes=1,
    item_clicks=np.array([3, 1, 0, 0]),
    user_topic_clicks=np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 0.0]]),
    last_session_end_s=np.full(3, np.nan),
    previous_active=np.array([0, 1, 2]),
)
INITIAL = np.array([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]])
ENDO = np.array([[0.2, -0.2], [0.0, 0.0], [-0.1, 0.1]])
EXO = np.array([[-0.05, 0.05], [0.1, -0.1], [-0.1, 0.1]])


@pytest.fixture
def values():
    context = MetricContext(
        episode=1,
        n_users=3,
        n_items_available=4,
        interests_initial=INITIAL,
        interests=INITIAL + ENDO + EXO,
        interests_previous=np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]),
        drift_endogenous=ENDO,
        drift_exogenous=EXO,
        item_topics=TOPICS,
        item_quality=QUALITY,
        utility_weights=(4.0, 0.5),
        history=HISTORY,
    )
    return compute_metrics(events_table(ROWS).to_pandas(), context)


def test_homogenisation(values):
    # J({1,2},{2,3}) = 1/3, J({1,2},{3}) = 0, J({2,3},{3}) = 1/2 -> mean 5/18
    assert values["homogenisation_jaccard"] == pytest.approx(5 / 18)


def test_homogenisation_overlap(values):
    # shares: user 0 {1: 1/2, 2: 1/2}, user 1 {2: 1/2, 3: 1/2}, user 2 {3: 1}
    # pair products 1/4, 0, 1/2 -> mean 1/4
    assert values["homogenisation_overlap"] == pytest.approx(0.25)


def test_overlap_counts_repeats_and_does_not_grow_with_set_size():
    # user 0 consumed item 1 twice and item 2 once: shares (2/3, 1/3); user 1 only item 1
    assert mean_pairwise_overlap(np.array([0, 0, 0, 1]), np.array([1, 1, 2, 1])) == (
        pytest.approx(2 / 3)
    )
    # 2 users drawing uniformly from 50 items: overlap ≈ 1/50 for 5 or 400 draws each,
    # while the Jaccard index of their sets grows with the number of draws
    rng = np.random.default_rng(0)
    small, big = [], []
    for _ in range(200):
        for n, out in ((5, small), (400, big)):
            users = np.repeat([0, 1], n)
            items = rng.integers(0, 50, 2 * n)
            out.append((mean_pairwise_overlap(users, items), mean_pairwise_jaccard(users, items)))
    small_o, small_j = np.mean(small, axis=0)
    big_o, big_j = np.mean(big, axis=0)
    assert small_o == pytest.approx(0.02, abs=0.004) and big_o == pytest.approx(0.02, abs=0.001)
    assert big_j > 5 * small_j


def test_click_gini(values):
    # clicks per item [0, 1, 2, 2], n = 4, sum 5: (-1*1 + 1*2 + 3*2) / (4*5) = 7/20
    assert values["click_gini"] == pytest.approx(0.35)


def test_intra_list_diversity(values):
    # slate {0,1}: 1 - 0 = 1; slate {2,3}: 1 - R2; slate {3,0,1}: 1 - (R2 + R2 + 0)/3
    expected = (1.0 + (1 - R2) + (1 - 2 * R2 / 3)) / 3
    assert values["intra_list_diversity"] == pytest.approx(expected)


def test_calibration(values):
    # user 0: p = (1, 0), q = (1/2, 1/2), q' = 0.99 q + 0.01 p = (0.505, 0.495)
    #   KL = ln(1 / 0.505)
    # user 1: p = (1/2, 1/2), q = (3/4, 1/4), q' = (0.7475, 0.2525)
    #   KL = 1/2 ln(0.5 / 0.7475) + 1/2 ln(0.5 / 0.2525); user 2 has no past clicks
    u0 = math.log(1 / 0.505)
    u1 = 0.5 * math.log(0.5 / 0.7475) + 0.5 * math.log(0.5 / 0.2525)
    assert values["calibration_kl"] == pytest.approx((u0 + u1) / 2)


def test_popularity(values):
    # past clicks [3, 1, 0, 0], C = 4, N = 4: share (c+1)/8 = [1/2, 1/4, 1/8, 1/8]
    # -log2 = [1, 2, 3, 3]; impressed items [0,1,2,3,3,0,1] -> (1+2+3+3+3+1+2)/7
    assert values["novelty_bits"] == pytest.approx(15 / 7)
    # mean past clicks of impressed items (3+1+0+0+0+3+1)/7 = 8/7 over mean per item 1
    assert values["rec_popularity_rel"] == pytest.approx(8 / 7)


def test_welfare(values):
    # utility = 4 cos(I_prev, theta) + 0.5 q:
    # u0/item1: 0 + 0.5 = 0.5; u0/item2: 4 - 0.5 = 3.5; u1/item2: 0 - 0.5 = -0.5;
    # u1/item3: 4 R2 + 1; u2/item3: 4 + 1 = 5
    assert values["welfare"] == pytest.approx((0.5 + 3.5 - 0.5 + 4 * R2 + 1 + 5) / 5)


def test_drift_split_sums_to_total(values):
    # user 0: d = (0.15, -0.15): TV 0.15 = endo 0.2 + exo -0.05
    # user 1: d = (0.1, -0.1): TV 0.1 = endo 0 + exo 0.1
    # user 2: d = (-0.2, 0.2): TV 0.2 = endo 0.1 + exo 0.1
    total, endo, exo = drift_split_per_user(ENDO, EXO)
    assert total == pytest.approx([0.15, 0.1, 0.2])
    assert endo == pytest.approx([0.2, 0.0, 0.1])
    assert exo == pytest.approx([-0.05, 0.1, 0.1])
    assert values["interest_drift"] == pytest.approx(0.45 / 3)
    assert values["interest_drift_endogenous"] + values["interest_drift_exogenous"] == (
        pytest.approx(values["interest_drift"])
    )


def test_js_drift(values):
    # user 0: (1/2,1/2) -> (0.65, 0.35); user 1 -> (0.6, 0.4); user 2 (0.9,0.1) -> (0.7,0.3)
    def js(p, q):
        m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
        kl = lambda x: sum(a * math.log2(a / b) for a, b in zip(x, m, strict=True))  # noqa: E731
        return (kl(p) + kl(q)) / 2

    expected = (js((0.5, 0.5), (0.65, 0.35)) + js((0.5, 0.5), (0.6, 0.4))) / 3
    expected += js((0.9, 0.1), (0.7, 0.3)) / 3
    assert values["interest_drift_js_bits"] == pytest.approx(expected)


def test_missing_truth_gives_nan():
    log = events_table(ROWS).to_pandas()
    v = compute_metrics(log, MetricContext(episode=0, n_users=3, n_items_available=4))
    for name in ("intra_list_diversity", "calibration_kl", "welfare", "interest_drift_endogenous"):
        assert math.isnan(v[name]), name
    assert v["homogenisation_jaccard"] == pytest.approx(5 / 18)  # needs the log only


def test_sampled_jaccard_is_seeded_and_close():
    users = np.array([0, 0, 1, 1, 2])
    items = np.array([1, 2, 2, 3, 3])
    a = mean_pairwise_jaccard(users, items, homogenisation_rng(4), exact_max_users=1)
    b = mean_pairwise_jaccard(users, items, homogenisation_rng(4), exact_max_users=1)
    assert a == b
    assert a == pytest.approx(5 / 18, abs=0.02)
    # repeated consumption does not change a set
    assert mean_pairwise_jaccard(np.r_[users, 0], np.r_[items, 1]) == pytest.approx(5 / 18)


def test_relative_to_oracle():
    table = pd.DataFrame(
        {
            "policy": ["oracle", "pop", "oracle", "pop", "pop"],
            "seed": [0, 0, 1, 1, 1],
            "episode": [0, 0, 0, 0, 0],
            "metric": ["welfare"] * 4 + ["ctr"],
            "value": [4.0, 3.0, 2.0, 1.0, 0.5],
        }
    )
    rel = relative_to_reference(table)
    assert rel["metric"].tolist() == ["welfare_rel_oracle"] * 2
    assert rel["value"].tolist() == pytest.approx([0.75, 0.5])
    assert relative_to_reference(table[table["policy"] == "pop"]).empty


def test_cumulative_homogenisation_counts_every_past_consumption():
    # Episode 0: user 0 clicks 1, user 1 clicks 2. Episode 1: user 0 clicks 2 (search),
    # user 1 clicks 2 again. Cumulative shares: user 0 {1: 1/2, 2: 1/2}, user 1 {2: 1}
    # -> overlap 1/2 (the episode alone: user 0 {2}, user 1 {2} -> 1); cumulative sets
    # {1, 2} and {2} -> Jaccard 1/2.
    ep0 = events_table(
        [
            {"user_id": 0, "event": "click", "item_id": 1},
            {"user_id": 1, "event": "click", "item_id": 2},
        ]
    ).to_pandas()
    ep1 = events_table(
        [
            {"user_id": 0, "event": "search_click", "item_id": 2},
            {"user_id": 1, "event": "click", "item_id": 2},
        ]
    ).to_pandas()
    history = MetricHistory.empty(3, None).advance(ep0, None)
    users, items, counts = history.consumption_pairs()
    assert sorted(zip(users.tolist(), items.tolist(), counts.tolist(), strict=True)) == [
        (0, 1, 1.0),
        (1, 2, 1.0),
    ]
    context = MetricContext(episode=1, n_users=3, n_items_available=4, history=history)
    values = compute_metrics(ep1, context)
    assert values["homogenisation_overlap"] == pytest.approx(1.0)
    assert values["homogenisation_overlap_cumulative"] == pytest.approx(0.5)
    assert values["homogenisation_jaccard_cumulative"] == pytest.approx(0.5)
    # the history keeps counts: after episode 1, user 1 has clicked item 2 twice
    later = history.advance(ep1, None)
    assert later.user_item_clicks[1, 2] == 2.0 and later.user_item_clicks[0, 2] == 1.0
