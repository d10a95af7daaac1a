"""Property-based tests (hypothesis) of the serving contract over every registered policy.

Whatever the batch — any subset of users in any order, any pages, any episode, any query
text — every registered policy answers with valid slates (right shape, known available
items, no duplicates), search answers that are permutations of the candidates, and
suggestion lists within the limit, and never mutates its inputs.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import available_policies, make_policy
from sim.ground_truth import GroundTruthView
from sim.types import FeedBatch, PolicyContext, SearchBatch, SuggestBatch
from sim.validation import validate_feed, validate_search, validate_suggestions
from tests.policies.test_conformance import tiny_world


@pytest.fixture(scope="module")
def served():
    """Every registered policy, bound to one tiny world and updated on its episode 0."""
    world = tiny_world()
    log = world.run_episode(0).events.to_pandas()
    policies = {}
    for name in available_policies():
        policy = make_policy(name)
        policy.bind(
            PolicyContext(
                catalog=world.catalog_view(), search=world.index, n_users=world.n_users,
                slate_size=world.config.feed.slate_size,
                n_suggestions=world.config.suggestions.n_suggestions,
                rng=np.random.default_rng(7),
            )
        )  # fmt: skip
        if getattr(policy, "needs_ground_truth", False):
            policy.attach_ground_truth(
                GroundTruthView(world.config, world.catalog, world.population)
            )
        policy.update(log)
        policies[name] = policy
    return world, policies


@st.composite
def feed_batches(draw, n_users: int, slate_size: int) -> FeedBatch:
    users = draw(st.lists(st.integers(0, n_users - 1), min_size=0, max_size=12, unique=True))
    n = len(users)
    return FeedBatch(
        user_ids=np.array(users, dtype=np.int32),
        session_ids=np.array(
            draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)), np.int64
        ),
        page=np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), np.int16),
        time_s=draw(st.floats(0, 1e6)),
        episode=draw(st.integers(1, 50)),
        slate_size=slate_size,
    )


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("name", available_policies())
@SETTINGS
@given(data=st.data())
def test_any_feed_batch_gets_valid_slates(served, name, data):
    world, policies = served
    batch = data.draw(feed_batches(world.n_users, world.config.feed.slate_size))
    before = copy.deepcopy(batch)
    response = policies[name].recommend(batch)
    slates, _ = validate_feed(name, batch, response, world.catalog_view().available)
    assert slates.shape == (len(batch), batch.slate_size)
    assert all(np.array_equal(getattr(batch, f), getattr(before, f)) for f in ("user_ids", "page"))


@pytest.mark.parametrize("name", available_policies())
@SETTINGS
@given(data=st.data())
def test_any_query_gets_a_permutation_of_its_candidates(served, name, data):
    world, policies = served
    titles = world.catalog_view().titles
    n = data.draw(st.integers(0, 6))
    words = sorted({w for t in titles for w in t.split()})
    queries = [
        " ".join(
            data.draw(st.lists(st.sampled_from([*words, "zzz-unknown"]), min_size=1, max_size=3))
        )
        for _ in range(n)
    ]
    candidates, scores = world.index.search(queries, data.draw(st.integers(1, 10)))
    users = data.draw(
        st.lists(st.integers(0, world.n_users - 1), min_size=n, max_size=n, unique=True)
    )
    batch = SearchBatch(
        user_ids=np.array(users, np.int32), query_ids=np.arange(n, dtype=np.int64),
        queries=queries, candidates=candidates, scores=scores, time_s=0.0, episode=1,
    )  # fmt: skip
    candidates_before = np.array(batch.candidates, copy=True)
    validate_search(name, batch, policies[name].rank_search(batch))
    assert np.array_equal(batch.candidates, candidates_before)


@pytest.mark.parametrize("name", available_policies())
@SETTINGS
@given(data=st.data())
def test_suggestions_stay_within_the_limit(served, name, data):
    world, policies = served
    users = data.draw(st.lists(st.integers(0, world.n_users - 1), max_size=10, unique=True))
    limit = data.draw(st.integers(1, world.config.suggestions.n_suggestions))
    batch = SuggestBatch(
        np.array(users, np.int32), np.arange(len(users), dtype=np.int64), 0.0, 1, limit
    )
    validate_suggestions(name, len(users), limit, policies[name].suggest_queries(batch))
