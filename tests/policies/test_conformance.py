import numpy as np
import pytest

from policies import available_policies, make_policy
from policies.base import Policy
from policies.conformance import PolicyCheckError, check_policy
from sim.config import WorldConfig
from sim.types import FeedResponse
from sim.world import build_world


def tiny_world(seed: int = 0):
    config = WorldConfig.model_validate(
        {
            "catalog": {
                "n_items": 120,
                "n_topics": 6,
                "words_per_topic": 10,
                "generic_vocab_size": 8,
            },
            "users": {"n_users": 60},
            "episode_length_days": 0.5,
        }
    )
    return build_world(config, seed, make_policy("popularity"))


@pytest.mark.parametrize("name", available_policies())
def test_every_registered_policy_conforms(name):
    check_policy(make_policy(name), tiny_world())


class Duplicating(Policy):
    name = "duplicating"

    def recommend(self, batch):
        slates = np.zeros((len(batch), batch.slate_size), dtype=np.int64)
        return FeedResponse(slates=slates)


class Peeking(Policy):
    name = "peeking"

    def __init__(self, world):
        self.truth = world.population.interests  # forbidden

    def recommend(self, batch):
        pool = np.flatnonzero(self.context.catalog.available)[: batch.slate_size]
        return FeedResponse(slates=np.tile(pool, (len(batch), 1)))


class Unseeded(Policy):
    name = "unseeded"

    def recommend(self, batch):
        rng = np.random.default_rng()  # not the context's stream: non-deterministic
        pool = np.flatnonzero(self.context.catalog.available)
        slates = np.stack(
            [rng.choice(pool, batch.slate_size, replace=False) for _ in range(len(batch))]
        )
        return FeedResponse(slates=slates)


class BatchRandom(Policy):
    """Draws its slates from the policy stream: deterministic, but batch-dependent."""

    name = "batch-random"

    def recommend(self, batch):
        pool = np.flatnonzero(self.context.catalog.available)
        slates = np.zeros((len(batch), batch.slate_size), dtype=np.int64)
        for row in range(len(batch)):
            slates[row] = self.context.rng.choice(pool, batch.slate_size, replace=False)
        return FeedResponse(slates=slates)


class Forgetful(Policy):
    """Learns from what it served but does not merge its replicas' records."""

    name = "forgetful"

    def bind(self, context):
        super().bind(context)
        self.served = 0

    def recommend(self, batch):
        self.served += len(batch)
        pool = np.flatnonzero(self.context.catalog.available)
        start = self.learnt if hasattr(self, "learnt") else 0
        picks = (start + np.arange(batch.slate_size)) % pool.size
        return FeedResponse(slates=np.tile(pool[picks], (len(batch), 1)))

    def update(self, events):
        self.learnt = self.served


class Unpicklable(Policy):
    """Holds a lambda: copies fine, but cannot travel to a shard's worker."""

    name = "unpicklable"

    def bind(self, context):
        super().bind(context)
        self.scorer = lambda items: -items

    def recommend(self, batch):
        pool = np.flatnonzero(self.context.catalog.available)
        picks = pool[np.argsort(self.scorer(pool), kind="stable")[: batch.slate_size]]
        return FeedResponse(slates=np.tile(picks, (len(batch), 1)))


class Mutating(Policy):
    name = "mutating"

    def recommend(self, batch):
        batch.page[:] = 0
        pool = np.flatnonzero(self.context.catalog.available)[: batch.slate_size]
        return FeedResponse(slates=np.tile(pool, (len(batch), 1)))


@pytest.mark.parametrize(
    ("make", "check"),
    [
        (lambda w: Duplicating(), "feed slates"),
        (lambda w: Peeking(w), "no access to ground truth"),
        (lambda w: Unseeded(), "deterministic under a seed"),
        (lambda w: Mutating(), "inputs not mutated"),
        (lambda w: BatchRandom(), "batch-independent serving"),
        (lambda w: Forgetful(), "replicas merge their serving state"),
        (lambda w: Unpicklable(), "picklable"),
    ],
)
def test_broken_policies_are_caught_by_name(make, check):
    world = tiny_world()
    with pytest.raises(PolicyCheckError, match=f"failed conformance check '{check}'"):
        check_policy(make(world), world)
