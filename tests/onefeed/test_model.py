from __future__ import annotations

import numpy as np

from onefeed import BehaviourSequence, EventType, OneFeedConfig, OneFeedModel

from .conftest import make_catalogue, make_sequences, tiny_config

CFG = tiny_config(epochs=25, beam=20, dropout=0.0, query_rows=0)


def _data():
    texts, _ = make_catalogue(40)
    train = make_sequences(80, 40, seed=1)
    test = make_sequences(40, 40, seed=2)
    return texts, train, test


def _recall(model: OneFeedModel, test: list[np.ndarray], k: int = 5) -> float:
    items, _ = model.recommend([s[:-1] for s in test], k=k)
    return float(np.mean([s[-1] in row for s, row in zip(test, items, strict=True)]))


def test_training_improves_held_out_recall() -> None:
    texts, train, test = _data()
    cfg = OneFeedConfig(**{**CFG.__dict__, "blend_trans": 0.0, "blend_rank": 0.0, "blend_sid": 1.0})
    untrained = OneFeedModel(cfg).fit(train, texts, seed=0, epochs=0)
    trained = OneFeedModel(cfg).fit(train, texts, seed=0)
    before, after = _recall(untrained, test), _recall(trained, test)
    assert after > before + 0.3, (before, after)  # SID generation alone learns the rule
    assert trained.history[-1]["sid"] < trained.history[0]["sid"]
    stats = trained.sid_stats()
    assert len(stats["utilisation"]) == cfg.levels and 0 <= stats["collision_rate"] <= 1


def test_training_is_deterministic_for_a_seed() -> None:
    texts, train, _ = _data()
    cfg = OneFeedConfig(**{**CFG.__dict__, "epochs": 2, "dropout": 0.3})
    a = OneFeedModel(cfg).fit(train, texts, seed=5)
    b = OneFeedModel(cfg).fit(train, texts, seed=5)
    c = OneFeedModel(cfg).fit(train, texts, seed=6)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    assert any(
        not np.array_equal(a.params[k], c.params[k])
        for k in a.params
        if k in c.params and a.params[k].shape == c.params[k].shape
    )


def test_recommend_excludes_history_and_returns_real_items() -> None:
    texts, train, test = _data()
    m = OneFeedModel(CFG).fit(train, texts, seed=0, epochs=2)
    hist = [s[:-1] for s in test]
    items, _ = m.recommend(hist, k=10)
    for h, row in zip(hist, items, strict=True):
        assert not set(row.tolist()) & set(h.tolist())
        assert ((row >= 0) & (row < 40)).all()
    sa = m.score_all(hist[:5])
    assert sa.shape == (5, 40) and sa.dtype == np.float32
    assert np.isinf(sa[0, hist[0]]).all()
    assert np.isfinite(sa).sum(1).max() <= CFG.beam


def test_queries_and_state_dict_roundtrip() -> None:
    texts, train, test = _data()
    m = OneFeedModel(CFG).fit(train, texts, seed=0, epochs=3)
    qs = m.generate_queries([s[:-1] for s in test[:4]], n_queries=2)
    assert len(qs) == 4 and all(len(r) == 2 for r in qs)
    for r in qs:
        for q in r:
            words = q.split()
            assert 1 <= len(words) <= CFG.max_query_words
            assert len(set(words)) == len(words)
    m2 = OneFeedModel(OneFeedConfig())
    m2.load_state_dict(m.state_dict())
    h = [s[:-1] for s in test[:6]]
    assert np.array_equal(m.recommend(h)[0], m2.recommend(h)[0])
    assert m.generate_queries(h) == m2.generate_queries(h)


def test_heterogeneous_behaviour_with_queries_is_encoded() -> None:
    texts, train, _ = _data()
    m = OneFeedModel(CFG).fit(
        train, texts, seed=0, epochs=1, query_pairs=[("red rose", 0), ("ocean shampoo", 1)]
    )
    assert m.vocab is not None
    qw = np.full((3, 4), -1)
    qw[1, :2] = m.vocab.encode("red lipstick")[:2]
    seq = BehaviourSequence(
        np.array([3, -1, 8]),
        np.array([EventType.IMPRESSION, EventType.QUERY, EventType.SEARCH_CLICK]),
        qw,
    )
    u1 = m.user_states([seq])
    qw2 = qw.copy()
    qw2[1, :2] = m.vocab.encode("ocean shampoo")[:2]
    u2 = m.user_states([BehaviourSequence(seq.items, seq.types, qw2)])
    assert not np.allclose(u1, u2)  # the query words matter
    # behaviour sequences are accepted for training too
    m.fit([seq, BehaviourSequence.from_items(np.array([1, 5, 9]))], texts, seed=0, epochs=1)
