import math

import pytest

from experiments.metrics import MetricContext, compute_metrics
from experiments.metrics.search import reformulated_queries
from tests.experiments.fake_world import events_table

# Session 1: suggestion shown x2, one clicked (query 1), search click on query 1.
# Session 2: query 2, no click, reformulated as query 3, which is abandoned.
# Session 3: query 4 with a click; later (after a feed page) query 5 (new intent).
# Feed: 4 clicks, one of them on an item from search expansion.
ROWS = [
    {"session_id": 1, "event": "suggestion_shown", "query": "a b", "time_s": 0},
    {"session_id": 1, "event": "suggestion_shown", "query": "c", "time_s": 0},
    {"session_id": 1, "event": "suggestion_click", "query_id": 1, "time_s": 1},
    {"session_id": 1, "event": "query", "query_id": 1, "time_s": 1},
    {"session_id": 1, "event": "search_impression", "query_id": 1, "item_id": 7, "time_s": 2},
    {"session_id": 1, "event": "search_click", "query_id": 1, "item_id": 7, "time_s": 3},
    {"session_id": 1, "event": "click", "item_id": 1, "origin": "query_expansion", "time_s": 9},
    {"session_id": 1, "event": "click", "item_id": 2, "origin": "retrieval", "time_s": 10},
    {"session_id": 2, "event": "query", "query_id": 2, "time_s": 0},
    {"session_id": 2, "event": "search_impression", "query_id": 2, "item_id": 3, "time_s": 1},
    {"session_id": 2, "event": "query", "query_id": 3, "time_s": 5},
    {"session_id": 2, "event": "search_impression", "query_id": 3, "item_id": 3, "time_s": 6},
    {"session_id": 2, "event": "query_abandon", "query_id": 3, "time_s": 7},
    {"session_id": 3, "event": "query", "query_id": 4, "time_s": 0},
    {"session_id": 3, "event": "search_click", "query_id": 4, "item_id": 5, "time_s": 1},
    {"session_id": 3, "event": "impression", "item_id": 5, "time_s": 2},
    {"session_id": 3, "event": "click", "item_id": 5, "origin": "retrieval", "time_s": 3},
    {"session_id": 3, "event": "query", "query_id": 5, "time_s": 4},
    {"session_id": 3, "event": "click", "item_id": 6, "origin": "exploration", "time_s": 9},
]


@pytest.fixture
def values():
    log = events_table(ROWS).to_pandas()
    return compute_metrics(log, MetricContext(episode=0, n_users=1, n_items_available=10))


def test_search_hand_values(values):
    # 5 queries; only query 2 is directly followed by another query (3)
    assert values["reformulation_rate"] == pytest.approx(1 / 5)
    # query 3 abandoned: 1 / 5
    assert values["abandonment_rate"] == pytest.approx(1 / 5)
    # 1 suggestion click / 2 shown
    assert values["suggestion_ctr"] == pytest.approx(1 / 2)
    # the clicked suggestion's query 1 got a search click: 1 / 1
    assert values["query_hit_rate"] == pytest.approx(1.0)
    # 4 feed clicks, 1 with origin query_expansion
    assert values["search_expansion_click_share"] == pytest.approx(1 / 4)
    # existing ones still work: sessions with a query 3 / 3; successes {1, 4} of 5
    assert values["search_share"] == pytest.approx(1.0)
    assert values["query_success_rate"] == pytest.approx(2 / 5)


def test_reformulated_query_ids():
    assert reformulated_queries(events_table(ROWS).to_pandas()).tolist() == [2]


def test_no_suggestions_gives_nan():
    log = events_table(ROWS[8:]).to_pandas()
    v = compute_metrics(log, MetricContext(0, 1, 10), ["suggestion_ctr", "query_hit_rate"])
    assert math.isnan(v["suggestion_ctr"]) and math.isnan(v["query_hit_rate"])


def test_expansion_share_counts_the_origin_name_of_older_logs():
    log = events_table(ROWS).to_pandas()
    log["origin"] = log["origin"].astype(str).replace("query_expansion", "search_expansion")
    values = compute_metrics(log, MetricContext(episode=0, n_users=1, n_items_available=10))
    assert values["search_expansion_click_share"] == pytest.approx(1 / 4)
