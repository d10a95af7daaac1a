import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from experiments.metrics import MetricContext, compute_metrics
from experiments.metrics.echo_chamber import co_consumption_graph

NAMES = ["echo_chamber_modularity", "echo_chamber_topic_assortativity"]


def clicks(pairs):
    """A log of feed clicks (user, item)."""
    users, items = zip(*pairs, strict=True)
    n = len(users)
    return pd.DataFrame(
        {
            "event": pd.Categorical(["click"] * n),
            "user_id": np.array(users, np.int64),
            "item_id": np.array(items, np.int64),
            "session_id": np.arange(n, dtype=np.int64),
        }
    )


def context(dominant, n_topics=2):
    interests = np.full((len(dominant), n_topics), 0.1)
    interests[np.arange(len(dominant)), dominant] = 0.9
    return MetricContext(
        episode=0, n_users=len(dominant), n_items_available=10, interests=interests
    )


def test_two_separate_groups_of_like_minded_users():
    # Users 0-2 all click items 0 and 1; users 3-5 all click items 2 and 3: two triangles
    # with weight 2 on every edge. Louvain finds the two triangles; modularity
    # Q = sum_c [w_c/W - (s_c/2W)^2] = 2 * (6/12 - (12/24)^2) = 2 * (1/2 - 1/4) = 0.5.
    # Links join only users of the same dominant topic: assortativity 1.
    log = clicks(
        [(u, i) for u in (0, 1, 2) for i in (0, 1)] + [(u, i) for u in (3, 4, 5) for i in (2, 3)]
    )
    values = compute_metrics(log, context([0, 0, 0, 1, 1, 1]), NAMES)
    assert values["echo_chamber_modularity"] == pytest.approx(0.5)
    assert values["echo_chamber_topic_assortativity"] == pytest.approx(1.0)


def test_links_across_topics_give_negative_assortativity():
    # Pairs (0,1), (2,3), (4,5) each share one item and differ in dominant topic: every
    # link is between topics, so the topic mixing matrix is off-diagonal: r = -1.
    log = clicks([(0, 0), (1, 0), (2, 1), (3, 1), (4, 2), (5, 2)])
    values = compute_metrics(log, context([0, 1, 0, 1, 0, 1]), NAMES)
    assert values["echo_chamber_topic_assortativity"] == pytest.approx(-1.0)


def test_weights_count_distinct_shared_items_and_knn_keeps_the_strongest():
    # User 0 shares 3 items with user 1, 2 with user 2 and 1 with user 3 (repeat clicks
    # of one item count once). With one neighbour per user, 0 keeps 1; 2 and 3 keep 0.
    log_pairs = [(0, 0), (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (3, 0)]
    users, items = np.array(log_pairs).T
    full = co_consumption_graph(users, items, neighbours=10)
    assert full[0][1]["weight"] == 3 and full[0][2]["weight"] == 2 and full[0][3]["weight"] == 1
    assert full[1][2]["weight"] == 2 and full[2][3]["weight"] == 1
    sparse1 = co_consumption_graph(users, items, neighbours=1)
    assert sorted(sparse1.edges) == [(0, 1), (0, 2), (0, 3)]


def test_sampling_needs_a_stream_and_is_deterministic():
    users = np.repeat(np.arange(50), 2)
    items = np.tile([0, 1], 50)
    with pytest.raises(ValueError, match="rng is needed"):
        co_consumption_graph(users, items, max_users=10)
    a = co_consumption_graph(users, items, np.random.default_rng(1), max_users=10)
    b = co_consumption_graph(users, items, np.random.default_rng(1), max_users=10)
    assert a.number_of_nodes() == 10 and nx.utils.graphs_equal(a, b)


def test_nan_without_enough_users_or_truth():
    log = clicks([(0, 0), (1, 0)])
    values = compute_metrics(log, context([0, 1]), NAMES)
    assert all(math.isnan(v) for v in values.values())
    big = clicks([(u, 0) for u in range(4)])
    no_truth = MetricContext(episode=0, n_users=4, n_items_available=1)
    assert math.isnan(compute_metrics(big, no_truth, NAMES)["echo_chamber_topic_assortativity"])
