"""The vectorised parts of the OneFeed policy equal the per-user code they replaced.

Each reference below is the earlier per-user implementation (issue 13 replaced it with
array operations over chunks of users); random inputs with duplicates, unavailable,
consumed and recently seen items must give exactly the same answers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from onefeed import BehaviourSequence
from onefeed.text import word_tokens
from policies.onefeed_lists import ExpansionHits, finalise_rows, first_occurrences
from policies.onefeed_logs import UserHistories
from policies.onefeed_search import SearchClickStats
from policies.ranking import stable_top_k, user_chunks
from sim.events import Provenance


def reference_finalise(items, origin, query_of, popular, length, available, histories):
    """The per-user loop of ``OneFeedPolicy._finalise`` before issue 13."""
    n_users = items.shape[0]
    consumed, recent = histories.consumed, histories.sequences
    out_items = np.empty((n_users, length), dtype=np.int64)
    out_origin = np.full((n_users, length), int(Provenance.POPULAR), dtype=np.int8)
    out_query = np.full((n_users, length), -1, dtype=np.int64)
    for user in range(n_users):
        row = items[user]
        ok = (row >= 0) & (row < available.shape[0])
        ok[ok] &= available[row[ok]]
        ok &= ~np.isin(row, recent[user].items) & ~np.isin(row, consumed[user])
        cols = np.flatnonzero(ok)
        _, first = np.unique(row[cols], return_index=True)
        cols = cols[np.sort(first)][:length]
        n_model = cols.shape[0]
        out_items[user, :n_model] = row[cols]
        out_origin[user, :n_model] = origin[user, cols]
        out_query[user, :n_model] = query_of[user, cols]
        if n_model < length:
            unused = ~np.isin(popular, row[cols])
            fresh = unused & ~np.isin(popular, consumed[user])
            fill = np.concatenate([popular[fresh], popular[unused & ~fresh]])
            out_items[user, n_model:] = fill[: length - n_model]
    return out_items, out_origin, out_query


def random_histories(rng, n_users, n_items):
    hist = UserHistories(n_users, max_len=8, max_words=2)
    for u in range(n_users):
        seq = rng.integers(-1, n_items, size=rng.integers(0, 8))
        hist.sequences[u] = BehaviourSequence(seq, np.ones(seq.size, np.int64))
        # Some users consumed most of the catalogue (their filler needs the whole order).
        many = rng.random() < 0.2
        hist.consumed[u] = np.unique(rng.integers(0, n_items, size=n_items if many else 5))
    return hist


@pytest.mark.parametrize("seed", range(6))
def test_finalise_rows_equals_the_per_user_loop(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, width = 37, int(rng.integers(20, 300)), int(rng.integers(1, 40))
    available = rng.random(n_items) < 0.8
    popular = rng.permutation(np.flatnonzero(available))
    length = min(int(rng.integers(1, 60)), popular.shape[0])
    items = rng.integers(-1, n_items, size=(n_users, width))
    items[:, 1::3] = items[:, ::3][:, : items[:, 1::3].shape[1]]  # duplicates in rows
    origin = rng.integers(1, 8, size=(n_users, width)).astype(np.int8)
    query_of = rng.integers(-1, 3, size=(n_users, width))
    hist = random_histories(rng, n_users, n_items)
    want = reference_finalise(items, origin, query_of, popular, length, available, hist)
    users = np.arange(n_users)
    for chunk in user_chunks(n_users, 5):
        got = finalise_rows(
            users[chunk], items[chunk], origin[chunk], query_of[chunk], popular, length,
            available, hist,
        )  # fmt: skip
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w[chunk])


def test_first_occurrences_hand_example():
    rows = np.array([[5, 3, 5, 3], [1, 1, 1, 2]])
    ok = np.array([[False, True, True, True], [True, True, True, False]])
    assert first_occurrences(rows, ok).tolist() == [
        [False, True, True, False],
        [True, False, False, False],
    ]


def test_user_chunks_never_a_single_user():
    for n in range(1, 60):
        for size in (2, 3, 7, 64):
            chunks = user_chunks(n, size)
            assert np.concatenate(chunks).tolist() == list(range(n))
            assert all(c.size >= 2 for c in chunks) or n == 1
            assert all(c.size <= max(size, 2) + 1 for c in chunks)


@pytest.mark.parametrize("seed", range(5))
def test_stable_top_k_equals_the_stable_sort(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n, m = int(rng.integers(1, 20)), int(rng.integers(1, 30))
        scores = rng.integers(-2, 3, size=(n, m)).astype(float)  # many ties
        if rng.random() < 0.5:
            scores = rng.normal(size=(n, m))
        k = int(rng.integers(0, 35))
        want = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(stable_top_k(scores, k), want)


def test_expansion_credits_the_last_query_that_found_an_item():
    results = {"a": [4, 2], "b": [2, 7], "c": [9, -1]}

    class Engine:
        def search(self, queries, k):
            return np.array([results[q][:k] for q in queries], dtype=np.int32), None

    hits = ExpansionHits.search([["a", "b"], [], ["c"]], Engine(), 2, 8)
    found, query_of = hits.dense(np.array([0, 1, 2]), 8)
    # User 0: item 2 is found by query 0 ("a") and query 1 ("b"): credited to 1.
    assert np.flatnonzero(found[0]).tolist() == [2, 4, 7]
    assert query_of[0, [2, 4, 7]].tolist() == [1, 0, 1]
    assert not found[1].any()
    assert not found[2].any()  # item 9 is beyond n_items = 8


def reference_click_text(stats, queries, candidates):
    """``SearchClickStats.click_text`` before issue 13 (a dict per (word, item) pair)."""
    lookup = dict(zip(stats._keys.tolist(), stats._log_counts.tolist(), strict=True))
    out = np.zeros(candidates.shape)
    for r, text in enumerate(queries):
        words = [stats.word_index.get(w) for w in dict.fromkeys(word_tokens(text or ""))]
        words = [j for j in words if j is not None]
        if not words:
            continue
        items = candidates[r].tolist()
        total = 0.0
        for j in words:
            base, weight = j << 32, float(stats._idf[j])
            total += weight
            out[r] += [weight * lookup.get(base + it, 0.0) for it in items]
        out[r] /= max(total, 1e-12)
    return np.where(candidates >= 0, out, 0.0)


def test_click_text_equals_the_per_query_loop():
    rng = np.random.default_rng(3)
    vocab = ["red", "car", "blue", "shoe", "hat", "sun"]
    stats = SearchClickStats(n_items=30)
    for _ in range(3):
        n = 40
        qids = np.arange(n)
        texts = [" ".join(rng.choice(vocab, size=rng.integers(1, 4))) for _ in range(n)]
        rows = [
            *[("query", q, -1, t) for q, t in zip(qids, texts, strict=True)],
            *[("search_click", q, int(rng.integers(0, 30)), None) for q in qids[::2]],
        ]
        events = pd.DataFrame(rows, columns=["event", "query_id", "item_id", "query"])
        events["position"] = 0
        events["event"] = pd.Categorical(events["event"])
        stats.add_episode(events, decay=0.7)
    queries = [" ".join(rng.choice([*vocab, "zzz"], size=rng.integers(0, 4))) for _ in range(25)]
    cand = rng.integers(-1, 30, size=(25, 7))
    np.testing.assert_array_equal(
        stats.click_text(queries, cand), reference_click_text(stats, queries, cand)
    )
