from __future__ import annotations

import numpy as np

from onefeed.rng import named_rng
from onefeed.semantic_ids import build_trie, residual_quantise
from onefeed.text import build_vocabulary, collaborative_embeddings, text_embeddings

from .conftest import make_catalogue, make_sequences


def _sids(n: int = 40, levels: int = 2, k: int = 4, seed: int = 0):
    texts, _ = make_catalogue(n)
    emb = np.hstack(
        [
            text_embeddings(texts, 8, seed),
            collaborative_embeddings(make_sequences(30, n), n, 4, seed=seed),
        ]
    )
    return residual_quantise(emb, levels, k, named_rng(seed, "quantiser"), iters=10)


def test_every_item_gets_a_unique_sid() -> None:
    s = _sids()
    assert s.codes.shape == (40, 3)
    assert len(np.unique(s.codes, axis=0)) == 40
    assert (s.codes >= 0).all()
    assert all((s.codes[:, j] < s.level_sizes[j]).all() for j in range(3))


def test_collision_rate_and_utilisation_reported() -> None:
    s = _sids(levels=1, k=4)  # 40 items into 4 codes: every item collides
    assert s.collision_rate == 1.0
    assert s.utilisation == [1.0]
    assert s.level_sizes[-1] >= 10  # the collision code range covers the largest group
    s2 = _sids(levels=2, k=8)
    assert 0.0 <= s2.collision_rate < 1.0
    assert all(0 < u <= 1 for u in s2.utilisation)


def test_collision_code_breaks_ties_by_counting() -> None:
    # hand-made: items 0,1,2 share prefix (0,0), item 3 is alone
    codes = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 2], [1, 0, 0]])
    children, leaf = build_trie(codes, [2, 1, 3])
    assert children[0].shape == (1, 2)
    assert (children[0][0] >= 0).all()
    assert children[2].shape == (2, 3)  # two depth-2 nodes, 3 collision codes
    # node of prefix (1,0) has only collision code 0
    assert (children[2] >= 0).sum() == 4
    assert sorted(leaf.tolist()) == [0, 1, 2, 3]


def test_trie_lookup_accepts_only_real_items() -> None:
    s = _sids()
    assert (s.lookup(s.codes) == np.arange(40)).all()
    rng = np.random.default_rng(0)
    random = np.stack([rng.integers(0, k, 500) for k in s.level_sizes], axis=1)
    found = s.lookup(random)
    real = {tuple(c) for c in s.codes}
    for sid, item in zip(random, found, strict=True):
        assert (item >= 0) == (tuple(sid) in real)
        if item >= 0:
            assert tuple(s.codes[item]) == tuple(sid)


def test_quantiser_is_deterministic() -> None:
    assert (_sids(seed=3).codes == _sids(seed=3).codes).all()


def test_vocabulary_and_canonical_queries() -> None:
    texts, _ = make_catalogue()
    v = build_vocabulary(texts, max_words=3)
    assert v.item_query.shape == (40, 3)
    for i, q in enumerate(v.item_query):
        words = [v.words[j] for j in q if j >= 0]
        assert len(set(words)) == len(words) >= 1
        assert set(words) <= set(texts[i].split())


def test_balanced_assignment_respects_capacity_and_prefers_near_centres() -> None:
    from onefeed.semantic_ids import balanced_assign

    # 6 points all nearest to centre 0; capacity 2 → 2 per centre, the closest stay
    dist = np.array([[0.0, 5, 9], [0.1, 5, 9], [0.2, 1, 9], [0.3, 9, 1], [0.4, 2, 8], [0.5, 9, 3]])
    a = balanced_assign(dist, capacity=2)
    assert np.bincount(a, minlength=3).tolist() == [2, 2, 2]
    assert a[0] == 0 and a[1] == 0  # the two closest to centre 0 keep it
    assert a[2] == 1 and a[3] == 2  # the others go where they are cheapest


def test_hierarchical_sids_are_unique_balanced_and_deterministic() -> None:
    from onefeed.semantic_ids import hierarchical_quantise

    rng_emb = np.random.default_rng(0).standard_normal((100, 5))
    s = hierarchical_quantise(rng_emb, 3, 4, named_rng(0, "q"), iters=5)
    assert s.codes.shape == (100, 3) and s.collision_rate == 0.0
    assert len(np.unique(s.codes, axis=0)) == 100
    assert (s.lookup(s.codes) == np.arange(100)).all()
    # level 0: 4 clusters of at most ceil(100 / 4) = 25 → exactly 25 each
    assert np.bincount(s.codes[:, 0]).tolist() == [25, 25, 25, 25]
    # every node has at most `branching` children above the last level
    assert s.n_nodes[:2] == [4, 16]
    # nodes of a level are grouped by parent (contiguous sibling sets)
    par = s.parents(1)
    assert (np.diff(par) >= 0).all() and s.sibling_starts(1).tolist() == [0, 4, 8, 12]
    again = hierarchical_quantise(rng_emb, 3, 4, named_rng(0, "q"), iters=5)
    assert np.array_equal(again.codes, s.codes)
