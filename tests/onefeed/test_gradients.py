"""Finite-difference checks of every hand-written gradient."""

from __future__ import annotations

import numpy as np
import pytest

from onefeed.alignment import alignment_loss, init_alignment
from onefeed.behaviour import BehaviourSequence, EventType, pack
from onefeed.encoder import init_encoder
from onefeed.objective import Batch, LossWeights, loss_and_grads
from onefeed.query_head import init_query_head
from onefeed.semantic_ids import SemanticIds, build_trie
from onefeed.sid_head import init_sid_head

N_ITEMS, DIM, LEVELS = 9, 5, [3, 4, 2]
VOCAB = 7


def _sids() -> SemanticIds:
    codes = _codes()
    children, leaf = build_trie(codes, LEVELS)
    return SemanticIds(codes, LEVELS, children, leaf, [1.0] * 3, 0.0)


def _params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    p: dict[str, np.ndarray] = {}
    init_encoder(p, rng, N_ITEMS, LEVELS, DIM, max_len=4)
    init_sid_head(p, rng, _sids(), DIM, hidden=6)
    init_query_head(p, rng, VOCAB, DIM, hidden=6)
    init_alignment(p, rng, DIM)
    p["rank.bias"] = np.zeros(N_ITEMS)
    # randomise everything (identity / zero inits hide bugs), in float64
    return {k: v.astype(np.float64) + 0.3 * rng.standard_normal(v.shape) for k, v in p.items()}


def _codes() -> np.ndarray:
    # 9 distinct code tuples (a real catalogue's SIDs are unique); the trie has sibling
    # sets of several sizes: root → {0, 1, 2}; (0,) → {0, 1, 3}; (1,) → {2}; (2,) → {0, 1}
    return np.array(
        [
            [0, 0, 0],
            [0, 0, 1],
            [0, 1, 0],
            [0, 3, 1],
            [1, 2, 0],
            [1, 2, 1],
            [2, 0, 0],
            [2, 1, 1],
            [2, 1, 0],
        ]
    )


def _batch(query_events: bool = True) -> Batch:
    w = np.full((3, 2), -1)
    qw = np.array([[2, 5], [-1, -1], [-1, -1]])
    hist = [
        BehaviourSequence(np.array([1, -1, 4]), np.array([1, 5, 2]), qw if query_events else None),
        BehaviourSequence.from_items(np.array([2, 3, 0, 7, 8])),
        BehaviourSequence.from_items(np.array([5]), EventType.LONG_DWELL),
    ]
    del w
    pb = pack(hist, 4, 2)
    return Batch(
        behaviour=pb,
        targets=np.array([3, 6, 1]),
        weights=np.array([0.5, 0.2, 0.3]),
        negative=np.array([False, True, False]),
        queries=np.array([[1, 4, -1], [3, -1, -1], [0, 2, 6]]),
        query_weights=np.array([0.3, 0.4, 0.3]),
        query_negative=np.array([False, False, True]),
        align_codes=_codes()[[0, 2, 5]],
        align_words=np.array([[1, 2], [3, -1], [4, 6]]),
    )


def _check(f, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], n: int = 6) -> None:
    rng = np.random.default_rng(7)
    for name, g in grads.items():
        p = params[name]
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, size=min(n, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-5
            up = f()
            flat[i] = old - 1e-5
            down = f()
            flat[i] = old
            num = (up - down) / 2e-5
            ana = np.asarray(g).reshape(-1)[i]
            assert abs(num - ana) <= 1e-4 + 1e-3 * abs(num), (name, i, num, ana)


@pytest.mark.parametrize(
    "lw",
    [
        LossWeights(rank=1.0, sid=0.0, query=0.0, align=0.0),  # ranking stage + encoder
        LossWeights(rank=0.0, sid=1.0, query=0.0, align=0.0),  # encoder + SID head
        LossWeights(rank=0.0, sid=0.0, query=1.0, align=0.0),  # query head (+ encoder)
        LossWeights(rank=0.0, sid=0.0, query=0.0, align=1.0),  # alignment
        LossWeights(rank=0.7, sid=1.3, query=0.4, align=0.2),  # the joint objective
    ],
    ids=["rank", "sid", "query", "align", "joint"],
)
def test_joint_gradients(lw: LossWeights) -> None:
    params, sids, batch = _params(), _sids(), _batch()

    def f() -> float:
        return loss_and_grads(params, sids, batch, lw)[0]

    _, _, grads = loss_and_grads(params, sids, batch, lw)
    assert grads
    _check(f, params, grads)


def test_weighted_self_enhancement_loss_gradients() -> None:
    """Positive / unlikelihood examples with unequal weights (self-enhancement loss)."""
    params, sids = _params(1), _sids()
    batch = _batch(query_events=False)
    batch.negative[:] = [True, False, True]
    batch.weights[:] = [2.0, 0.1, 0.7]
    batch.query_negative[:] = [True, True, False]
    lw = LossWeights(rank=1.0, sid=1.0, query=1.0, align=0.0)

    def f() -> float:
        return loss_and_grads(params, sids, batch, lw)[0]

    _check(f, params, loss_and_grads(params, sids, batch, lw)[2])


def test_alignment_gradients_alone() -> None:
    params, codes = _params(2), _codes()
    words = np.array([[1, 2], [3, -1], [4, 6], [0, 5]])
    c = codes[[0, 1, 4, 8]]

    def f() -> float:
        return alignment_loss(params, c, words, tau=0.2)[0]

    _check(f, params, alignment_loss(params, c, words, tau=0.2)[1])


def test_sampled_softmax_gradients() -> None:
    """The dense head over a candidate subset (targets 3, 6, 1 plus sampled items)."""
    params, sids = _params(3), _sids()
    batch = _batch()
    batch.candidates = np.array([1, 3, 4, 6, 8])
    lw = LossWeights(rank=1.0, sid=0.5, query=0.0, align=0.0)

    def f() -> float:
        return loss_and_grads(params, sids, batch, lw)[0]

    grads = loss_and_grads(params, sids, batch, lw)[2]
    _check(f, params, grads)
    # items outside the candidates get no bias gradient
    assert np.all(grads["rank.bias"][[0, 2, 5, 7]] == 0)
