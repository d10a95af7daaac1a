"""Metric functions, history masking and the leave-one-out split, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.replay.metrics import (
    MISSED_RANK,
    evaluate_scores,
    mask_history,
    metrics_from_ranks,
    target_ranks,
)
from experiments.replay.protocol import ReplayDataset
from experiments.replay.split import make_stage


def test_rank_and_metrics_by_hand() -> None:
    # items:            0    1    2    3    4    5
    scores = np.array([[0.9, 0.1, 0.8, 0.2, 0.5, 0.3]], dtype=np.float32)
    # target 4 (0.5): items 0 (0.9) and 2 (0.8) are higher → 0-based rank 2 (3rd place)
    ranks = target_ranks(scores, np.array([4]))
    assert ranks.tolist() == [2]
    m = metrics_from_ranks(ranks)
    # hit in the top 5 and top 10; NDCG = 1 / log2(3 + 1) = 1 / 2 = 0.5
    assert m == {"recall@5": 1.0, "ndcg@5": 0.5, "recall@10": 1.0, "ndcg@10": 0.5}


def test_metrics_average_over_users() -> None:
    # ranks 0, 4, 7, 12 (0-based):
    #   recall@5 = 2/4 (ranks 0, 4); recall@10 = 3/4 (ranks 0, 4, 7)
    #   ndcg@5 = (1/log2(2) + 1/log2(6)) / 4 = (1 + 0.386853) / 4 = 0.346713
    #   ndcg@10 = (1 + 1/log2(6) + 1/log2(9)) / 4 = (1 + 0.386853 + 0.315465) / 4 = 0.425580
    m = metrics_from_ranks(np.array([0, 4, 7, 12]))
    assert m["recall@5"] == 0.5
    assert m["recall@10"] == 0.75
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(6)) / 4)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(6) + 1 / math.log2(9)) / 4)
    assert m["ndcg@10"] == pytest.approx(0.425580, abs=1e-6)


def test_ties_broken_by_item_id_and_minus_inf_is_a_miss() -> None:
    scores = np.array([[1.0, 1.0, 1.0, 0.0], [-np.inf, -np.inf, -np.inf, -np.inf]])
    # row 0: target 2 ties with items 0 and 1 (lower ids first) → rank 2
    # row 1: target 0 not retrieved → MISSED_RANK (a miss though nothing outranks it)
    ranks = target_ranks(scores, np.array([2, 0]))
    assert ranks.tolist() == [2, MISSED_RANK]
    assert metrics_from_ranks(ranks[1:], ks=(5,)) == {"recall@5": 0.0, "ndcg@5": 0.0}


def test_mask_history_excludes_seen_items_but_never_the_target() -> None:
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    mask_history(scores, [np.array([0, 1]), np.array([3, 4])], np.array([3, 4]))
    assert scores[0].tolist() == [-np.inf, -np.inf, 3.0, 2.0, 1.0]
    assert scores[1].tolist() == [5.0, 4.0, 3.0, -np.inf, 1.0]  # target 4 kept


def test_masking_changes_the_rank() -> None:
    # Without masking, target 3 sits behind items 0, 1, 2 (rank 3, 4th place → NDCG 1/log2(5));
    # the user has seen 0 and 1, so after masking it is 2nd (rank 1 → NDCG 1/log2(3)).
    def score(hists):
        return np.tile(np.array([4.0, 3.0, 2.0, 1.0, 0.0], dtype=np.float32), (len(hists), 1))

    m, ranks = evaluate_scores(score, [np.array([0, 1])], np.array([3]))
    assert ranks.tolist() == [1]
    assert m["ndcg@5"] == pytest.approx(1 / math.log2(3))


def test_evaluate_in_chunks_equals_one_chunk() -> None:
    rng = np.random.default_rng(0)
    table = rng.random((7, 20)).astype(np.float32)
    hists = [rng.choice(20, size=3, replace=False) for _ in range(7)]
    targets = np.array([next(i for i in range(20) if i not in h) for h in hists])
    rows = iter(range(7))

    def score(h):
        return table[[next(rows) for _ in h]]

    a, ra = evaluate_scores(score, hists, targets, chunk_size=3)
    rows = iter(range(7))
    b, rb = evaluate_scores(score, hists, targets, chunk_size=100)
    assert a == b and ra.tolist() == rb.tolist()


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
