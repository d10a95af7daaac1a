"""``check_policy``: the conformance check every policy must pass before it is trusted.

It drives a policy through the serving contract on a real world, without running the
simulation: feed, search and suggestion batches built from the world's public state,
an empty batch, a logged episode for ``update``, and a twin bound with the same seed.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

import numpy as np

from policies.base import Policy
from policies.conformance_batches import check_batch_independence, check_replicas
from sim.ground_truth import GroundTruthView
from sim.types import FeedBatch, PolicyContext, SearchBatch, SuggestBatch
from sim.validation import validate_feed, validate_search, validate_suggestions

__all__ = ["PolicyCheckError", "check_policy"]


class PolicyCheckError(AssertionError):
    """A policy failed the conformance check; the message names the check."""


def _feed_batch(
    user_ids: np.ndarray, slate_size: int, episode: int = 0, first_session: int = 0
) -> FeedBatch:
    n = user_ids.shape[0]
    return FeedBatch(
        user_ids=user_ids.astype(np.int32),
        session_ids=np.arange(first_session, first_session + n, dtype=np.int64),
        page=(np.arange(n) % 3).astype(np.int16),
        time_s=0.0,
        episode=episode,
        slate_size=slate_size,
    )


def _search_batch(
    world: Any, user_ids: np.ndarray, k: int = 10, first_query: int = 0
) -> SearchBatch:
    titles = world.catalog_view().titles
    queries = [" ".join(titles[i].split()[:2]) for i in range(user_ids.shape[0])]
    candidates, scores = world.index.search(queries, k)
    n = user_ids.shape[0]
    return SearchBatch(
        user_ids=user_ids.astype(np.int32),
        query_ids=np.arange(first_query, first_query + n, dtype=np.int64),
        queries=queries,
        candidates=candidates,
        scores=scores,
        time_s=0.0,
        episode=0,
    )


def _snapshot(value: Any) -> Any:
    return copy.deepcopy(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if hasattr(a, "__dataclass_fields__"):
        return all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


#: Catalogue attributes that are ground truth (titles and creation times are public).
LATENT_ITEM_ATTRIBUTES = ("topics", "topic_norm", "quality")


def _latent_objects(world: Any) -> list[Any]:
    """Objects holding ground truth that a policy must never reference."""
    population, catalog = world.population, world.catalog
    arrays = [v for v in vars(population).values() if isinstance(v, np.ndarray)]
    arrays += [getattr(catalog, name) for name in LATENT_ITEM_ATTRIBUTES]
    return [world, population, catalog, *arrays]


def _reaches_latent(policy: Policy, forbidden: list[Any], max_objects: int = 100_000) -> str | None:
    """Breadth-first search of the policy's attributes for a forbidden object."""
    ids = {id(o) for o in forbidden}
    arrays = [o for o in forbidden if isinstance(o, np.ndarray)]
    seen: set[int] = set()
    queue: deque[tuple[Any, str]] = deque([(policy, "policy")])
    while queue and len(seen) < max_objects:
        obj, path = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if id(obj) in ids:
            return path
        if isinstance(obj, np.ndarray):
            if any(np.may_share_memory(obj, a) for a in arrays):
                return path
            continue
        if isinstance(obj, str | bytes | int | float | bool | type(None) | np.generic):
            continue
        if isinstance(obj, dict):
            children = [(v, f"{path}[{k!r}]") for k, v in obj.items()]
        elif isinstance(obj, list | tuple | set | frozenset | deque):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        elif hasattr(obj, "__dict__"):
            children = [(v, f"{path}.{k}") for k, v in vars(obj).items()]
        else:
            children = []
        queue.extend(children)
    return None


