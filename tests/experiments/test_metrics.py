import math

import numpy as np
import pytest

from experiments.metrics import (
    MetricContext,
    available_metrics,
    compute_metrics,
    metric,
    metric_family,
    tidy_metrics,
)
from tests.experiments.fake_world import events_table

# A hand-built 10-row log of one episode: two sessions of four users, five items.
ROWS = [
    {"session_id": 100, "user_id": 0, "event": "session_start"},
    {"session_id": 100, "user_id": 0, "event": "impression", "item_id": 1, "position": 0},
    {"session_id": 100, "user_id": 0, "event": "impression", "item_id": 2, "position": 1},
    {"session_id": 100, "user_id": 0, "event": "click", "item_id": 2, "dwell_s": 30.0},
    {"session_id": 101, "user_id": 1, "event": "session_start"},
    {"session_id": 101, "user_id": 1, "event": "impression", "item_id": 2, "position": 0},
    {"session_id": 101, "user_id": 1, "event": "query", "query_id": 7, "query": "red shoes"},
    {"session_id": 101, "user_id": 1, "event": "search_impression", "item_id": 3, "query_id": 7},
    {
        "session_id": 101,
        "user_id": 1,
        "event": "search_click",
        "item_id": 3,
        "query_id": 7,
        "dwell_s": 10.0,
    },
    {"session_id": 101, "user_id": 1, "event": "query", "query_id": 8, "query": "blue"},
]
INITIAL = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.2, 0.8]])
NOW = np.array([[0.5, 0.5], [0.5, 0.5], [0.0, 1.0], [0.6, 0.4]])


@pytest.fixture
def values():
    log = events_table(ROWS).to_pandas()
    context = MetricContext(
        episode=0, n_users=4, n_items_available=5, interests_initial=INITIAL, interests=NOW
    )
    return compute_metrics(log, context)


def test_hand_computed_values(values):
    # ctr: 1 feed click / 3 feed impressions (search impressions excluded)
    assert values["ctr"] == pytest.approx(1 / 3)
    # dwell: (30 s feed click + 10 s search click) / 2 sessions = 20 s
    assert values["dwell_per_session_s"] == pytest.approx(20.0)
    # sessions per user: 2 sessions / 4 users (two never came) = 0.5
    assert values["sessions_per_user"] == pytest.approx(0.5)
    # search share: session 101 has a query, session 100 not -> 1 / 2
    assert values["search_share"] == pytest.approx(0.5)
    # query success: queries {7, 8}, search clicks on {7} -> 1 / 2
    assert values["query_success_rate"] == pytest.approx(0.5)
    # coverage: feed-impressed items {1, 2} / 5 available (item 3 only in search) = 0.4
    assert values["catalog_coverage"] == pytest.approx(0.4)
    # gini of feed impressions over 5 items, sorted counts [0, 0, 0, 1, 2], n = 5, sum = 3:
    # sum (2i - n - 1) x_i = (8 - 6) * 1 + (10 - 6) * 2 = 10; 10 / (5 * 3) = 2/3
    assert values["impression_gini"] == pytest.approx(2 / 3)
    # TV distances per user: 0.5*(0.5+0.5)=0.5, 0, 0, 0.5*(0.4+0.4)=0.4 -> mean 0.9/4
    assert values["interest_drift"] == pytest.approx(0.225)
    # entropies: ln 2, ln 2, 0, -(0.6 ln 0.6 + 0.4 ln 0.4) -> mean over 4 users
    h = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))
    assert values["interest_entropy_nats"] == pytest.approx((2 * math.log(2) + h) / 4)


def test_every_metric_is_computed(values):
    assert sorted(values) == available_metrics()
    assert {
        "ctr",
        "dwell_per_session_s",
        "sessions_per_user",
        "search_share",
        "query_success_rate",
        "catalog_coverage",
        "interest_drift",
    } <= set(values)


def test_empty_log_gives_nan_not_error():
    log = events_table([]).to_pandas()
    values = compute_metrics(log, MetricContext(episode=0, n_users=3, n_items_available=5))
    assert math.isnan(values["ctr"])
    assert values["sessions_per_user"] == 0.0
    assert math.isnan(values["interest_drift"])  # no truth given


def test_selected_metrics_only():
    log = events_table(ROWS).to_pandas()
    ctx = MetricContext(episode=0, n_users=4, n_items_available=5)
    assert list(compute_metrics(log, ctx, ["search_share", "ctr"])) == ["search_share", "ctr"]


def test_duplicate_registration_rejected():
    with pytest.raises(ValueError, match="already registered"):
        metric("ctr", "engagement")(lambda events, context: 0.0)


def test_unknown_family_rejected():
    with pytest.raises(ValueError, match="unknown family 'engagment'"):
        metric("new_metric", "engagment")
    with pytest.raises(ValueError, match="unknown family 'health'"):
        metric("new_metric", "health")  # health rows come from policies, not the log


def test_every_metric_belongs_to_a_log_family():
    # The registry classifies by the family a metric was registered with; a few by hand:
    assert metric_family("ctr") == "engagement"
    assert metric_family("query_success_rate") == "search"
    assert metric_family("impression_gini_cumulative") == "feedback_loop"
    assert metric_family("welfare_rel_oracle") == "feedback_loop"
    assert metric_family("health_sid_collision_rate") == "health"
    assert metric_family("no_such_metric") == "other"
    families = {metric_family(name) for name in available_metrics()}
    assert families == {"engagement", "search", "feedback_loop", "credit"}


def test_tidy_table():
    table = tidy_metrics([{"episode": 1, "b": 2.0, "a": 1.0}, {"episode": 0, "a": 0.5}])
    assert list(table.columns) == ["episode", "metric", "value"]
    assert table.values.tolist() == [[0, "a", 0.5], [1, "a", 1.0], [1, "b", 2.0]]
