import numpy as np
import pytest

from policies import make_policy
from sim.ground_truth import GroundTruthView
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
    # Hand computation of v(u, i) for user 5 at t = 0 (no satiation yet):
    pop, cat, ch = world.population, world.catalog, world.config.choice
    u = pop.interests[5]
    cos = cat.topics @ u / (np.linalg.norm(u) * cat.topic_norm)
    v = ch.affinity_weight * cos + ch.quality_weight * cat.quality
    assert slates[1].tolist() == np.argsort(-v, kind="stable")[:slate_size].tolist()
    assert len(set(slates[0].tolist())) == slate_size


def test_oracle_without_ground_truth_refuses():
    world = tiny_world()
    oracle = make_policy("oracle")
    oracle.bind(world.responder.policy.context)
    with pytest.raises(RuntimeError, match="enable it in the scenario"):
        oracle.recommend(feed_batch([0], slate_size=world.config.feed.slate_size))
