"""Classical baselines on tiny datasets with hand-computed scores."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.replay.baselines import EASE, CoocKNN, Popularity, Transition
from experiments.replay.baselines.ease import ease_weights
from experiments.replay.protocol import Recommender, ReplayDataset, TrainData
from experiments.replay.split import make_stage

EPS = 1e-6  # popularity tie-breaker weight of transition / kNN / EASE


def train(seqs: list[list[int]], n_items: int, all_seqs: list[list[int]] | None = None):
    arrays = [np.asarray(s, dtype=np.int64) for s in seqs]
    full = [np.asarray(s, dtype=np.int64) for s in (all_seqs or seqs)]
    return TrainData(ReplayDataset("tiny", n_items, full), arrays, "test")


def test_models_follow_the_protocol() -> None:
    for model in (Popularity(), Transition(), CoocKNN(), EASE()):
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


def test_cooc_knn_scores_by_hand() -> None:
    # users {0,1}, {0,1,2}, {2,3}: counts n = [2, 2, 2, 1]
    # co-occurrence: C01 = 2, C02 = 1, C12 = 1, C23 = 1; cosine S = C / sqrt(n_i n_j):
    #   S01 = 2/2 = 1, S02 = 1/2, S12 = 1/2, S23 = 1/sqrt(2)
    data = train([[0, 1], [0, 1, 2], [2, 3]], 4)
    pop = np.array([2, 2, 2, 1]) / 2
    m = CoocKNN(k=10, decay=0.5)
    m.fit(data, 0)
    # history [0, 2]: weight 1 for item 2 (last), 0.5 for item 0
    #   j=0: 1*S20 = 0.5;  j=1: 0.5*S01 + 1*S21 = 1.0;  j=2: 0.5*S02 = 0.25;  j=3: S23
    expected = np.array([0.5, 1.0, 0.25, 1 / np.sqrt(2)]) + EPS * pop
    np.testing.assert_allclose(m.score([np.array([0, 2])])[0], expected, rtol=1e-6)
    m = CoocKNN(k=1, decay=0.5)
    m.fit(data, 0)
    # one neighbour per item: 0→1 (S=1), 2→3 (S=0.707): j=1: 0.5*1; j=3: 1*0.707
    expected = np.array([0, 0.5, 0, 1 / np.sqrt(2)]) + EPS * pop
    np.testing.assert_allclose(m.score([np.array([0, 2])])[0], expected, rtol=1e-6, atol=1e-9)


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


@pytest.mark.parametrize("model", [Transition(), CoocKNN(), EASE(lam=1.0), Popularity()])
def test_scores_shape_dtype_and_determinism(model) -> None:
    seqs = [np.array([0, 1, 2, 3]), np.array([4, 2, 1]), np.array([3, 0, 4])]
    stage = make_stage(ReplayDataset("tiny", 6, seqs), "test")
    model.fit(stage.train, 0)
    a = model.score(stage.histories)
    model.fit(stage.train, 1)
    b = model.score(stage.histories)
    assert a.shape == (3, 6) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
