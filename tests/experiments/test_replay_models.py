"""Classical baselines on tiny datasets with hand-computed scores."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.replay.baselines import (
    EASE,
    SLIST,
    Blend,
    CoocKNN,
    ImplicitMF,
    Popularity,
    RandomScores,
    Transition,
)
from experiments.replay.baselines.blend import scale_rows
from experiments.replay.baselines.ease import ease_weights
from experiments.replay.baselines.knn import cooccurrence
from experiments.replay.baselines.mf import fold_in
from experiments.replay.baselines.slist import slist_matrices
from experiments.replay.protocol import Recommender, ReplayDataset, TrainData
from experiments.replay.split import make_stage

EPS = 1e-6  # popularity tie-breaker weight of transition / kNN / EASE


def train(seqs: list[list[int]], n_items: int, all_seqs: list[list[int]] | None = None):
    arrays = [np.asarray(s, dtype=np.int64) for s in seqs]
    full = [np.asarray(s, dtype=np.int64) for s in (all_seqs or seqs)]
    return TrainData(ReplayDataset("tiny", n_items, full), arrays, "test")


def test_models_follow_the_protocol() -> None:
    for model in (
        Popularity(),
        Transition(),
        CoocKNN(),
        EASE(),
        SLIST(),
        ImplicitMF(),
        RandomScores(),
    ):
        assert isinstance(model, Recommender)


def test_popularity_counts_training_or_all() -> None:
    data = train([[0, 1], [1]], 3, all_seqs=[[0, 1, 2], [1, 2]])
    honest, leaky = Popularity(), Popularity(use_all=True)
    honest.fit(data, 0)
    leaky.fit(data, 0)
    assert honest.score([np.array([0])]).tolist() == [[1.0, 2.0, 0.0]]
    assert leaky.score([np.array([0])]).tolist() == [[1.0, 2.0, 2.0]]


def test_transition_scores_by_hand() -> None:
    # transitions: 0→1 (twice), 1→2 (twice), 1→3 (once); item 4 unseen
    data = train([[0, 1, 2], [0, 1, 3], [1, 2]], 5)
    pop = np.array([2, 3, 2, 1, 0]) / 3  # counts / max count
    m = Transition(backoff=0.0)
    m.fit(data, 0)
    # last item 1: P(·|1) = [0, 0, 2/3, 1/3, 0]
    expected = np.array([0, 0, 2 / 3, 1 / 3, 0]) + EPS * pop
    np.testing.assert_allclose(m.score([np.array([0, 1])])[0], expected, rtol=1e-6)
    m = Transition(backoff=0.5)
    m.fit(data, 0)
    # + 0.5 * P(·|0) = 0.5 * [0, 1, 0, 0, 0]
    expected = np.array([0, 0.5, 2 / 3, 1 / 3, 0]) + EPS * pop
    np.testing.assert_allclose(m.score([np.array([0, 1])])[0], expected, rtol=1e-6)
    m = Transition(backoff=0.0, symmetric=1.0)
    m.fit(data, 0)
    # row 1 of T + T^T: 1←0 twice, 1→2 twice, 1→3 once → [2, 0, 2, 1, 0] / 5
    expected = np.array([0.4, 0, 0.4, 0.2, 0]) + EPS * pop
    np.testing.assert_allclose(m.score([np.array([1])])[0], expected, rtol=1e-6)
    # empty history: popularity backoff only
    np.testing.assert_allclose(m.score([np.array([], dtype=np.int64)])[0], EPS * pop, rtol=1e-5)


def test_second_order_transitions_by_hand() -> None:
    # pairs → next: (0,1)→2, (0,1)→3, (1,2)→4, (0,1)→2 : P2[(0,1)] = [0, 0, 2/3, 1/3, 0]
    data = train([[0, 1, 2, 4], [0, 1, 3], [5, 0, 1, 2]], 6)
    m = Transition(backoff=0.0, order2=2.0)
    m.fit(data, 0)
    pop = np.array([3, 3, 2, 1, 1, 1]) / 3  # occurrences / max
    # first order from item 1: 1→2 twice, 1→3 once → [0, 0, 2/3, 1/3, 0, 0]
    first = np.array([0, 0, 2 / 3, 1 / 3, 0, 0])
    second = np.array([0, 0, 2 / 3, 1 / 3, 0, 0])
    got = m.score([np.array([0, 1]), np.array([4, 1])])
    np.testing.assert_allclose(got[0], first + 2.0 * second + EPS * pop, rtol=1e-6)
    # the pair (4, 1) was never seen: the first-order part alone
    np.testing.assert_allclose(got[1], first + EPS * pop, rtol=1e-6)
    # score settings: order2 and backoff switch without a refit
    m.set_score_params(backoff=0.5, window=5, order2=0.0)
    # + 0.5 * P1[0] = 0.5 * [0, 1, 0, 0, 0, 0] (0→1 three times)
    np.testing.assert_allclose(
        m.score([np.array([0, 1])])[0],
        first + 0.5 * np.array([0, 1, 0, 0, 0, 0]) + EPS * pop,
        rtol=1e-6,
    )
    assert {"backoff", "window", "order2"} <= set(m.score_grid()[0])


def test_cooccurrence_counts_by_hand() -> None:
    # sequence [0, 1, 2]: gap 1 pairs (0,1), (1,2) weight 1; gap 2 pair (0,2) weight 0.5
    C = cooccurrence([np.array([0, 1, 2])], 3, window=0, gap_decay=0.5, backward=0.25)
    expected = np.array(
        [
            [0, 1.0, 0.5],  # followers of 0
            [0.25, 0, 1.0],  # 0 precedes 1 (backward 0.25); 2 follows 1
            [0.125, 0.25, 0],  # predecessors of 2: 0 at gap 2 (0.25 * 0.5), 1 (0.25)
        ]
    )
    np.testing.assert_allclose(C.toarray(), expected)
    # window 1 drops the gap-2 pair
    C1 = cooccurrence([np.array([0, 1, 2])], 3, window=1, gap_decay=0.5, backward=0.25)
    assert C1[0, 2] == 0 and C1[2, 0] == 0 and C1[0, 1] == 1.0


def test_cooc_knn_scores_by_hand() -> None:
    # users [0, 1], [1, 2]; window 1, backward 1: C01 = C10 = 1, C12 = C21 = 1
    # counts n = [1, 2, 1]
    data = train([[0, 1], [1, 2]], 3)
    m = CoocKNN(window=1, gap_decay=1.0, backward=1.0, history_decay=0.5, beta=0.5)
    m.fit(data, 0)
    pop = np.array([1, 2, 1]) / 2
    # history [0, 2]: item 2 (age 0, weight 1), item 0 (age 1, weight 0.5), each / sqrt(n_h)
    #   raw(j) = 0.5 * C[0, j] / sqrt(1) + 1 * C[2, j] / sqrt(1) → raw(1) = 0.5 + 1 = 1.5
    #   score(j) = raw(j) / n_j ** 0.5 → score(1) = 1.5 / sqrt(2)
    expected = np.array([0, 1.5 / np.sqrt(2), 0]) + EPS * pop
    np.testing.assert_allclose(m.score([np.array([0, 2])])[0], expected, rtol=1e-6)
    # the score-time settings share one product per decay and match set-then-score
    settings = m.score_grid()
    many = list(m.score_settings([np.array([0, 2]), np.array([1])], settings))
    for setting, got in zip(settings, many, strict=True):
        m.set_score_params(**setting)
        np.testing.assert_allclose(got, m.score([np.array([0, 2]), np.array([1])]), rtol=1e-6)


def test_slist_matrices_by_hand() -> None:
    X, X0, S, T = slist_matrices([np.array([0, 1, 2])], 3, train_weight=1.0)
    # SLIS: one row, items {0,1,2}, input L2-normalised
    np.testing.assert_allclose(X.toarray(), np.full((1, 3), 1 / np.sqrt(3)))
    np.testing.assert_allclose(X0.toarray(), np.ones((1, 3)))
    # SLIT row t=0: input item 0 (weight 1); target items 1 (e^0) and 2 (e^-1)
    # SLIT row t=1: input items 0 (e^-1), 1 (e^0), normalised; target item 2 (e^0)
    e = np.exp(-1.0)
    np.testing.assert_allclose(
        S.toarray(), [[1, 0, 0], [e / np.hypot(e, 1), 1 / np.hypot(e, 1), 0]], rtol=1e-12
    )
    np.testing.assert_allclose(T.toarray(), [[0, 1, e], [0, 0, 1]], rtol=1e-12)


def test_slist_is_the_ridge_solution_of_its_stacked_objective() -> None:
    rng = np.random.default_rng(4)
    seqs = [rng.choice(6, size=int(rng.integers(2, 6)), replace=False) for _ in range(12)]
    data = train([list(s) for s in seqs], 6)
    m = SLIST(alpha=0.3, reg=2.0, train_weight=2.0, predict_weight=1.0)
    m.fit(data, 0)
    X, X0, S, T = slist_matrices(seqs, 6, train_weight=2.0)
    A = np.vstack([np.sqrt(0.3) * X.toarray(), np.sqrt(0.7) * S.toarray()])
    Y = np.vstack([np.sqrt(0.3) * X0.toarray(), np.sqrt(0.7) * T.toarray()])
    # B = argmin ||Y - A B||² + reg ||B||²  ⇔  (AᵀA + reg I) B = AᵀY
    B = np.linalg.solve(A.T @ A + 2.0 * np.eye(6), A.T @ Y)
    np.testing.assert_allclose(m._B, B, rtol=1e-4, atol=1e-5)
    # score of history [3, 1]: exp(-1) * B[3] + B[1] (+ tie-breaker)
    pop = np.bincount(np.concatenate(seqs), minlength=6) / np.bincount(np.concatenate(seqs)).max()
    expected = np.exp(-1.0) * B[3] + B[1] + EPS * pop
    np.testing.assert_allclose(m.score([np.array([3, 1])])[0], expected, rtol=1e-4, atol=1e-5)


def test_blend_scales_rows_and_sums_with_weights() -> None:
    data = train([[0, 1, 2], [0, 1, 3], [1, 2]], 5)
    comps = {
        "transition": (lambda p: Transition(**p), {}, {}),
        "popularity": (lambda p: Popularity(), {}, {}),
    }
    blend = Blend(comps)
    blend.fit(data, 0)
    h = [np.array([0, 1])]
    t = Transition()
    t.fit(data, 0)
    p = Popularity()
    p.fit(data, 0)
    np.testing.assert_allclose(blend.score(h), scale_rows(t.score(h)), rtol=1e-6)
    settings = [{"weights": {"transition": 1.0, "popularity": 0.5}}]
    (got,) = blend.score_settings(h, settings)
    np.testing.assert_allclose(
        got, scale_rows(t.score(h)) + 0.5 * scale_rows(p.score(h)), rtol=1e-6
    )
    assert scale_rows(np.array([[2.0, 1.0, -np.inf]])).tolist() == [[1.0, 0.5, -np.inf]]


def test_ease_closed_form_matches_direct_solve() -> None:
    rng = np.random.default_rng(7)
    X = (rng.random((40, 9)) < 0.35).astype(np.float64)
    lam = 3.0
    G = X.T @ X
    # Direct: minimise ||X - XB||² + λ||B||² s.t. diag(B) = 0, one column at a time:
    # column j solves (G + λI)_{-j,-j} b = G_{-j, j} over the other items.
    direct = np.zeros((9, 9))
    for j in range(9):
        idx = [i for i in range(9) if i != j]
        A = G[np.ix_(idx, idx)] + lam * np.eye(8)
        direct[idx, j] = np.linalg.solve(A, G[idx, j])
    B = ease_weights(np.asfortranarray(G.copy()), lam)
    np.testing.assert_allclose(B, direct, atol=1e-10)
    # and the formula B = I - P / diag(P)
    P = np.linalg.inv(G + lam * np.eye(9))
    np.testing.assert_allclose(B, np.eye(9) - P / np.diag(P), atol=1e-10)
    # the float32 factorisation used by default agrees to single precision
    B32 = ease_weights(np.asfortranarray(G.astype(np.float32)), lam)
    assert B32.dtype == np.float32
    np.testing.assert_allclose(B32, direct, atol=1e-5)


def test_ease_scores_are_history_times_B() -> None:
    seqs = [[0, 1], [0, 1, 2], [2, 3], [1, 3]]
    data = train(seqs, 4)
    m = EASE(lam=1.0)
    m.fit(data, 0)
    X = np.zeros((4, 4))
    for u, s in enumerate(seqs):
        X[u, s] = 1
    P = np.linalg.inv(X.T @ X + np.eye(4))
    B = np.eye(4) - P / np.diag(P)
    pop = X.sum(0) / X.sum(0).max()
    np.testing.assert_allclose(
        m.score([np.array([0, 2])])[0], B[0] + B[2] + EPS * pop, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "model", [Transition(order2=1.0), CoocKNN(), EASE(lam=1.0), Popularity(), SLIST()]
)
def test_scores_shape_dtype_and_determinism(model) -> None:
    seqs = [np.array([0, 1, 2, 3]), np.array([4, 2, 1]), np.array([3, 0, 4])]
    stage = make_stage(ReplayDataset("tiny", 6, seqs), "test")
    model.fit(stage.train, 0)
    a = model.score(stage.histories)
    model.fit(stage.train, 1)
    b = model.score(stage.histories)
    assert a.shape == (3, 6) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_random_scores_are_seeded_uniform_and_chunk_independent() -> None:
    data = train([[0, 1], [2, 3], [4]], 7)
    histories = [np.array([0, 1]), np.array([2]), np.array([], dtype=np.int64), np.array([5])]
    m = RandomScores()
    m.fit(data, 3)
    a = m.score(histories)
    m.fit(data, 3)  # refit with the same seed: the same stream again
    np.testing.assert_array_equal(m.score(histories), a)
    m.fit(data, 3)
    chunked = np.vstack([m.score(histories[:1]), m.score(histories[1:])])
    np.testing.assert_array_equal(chunked, a)  # draws are consumed in user order
    m.fit(data, 4)
    assert not np.array_equal(m.score(histories), a)
    assert a.shape == (4, 7) and a.dtype == np.float32
    assert (a >= 0).all() and (a < 1).all()


def co_consumed(n_pairs: int = 4, copies: int = 6) -> tuple[list[list[int]], int]:
    """Users who each consume one pair ``(2k, 2k + 1)``; item ``2k`` is far more popular."""
    seqs = []
    for k in range(n_pairs):
        seqs += [[2 * k, 2 * k + 1] for _ in range(copies)]
    # popular decoy: every pair's first item also appears alone many times, and item 0 most
    seqs += [[2 * k] for k in range(n_pairs) for _ in range(copies)]
    seqs += [[0] for _ in range(3 * copies)]
    return seqs, 2 * n_pairs


def test_mf_ranks_the_co_consumed_item_first() -> None:
    seqs, n = co_consumed()
    m = ImplicitMF(n_factors=8, alpha=10.0, reg=0.1, n_iters=15)
    m.fit(train(seqs, n), 0)
    for k in range(1, 4):
        scores = m.score([np.array([2 * k])])[0]
        scores[2 * k] = -np.inf  # the bench masks the history
        # the partner beats every other item, item 0 (the most popular) included
        assert int(np.argmax(scores)) == 2 * k + 1, (k, scores)


def test_fold_in_is_the_exact_als_user_step() -> None:
    rng = np.random.default_rng(0)
    items = rng.normal(size=(6, 3))
    alpha, reg = 4.0, 0.5
    got = fold_in([np.array([1, 4, 1]), np.array([], dtype=np.int64)], items, alpha, reg)
    # direct normal equations with c = 1 + alpha on {1, 4}, p = 1 there and 0 elsewhere
    c = np.ones(6)
    c[[1, 4]] += alpha
    p = np.zeros(6)
    p[[1, 4]] = 1.0
    a = items.T @ (c[:, None] * items) + reg * np.eye(3)
    np.testing.assert_allclose(got[0], np.linalg.solve(a, items.T @ (c * p)), rtol=1e-10)
    np.testing.assert_array_equal(got[1], np.zeros(3))  # empty history: popularity only


def test_mf_is_seeded() -> None:
    seqs, n = co_consumed()
    data = train(seqs, n)
    a, b, c = ImplicitMF(n_factors=4), ImplicitMF(n_factors=4), ImplicitMF(n_factors=4)
    a.fit(data, 0)
    b.fit(data, 0)
    c.fit(data, 1)
    h = [np.array([2, 3]), np.array([5])]
    np.testing.assert_array_equal(a.score(h), b.score(h))
    assert not np.array_equal(a.score(h), c.score(h))
    assert len(ImplicitMF.param_grid()) == 9


def test_cooc_knn_contains_the_simulator_itemknn_scores() -> None:
    """window 0, gap decay 1, backward 1, history decay 1, beta 0.5: binary item cosine."""
    from experiments.replay.baselines.common import history_matrix, interaction_matrix
    from policies.collaborative import item_cosine_topk

    rng = np.random.default_rng(0)
    n = 30
    seqs = [rng.choice(n, size=int(rng.integers(2, 10)), replace=False) for _ in range(120)]
    m = CoocKNN(window=0, gap_decay=1.0, backward=1.0, history_decay=1.0, beta=0.5)
    m.fit(train([s.tolist() for s in seqs], n), 0)
    histories = seqs[:15]
    sim = item_cosine_topk(interaction_matrix(seqs, n), n)  # itemknn without the top-k cut
    expected = (history_matrix(histories, n) @ sim).toarray()
    pop = np.bincount(np.concatenate(seqs), minlength=n) / np.bincount(np.concatenate(seqs)).max()
    np.testing.assert_allclose(m.score(histories), expected + EPS * pop, rtol=1e-5, atol=1e-6)
