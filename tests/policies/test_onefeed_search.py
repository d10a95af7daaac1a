"""OneFeed's search page: cascade labels, the EM click model, click text, feature memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policies.onefeed_search import (
    CascadeRanker,
    SearchClickStats,
    SearchFeatureMemory,
    SearchQueries,
    cascade_examined,
    cascade_success,
    clicked_result_lists,
    no_click_examination,
    reciprocal_rank_of_clicks,
)

COLUMNS = ["event", "query_id", "item_id", "position", "query"]


def log(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["event"] = pd.Categorical(frame["event"])
    return frame


def shown(qid: int, items: list[int]) -> list[tuple]:
    return [("search_impression", qid, it, p, None) for p, it in enumerate(items)]


SEARCH_LOG = log([
    ("query", 1, -1, -1, "red car"),
    *shown(1, [7, 3, 9]),
    ("search_click", 1, 3, 1, None),
    ("query", 2, -1, -1, "blue"),
    *shown(2, [4, 5]),
])  # fmt: skip


def test_cascade_examined_stops_at_the_first_click():
    seen = cascade_examined(SEARCH_LOG)
    rows = list(zip(seen.query_id, seen.item_id, seen.position, seen.clicked, strict=True))
    # Query 1: 7 skipped, 3 clicked, 9 not examined. Query 2 (no click): position 0 only.
    assert rows == [(1, 7, 0, False), (1, 3, 1, True), (2, 4, 0, False)]


def test_no_click_examination_matches_the_docstring_arithmetic():
    # r = (0.5, 0.5), c = 0.5: T1 = 0.5, T0 = 0.5 * (0.5 + 0.5 * 0.5) = 0.375,
    # A1 = 0.5 * 0.5 = 0.25, so P(examined 1 | no click) = 0.25 * 0.5 / 0.375 = 1/3.
    out = no_click_examination(np.array([[0.5, 0.5]]), np.array([[True, True]]), 0.5)
    assert out == pytest.approx(np.array([[1.0, 1.0 / 3.0]]))


def test_no_click_examination_equals_brute_force_enumeration():
    rng = np.random.default_rng(3)
    r = rng.uniform(0.05, 0.9, size=4)
    c = 0.7
    p_none, p_seen = 0.0, np.zeros(4)

    def walk(j: int, prob: float, reached: list[int]) -> None:
        """Every no-click path of the cascade from position j (reached with ``prob``)."""
        nonlocal p_none
        skip = prob * (1 - r[j])  # the other branch, a click, is not a no-click path
        if j == 3:
            ends = [(skip, reached)]
        else:
            ends = [(skip * (1 - c), reached)]
            walk(j + 1, skip * c, [*reached, j + 1])
        for p, seen in ends:
            p_none += p
            p_seen[seen] += p

    walk(0, 1.0, [0])
    got = no_click_examination(r[None, :], np.ones((1, 4), bool), c)[0]
    assert got == pytest.approx(p_seen / p_none)


def test_no_click_examination_respects_shorter_result_lists():
    r = np.array([[0.2, 0.2, 0.2], [0.2, 0.2, 0.0]])
    valid = np.array([[True, True, True], [True, True, False]])
    out = no_click_examination(r, valid, 0.5)
    assert out[1, 2] == 0.0
    # Two results: T1 = 0.8, T0 = 0.8 * (0.5 + 0.5 * 0.8) = 0.72, A1 = 0.5 * 0.8 = 0.4,
    # P(examined 1 | no click) = 0.4 * 0.8 / 0.72 = 4/9.
    assert out[1, 1] == pytest.approx(4.0 / 9.0)


def simulate_cascade(n: int, w: np.ndarray, b: float, c: float, depth: int, seed: int):
    """Queries ranked by a *wrong* score (so the fit must undo the ranking's selection)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, depth, w.size))
    # The served order puts high x[..., 0] first although the truth ignores it.
    order = np.argsort(-x[..., 0], axis=1)
    x = np.take_along_axis(x, order[..., None], axis=1)
    r = 1.0 / (1.0 + np.exp(-(b + x @ w)))
    click_pos = np.full(n, -1)
    for i in range(n):
        for j in range(depth):
            if rng.random() < r[i, j]:
                click_pos[i] = j
                break
            if rng.random() >= c:
                break
    return SearchQueries(x, np.ones((n, depth), bool), click_pos)


def test_cascade_ranker_recovers_the_click_model_and_continuation():
    w_true, b_true, c_true = np.array([0.0, 1.0, -0.5]), -1.5, 0.7
    queries = simulate_cascade(6000, w_true, b_true, c_true, depth=6, seed=0)
    ranker = CascadeRanker(np.array([1.0, 0.0, 0.0]), memory_episodes=1, em_iterations=30)
    ranker.observe(queries)
    assert ranker.fit()
    assert ranker.weights == pytest.approx(w_true, abs=0.12)
    assert ranker.intercept == pytest.approx(b_true, abs=0.15)
    assert ranker.continue_prob == pytest.approx(c_true, abs=0.06)


def test_cascade_ranker_waits_for_enough_clicks():
    queries = simulate_cascade(20, np.array([1.0]), -3.0, 0.5, depth=3, seed=1)
    ranker = CascadeRanker(np.array([0.3]), min_clicks=50)
    ranker.observe(queries)
    assert not ranker.fit()
    assert ranker.weights.tolist() == [0.3] and ranker.n_fits == 0


def test_click_text_is_the_idf_weighted_log_click_count():
    stats = SearchClickStats(n_items=10)
    stats.add_episode(SEARCH_LOG, decay=0.5)
    # One click: "red" and "car" each led to item 3 once; each word reaches 1 item, so
    # idf = log(1 + 10 / 2) for both and the match is log(1 + 1) = log 2 for item 3.
    got = stats.click_text(["red car", "red zzz", "zzz"], np.array([[3, 7], [3, -1], [3, 7]]))
    assert got == pytest.approx(np.array([[np.log(2), 0.0], [np.log(2), 0.0], [0.0, 0.0]]))
    # A second episode decays the first by 0.5 and adds one more "car" -> 3 click.
    stats.add_episode(SEARCH_LOG.assign(query=SEARCH_LOG["query"].replace("red car", "car")), 0.5)
    got = stats.click_text(["car"], np.array([[3]]))
    assert got == pytest.approx(np.array([[np.log(1 + 1.5)]]))


def test_search_click_rate_counts_cascade_examined_results():
    stats = SearchClickStats(n_items=10, rate_prior=2.0)
    stats.add_episode(SEARCH_LOG, decay=1.0)
    assert stats.examined[[7, 3, 9, 4]].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert stats.clicked[[7, 3, 9, 4]].tolist() == [0.0, 1.0, 0.0, 0.0]
    # Prior rate (1 + 1) / (3 + 2) = 0.4; item 3: (1 + 2 * 0.4) / (1 + 2) = 0.6.
    assert stats.rate_logit()[3] == pytest.approx(np.log(0.6 / 0.4))
    stats.grow(12)
    assert stats.rate_logit().shape == (12,)
    assert stats.click_text(["red"], np.array([[11]])) == pytest.approx(np.array([[0.0]]))


def test_feature_memory_lines_features_up_with_displayed_positions():
    memory = SearchFeatureMemory()
    # The policy ranked query 1's candidates [9, 3, 7] (features 0.9, 0.3, 0.7) and
    # query 2's [5, 4]; the log shows the displayed order.
    memory.remember(np.array([1]), np.array([[9, 3, 7]]), np.array([[[0.9], [0.3], [0.7]]]))
    memory.remember(np.array([2]), np.array([[5, 4, -1]]), np.array([[[0.5], [0.4], [0.0]]]))
    q = memory.displayed(SEARCH_LOG)
    assert q.click_pos.tolist() == [1, -1]
    assert q.valid.tolist() == [[True, True, True], [True, True, False]]
    assert q.features[0, :, 0].tolist() == pytest.approx([0.7, 0.3, 0.9])
    assert q.features[1, :2, 0].tolist() == pytest.approx([0.4, 0.5])
    assert memory.displayed(SEARCH_LOG).click_pos.size == 0  # forgotten after use


def test_cascade_success_matches_the_docstring_arithmetic():
    # r = (0.5, 0.5), c = 0.5: 0.5 + (0.5 * 0.5) * 0.5 = 0.625; a second list shows one
    # result only (the padding must not count).
    r = np.array([[0.5, 0.5], [0.5, 0.9]])
    valid = np.array([[True, True], [True, False]])
    assert cascade_success(r, valid, 0.5) == pytest.approx([0.625, 0.5])


def test_cascade_success_is_the_mean_of_simulated_cascades():
    rng = np.random.default_rng(0)
    r, c, n = np.array([0.3, 0.6, 0.2]), 0.7, 200_000
    click_u, go_u = rng.random((n, 3)), rng.random((n, 3))
    clicked = np.zeros(n, dtype=bool)
    alive = np.ones(n, dtype=bool)
    for j in range(3):
        hit = alive & (click_u[:, j] < r[j])
        clicked |= hit
        alive &= ~hit & (go_u[:, j] < c)
    expected = cascade_success(r[None, :], np.ones((1, 3), bool), c)[0]
    assert clicked.mean() == pytest.approx(expected, abs=0.005)


def test_clicked_result_lists_and_their_reciprocal_rank():
    texts, items, click_pos = clicked_result_lists(SEARCH_LOG)
    assert texts == ["red car"]  # query 2 had no click
    assert items.tolist() == [[7, 3, 9]] and click_pos.tolist() == [1]
    # Scores [0.1, 0.9, 0.5]: the clicked item 3 (0.9) ranks first -> RR 1.
    assert reciprocal_rank_of_clicks(np.array([[0.1, 0.9, 0.5]]), items, click_pos) == 1.0
    # Scores [0.8, 0.5, 0.5]: 0.8 is higher and 0.5 ties -> rank 3, RR 1/3.
    got = reciprocal_rank_of_clicks(np.array([[0.8, 0.5, 0.5]]), items, click_pos)
    assert got == pytest.approx(1 / 3)
