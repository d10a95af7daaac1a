import bm25s
import numpy as np
import pytest

from policies.base import Policy
from sim.events import Provenance
from sim.search import BM25Index, search_terms
from sim.types import FeedResponse, SearchIndex
from sim.validation import PolicyContractError
from sim.world import build_world

from .helpers import small_config

TITLES = ["red fox jumps", "blue fox", "red red apple", "green tea", "fox tea party"]


def test_bm25_ranks_match_bm25s():
    index = BM25Index(TITLES, np.ones(5, dtype=bool))
    assert isinstance(index, SearchIndex)
    queries = ["red fox", "tea", "apple fox green"]
    ids, scores = index.search(queries, k=5)
    ref = bm25s.BM25(k1=1.5, b=0.75)
    ref.index([search_terms(t) for t in TITLES], show_progress=False)
    docs, ref_scores = ref.retrieve([search_terms(q) for q in queries], k=5, show_progress=False)
    for row in range(len(queries)):
        n_hit = int((ref_scores[row] > 0).sum())
        # Same items with the same scores in the same order; ties broken by item id.
        ours = dict(zip(ids[row, :n_hit].tolist(), scores[row, :n_hit].tolist(), strict=True))
        theirs = dict(
            zip(docs[row, :n_hit].tolist(), ref_scores[row, :n_hit].tolist(), strict=True)
        )
        assert ours == pytest.approx(theirs, rel=1e-6)
        key = sorted(ours, key=lambda i: (-round(ours[i], 5), i))
        assert ids[row, :n_hit].tolist() == key
        assert (ids[row, n_hit:] == -1).all() and np.isneginf(scores[row, n_hit:]).all()


def test_unknown_words_and_unavailable_items_are_not_returned():
    index = BM25Index(TITLES, np.array([True, False, True, True, True]))
    ids, _ = index.search(["zzz", "blue fox"], k=3)
    assert ids[0].tolist() == [-1, -1, -1]
    assert 1 not in ids[1].tolist()
    assert set(ids[1][ids[1] >= 0].tolist()) == {0, 4}


class _BadFeed(Policy):
    name = "bad"

    def __init__(self, mode: str) -> None:
        self.mode = mode
        if mode == "undeclared":
            self.sources = (Provenance.CONTENT,)

    def recommend(self, batch):
        n, s = len(batch), batch.slate_size
        slates = np.tile(np.arange(s), (n, 1))
        if self.mode == "duplicate":
            slates[-1, 1] = slates[-1, 0]
        elif self.mode == "unknown":
            slates[0, 2] = 10_000
        elif self.mode == "length":
            slates = slates[:, :-1]
        elif self.mode == "undeclared":
            origin = np.full(slates.shape, int(Provenance.CONTENT), dtype=np.int8)
            origin[-1, 3] = int(Provenance.SID_BEAM)
            return FeedResponse(slates=slates, origin=origin)
        return FeedResponse(slates=slates)


class _BadSearch(Policy):
    name = "bad-search"

    def recommend(self, batch):
        return FeedResponse(slates=np.tile(np.arange(batch.slate_size), (len(batch), 1)))

    def rank_search(self, batch):
        ranked = batch.candidates.copy()
        ranked[:, 0] = ranked[:, 1]
        return ranked


@pytest.mark.parametrize(
    ("mode", "pattern"),
    [
        ("duplicate", r"policy 'bad' failed check 'duplicate item' in row \d+: item 0 appears"),
        ("unknown", r"policy 'bad' failed check 'unknown item' in row 0: item id 10000 is not"),
        ("length", r"policy 'bad' failed check 'slate shape': expected shape \(\d+, 10\), got"),
        (
            "undeclared",
            r"policy 'bad' failed check 'declared provenance' in row \d+: origin 'sid_beam' "
            r"is not among the sources the policy declares \(content\)",
        ),
    ],
)
def test_feed_contract_violations_are_named(mode, pattern):
    world = build_world(small_config(50), 0, _BadFeed(mode))
    with pytest.raises(PolicyContractError, match=pattern) as info:
        world.run_episode(0)
    assert info.value.policy == "bad"


def test_search_ranking_must_permute_candidates():
    cfg = small_config(200, users={"search_propensity_a": 5.0, "search_propensity_b": 5.0})
    world = build_world(cfg, 0, _BadSearch())
    with pytest.raises(PolicyContractError, match="is a permutation of the candidates' in row"):
        world.run_episode(0)
