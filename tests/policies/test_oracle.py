import numpy as np
import pytest

from policies import make_policy
from sim.ground_truth import GroundTruthView
from sim.search import search_terms
from sim.types import SearchBatch, SuggestBatch
from tests.policies.conftest import feed_batch
from tests.policies.test_conformance import tiny_world


def test_oracle_serves_items_of_highest_true_utility():
    world = tiny_world()
    oracle = make_policy("oracle")
    oracle.bind(world.responder.policy.context)
    truth = GroundTruthView(world.config, world.catalog, world.population)
    oracle.attach_ground_truth(truth)
    slate_size = world.config.feed.slate_size
    slates = oracle.recommend(feed_batch([0, 5], slate_size=slate_size)).slates
    # Hand computation of v(u, i) for user 5 at t = 0 (no satiation yet), with the v2
    # affinity: the dot product of the item topics and the interests over their maximum.
    pop, cat, ch = world.population, world.catalog, world.config.choice
    assert ch.affinity == "dot" and ch.affinity_temperature == 1.0
    u = pop.interests[5]
    dot = cat.topics @ (u / u.max())
    v = ch.affinity_weight * dot + ch.quality_weight * cat.quality
    assert slates[1].tolist() == np.argsort(-v, kind="stable")[:slate_size].tolist()
    assert len(set(slates[0].tolist())) == slate_size


def test_oracle_without_ground_truth_refuses():
    world = tiny_world()
    oracle = make_policy("oracle")
    oracle.bind(world.responder.policy.context)
    with pytest.raises(RuntimeError, match="enable it in the scenario"):
        oracle.recommend(feed_batch([0], slate_size=world.config.feed.slate_size))


def test_oracle_suggests_the_title_words_whose_items_the_user_likes_most():
    world = tiny_world()
    oracle = make_policy("oracle", min_word_items=1)
    oracle.bind(world.responder.policy.context)
    truth = GroundTruthView(world.config, world.catalog, world.population)
    oracle.attach_ground_truth(truth)
    batch = SuggestBatch(
        user_ids=np.array([2], np.int32), session_ids=np.zeros(1, np.int64),
        time_s=0.0, episode=0, n_suggestions=2,
    )  # fmt: skip
    suggested = oracle.suggest_queries(batch)
    # By hand: mean true utility of the items whose title holds each word.
    v = truth.utilities(np.array([2]), 0.0)[0]
    titles = [set(search_terms(t)) for t in world.catalog_view().titles]
    words = sorted(set().union(*titles))
    mean = {w: np.mean([v[i] for i, t in enumerate(titles) if w in t]) for w in words}
    expected = sorted(words, key=lambda w: (-mean[w], words.index(w)))[:2]
    assert suggested == [expected]


def test_oracle_rejects_a_nonpositive_word_floor():
    with pytest.raises(ValueError, match="min_word_items"):
        make_policy("oracle", min_word_items=0)


def test_oracle_ranks_search_results_by_the_true_click_probability_for_the_intent():
    world = tiny_world()
    oracle = make_policy("oracle")
    oracle.bind(world.responder.policy.context)
    truth = GroundTruthView(world.config, world.catalog, world.population)
    oracle.attach_ground_truth(truth)
    pop = world.population
    pop.intent_topic[[0, 1]] = [0, 1]  # two searches with opposite intents
    pop.intent_item[[0, 1]] = -1
    cand = np.array([[0, 1, 2, 3, -1], [0, 1, 2, 3, -1]])
    batch = SearchBatch(
        user_ids=np.array([0, 1], np.int32), query_ids=np.zeros(2, np.int64),
        queries=["a", "b"], candidates=cand, scores=np.ones((2, 5)), time_s=0.0, episode=0,
    )  # fmt: skip
    ranked = oracle.rank_search(batch)
    # By hand: sigmoid(4 cos(theta_j, e_t) + 0.5 q_j - 5) for the intent topic t.
    cat, ic = world.catalog, world.config.intent
    for row, t in enumerate([0, 1]):
        rel = cat.topics[:4, t] / cat.topic_norm[:4]
        p = 1 / (1 + np.exp(-(ic.relevance_weight * rel + 0.5 * cat.quality[:4] - 5.0)))
        assert ranked[row, :4].tolist() == np.argsort(-p, kind="stable").tolist()
        assert ranked[row, 4] == -1