def check_policy(policy: Policy, world: Any, *, n_requests: int = 16) -> None:
    """Check that ``policy`` honours the serving contract on ``world``.

    Checks, each failing with a message that names it: slates of the right length,
    only known and available items, no duplicates; search answers are permutations of
    the candidates; suggestions are lists of strings within the limit; request arrays
    are not mutated; empty batches are handled; two copies bound with the same seed
    answer identically, also after an ``update``; a request's answer does not depend on
    its batch (answered alone, after other users' requests, it is the same), and
    replicas that served the requests between them, once merged
    (``merge_serving_states``), learn in ``update`` what one policy serving them all
    learns (:mod:`policies.conformance_batches`); the bound policy holds no reference
    to the world's ground truth (users' latent state, latent item topics) — except a
    policy that declares ``needs_ground_truth`` (the oracle upper bound), which is
    given a :class:`~sim.ground_truth.GroundTruthView` instead.

    Args:
        policy: An *unbound* policy instance (it is copied before binding).
        world: A freshly built world (``sim.world.build_world``). Its episode 0 is
            simulated with the world's own policy to give ``policy`` a real log for
            ``update``; otherwise only its public views and search index are used.
        n_requests: Requests per test batch.

    Raises:
        PolicyCheckError: On the first failed check.
    """
    name = getattr(policy, "name", type(policy).__name__)
    view = world.catalog_view()
    slate_size = world.config.feed.slate_size
    n_suggestions = world.config.suggestions.n_suggestions

    def bound_copy() -> Policy:
        twin = copy.deepcopy(policy)
        twin.bind(
            PolicyContext(
                catalog=view, search=world.index, n_users=world.n_users, slate_size=slate_size,
                n_suggestions=n_suggestions, rng=np.random.default_rng(12345),
                request_key=12345,
            )
        )  # fmt: skip
        if upper_bound:  # an explicitly enabled oracle: the one sanctioned exception
            twin.attach_ground_truth(GroundTruthView(world.config, world.catalog, world.population))
        return twin

    def fail(check: str, detail: str) -> None:
        raise PolicyCheckError(f"policy {name!r} failed conformance check {check!r}: {detail}")

    upper_bound = getattr(policy, "needs_ground_truth", False)
    forbidden = [] if upper_bound else _latent_objects(world)
    path = None if upper_bound else _reaches_latent(policy, forbidden)
    if path is not None:
        fail("no access to ground truth", f"{path} references the world's latent state")
    first, second = bound_copy(), bound_copy()
    users = np.arange(min(n_requests, world.n_users))
    log = world.run_episode(0).events.to_pandas()

    for stage in ("before update", "after update"):
        feed = _feed_batch(users, slate_size)
        feed_before = _snapshot(feed)
        answers = []
        for twin in (first, second):
            response = twin.recommend(feed)
            if not _same(feed, feed_before):
                fail("inputs not mutated", f"recommend() changed its FeedBatch ({stage})")
            try:
                slates, _ = validate_feed(
                    name, feed, response, view.available, getattr(twin, "sources", None)
                )
            except Exception as error:
                fail("feed slates", f"{error} ({stage})")
            answers.append(slates)
        if not np.array_equal(answers[0], answers[1]):
            fail("deterministic under a seed", f"two copies with one seed differ ({stage})")

        search = _search_batch(world, users)
        search_before = _snapshot(search)
        ranked = first.rank_search(search)
        if not _same(search, search_before):
            fail("inputs not mutated", f"rank_search() changed its SearchBatch ({stage})")
        try:
            validate_search(name, search, ranked)
        except Exception as error:
            fail("search ranking", str(error))
        suggest = SuggestBatch(
            users.astype(np.int32), users.astype(np.int64), 0.0, 0, n_suggestions
        )
        try:
            validate_suggestions(name, len(users), n_suggestions, first.suggest_queries(suggest))
        except Exception as error:
            fail("suggestions", str(error))

        empty = _feed_batch(np.zeros(0, dtype=np.int64), slate_size)
        try:
            out = np.asarray(first.recommend(empty).slates)
        except Exception as error:
            fail("empty batch", f"recommend() raised {type(error).__name__}: {error}")
        if out.shape not in {(0, slate_size), (0,)}:
            fail("empty batch", f"expected shape (0, {slate_size}), got {out.shape}")
        empty_suggest = SuggestBatch(np.zeros(0, np.int32), np.zeros(0, np.int64), 0.0, 0, 1)
        if list(first.suggest_queries(empty_suggest)) != []:
            fail("empty batch", "suggest_queries() on an empty batch must return []")

        path = None if upper_bound else _reaches_latent(first, forbidden)
        if path is not None:
            fail("no access to ground truth", f"{path} references the world's latent state")

        batches = [feed, search, suggest]
        n_other = min(len(users), world.n_users - len(users))
        other = np.arange(len(users), len(users) + n_other)
        others = [
            _feed_batch(other, slate_size, first_session=1000),
            _search_batch(world, other, first_query=1000),
            SuggestBatch(other.astype(np.int32), other + 1000, 0.0, 0, n_suggestions),
        ]
        check_batch_independence(first, batches, others if n_other else [], stage, fail)
        if stage == "before update":
            check_replicas(first, batches, log, fail)

        if stage == "before update":
            log_before = log.copy()
            first.update(log)
            second.update(log)
            if not log.equals(log_before):
                fail("inputs not mutated", "update() changed the log slice it was given")
