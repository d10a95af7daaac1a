"""Metric functions, history masking, random tie-breaking and the split, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.replay.metrics import (
    Outcomes,
    evaluate_scores,
    expected_metric,
    mask_history,
    metrics_from_outcomes,
    target_outcomes,
)
from experiments.replay.protocol import ReplayDataset
from experiments.replay.split import make_stage


def outcomes(higher: list[int], ties: list[int] | None = None) -> Outcomes:
    t = np.zeros(len(higher), int) if ties is None else np.array(ties)
    return Outcomes(np.array(higher), t)


def test_rank_and_metrics_by_hand() -> None:
    # items:            0    1    2    3    4    5
    scores = np.array([[0.9, 0.1, 0.8, 0.2, 0.5, 0.3]], dtype=np.float32)
    # target 4 (0.5): items 0 (0.9) and 2 (0.8) are higher, no tie → 0-based rank 2
    oc = target_outcomes(scores, np.array([4]))
    assert oc.higher.tolist() == [2] and oc.ties.tolist() == [0]
    m = metrics_from_outcomes(oc)
    # hit in the top 5 and top 10; NDCG = 1 / log2(2 + 2) = 1 / 2 = 0.5
    assert m == {"recall@5": 1.0, "ndcg@5": 0.5, "recall@10": 1.0, "ndcg@10": 0.5}


def test_metrics_average_over_users() -> None:
    # ranks 0, 4, 7, 12 (0-based, no ties):
    #   recall@5 = 2/4 (ranks 0, 4); recall@10 = 3/4 (ranks 0, 4, 7)
    #   ndcg@5 = (1/log2(2) + 1/log2(6)) / 4 = (1 + 0.386853) / 4 = 0.346713
    #   ndcg@10 = (1 + 1/log2(6) + 1/log2(9)) / 4 = (1 + 0.386853 + 0.315465) / 4 = 0.425580
    m = metrics_from_outcomes(outcomes([0, 4, 7, 12]))
    assert m["recall@5"] == 0.5
    assert m["recall@10"] == 0.75
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(6)) / 4)
    assert m["ndcg@10"] == pytest.approx(0.425580, abs=1e-6)


def test_ties_are_scored_as_the_expectation_over_random_tie_breaking() -> None:
    scores = np.array([[1.0, 1.0, 1.0, 0.0, 2.0]])
    # target 2: item 4 higher; items 0 and 1 tie → position uniform on {1, 2, 3}
    oc = target_outcomes(scores, np.array([2]))
    assert (oc.higher.tolist(), oc.ties.tolist()) == ([1], [2])
    assert oc.expected_rank.tolist() == [2.0]
    # recall@2: only position 1 counts → 1/3; recall@5: all → 1
    assert expected_metric(oc, "recall@2")[0] == pytest.approx(1 / 3)
    assert expected_metric(oc, "recall@5")[0] == 1.0
    # ndcg@5 = (1/log2(3) + 1/log2(4) + 1/log2(5)) / 3 = (0.630930 + 0.5 + 0.430677) / 3
    assert expected_metric(oc, "ndcg@5")[0] == pytest.approx(0.520535, abs=1e-6)
    # ndcg@3: positions 1, 2 count → (0.630930 + 0.5) / 3 = 0.376977
    assert expected_metric(oc, "ndcg@3")[0] == pytest.approx(0.376977, abs=1e-6)
    # the answer does not depend on item ids: swap the tied items' order
    assert target_outcomes(scores[:, [2, 1, 0, 3, 4]], np.array([0])).ties.tolist() == [2]


def test_unretrieved_items_share_the_last_places() -> None:
    # 2 retrieved items, target and 2 others at -inf: position uniform on {2, 3, 4}
    scores = np.array([[3.0, -np.inf, 2.0, -np.inf, -np.inf]])
    oc = target_outcomes(scores, np.array([1]))
    assert (oc.higher.tolist(), oc.ties.tolist()) == ([2], [2])
    assert expected_metric(oc, "recall@3")[0] == pytest.approx(1 / 3)
    assert expected_metric(oc, "recall@2")[0] == 0.0


def test_mask_history_excludes_seen_items_from_ties_and_ranks() -> None:
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    mask_history(scores, [np.array([0, 1]), np.array([3, 4])], np.array([3, 4]))
    assert np.isnan(scores[0, :2]).all() and scores[0, 2:].tolist() == [3.0, 2.0, 1.0]
    assert scores[1, 4] == 1.0 and np.isnan(scores[1, 3])  # target 4 kept
    # masked -inf items of a history do not tie with an unretrieved target
    s = np.array([[1.0, -np.inf, -np.inf, -np.inf]])
    mask_history(s, [np.array([1, 2])], np.array([3]))
    oc = target_outcomes(s, np.array([3]))
    assert (oc.higher.tolist(), oc.ties.tolist()) == ([1], [0])


def test_masking_changes_the_rank() -> None:
    # Without masking, target 3 sits behind items 0, 1, 2 (rank 3 → NDCG 1/log2(5));
    # the user has seen 0 and 1, so after masking it is 2nd (rank 1 → NDCG 1/log2(3)).
    def score(hists):
        return np.tile(np.array([4.0, 3.0, 2.0, 1.0, 0.0], dtype=np.float32), (len(hists), 1))

    ((m, oc),) = evaluate_scores(score, [np.array([0, 1])], np.array([3]))
    assert oc.higher.tolist() == [1]
    assert m["ndcg@5"] == pytest.approx(1 / math.log2(3))


def test_evaluate_in_chunks_equals_one_chunk_and_settings_are_separate() -> None:
    rng = np.random.default_rng(0)
    table = rng.random((7, 20)).astype(np.float32)
    hists = [rng.choice(20, size=3, replace=False) for _ in range(7)]
    targets = np.array([next(i for i in range(20) if i not in h) for h in hists])
    rows = iter(range(7))

    def score(h):
        return table[[next(rows) for _ in h]]

    ((a, ra),) = evaluate_scores(score, hists, targets, chunk_size=3)
    rows = iter(range(7))
    ((b, rb),) = evaluate_scores(score, hists, targets, chunk_size=100)
    assert a == b and ra.higher.tolist() == rb.higher.tolist()
    offsets = iter(range(7))

    def two(h):
        block = table[[next(offsets) for _ in h]]
        yield block
        yield -block  # a second setting: the reverse ranking

    (m1, o1), (_, o2) = evaluate_scores(two, hists, targets, chunk_size=3, n_settings=2)
    assert m1 == a and o1.higher.tolist() == ra.higher.tolist()
    assert (o2.higher + o1.higher).tolist() == [20 - 3 - 1] * 7  # reversed, no ties
    with pytest.raises(ValueError, match="settings"):
        evaluate_scores(lambda h: iter([table[: len(h)]]), hists, targets, n_settings=2)


def test_leave_one_out_split() -> None:
    seqs = [np.array([0, 1, 2, 3]), np.array([4, 2]), np.array([1])]
    ds = ReplayDataset("tiny", 5, seqs)
    valid = make_stage(ds, "valid")
    # valid: target = second-to-last; users with ≥ 2 items; fitted on items before it
    assert valid.users.tolist() == [0, 1]
    assert valid.targets.tolist() == [2, 4]
    assert [h.tolist() for h in valid.histories] == [[0, 1], []]
    assert [s.tolist() for s in valid.train.sequences] == [[0, 1], [], []]
    assert valid.train.stage == "valid"
    test = make_stage(ds, "test")
    # test: target = last; every user; fitted on everything up to the validation item
    assert test.users.tolist() == [0, 1, 2]
    assert test.targets.tolist() == [3, 2, 1]
    assert [h.tolist() for h in test.histories] == [[0, 1, 2], [4], []]
    assert [s.tolist() for s in test.train.sequences] == [[0, 1, 2], [4], []]
    with pytest.raises(ValueError):
        make_stage(ds, "train")
