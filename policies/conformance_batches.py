"""Conformance checks that serving does not depend on batches, and that replicas merge.

A run split by users (:mod:`sim.shards`) serves every user's requests in other batches
than a single process would, with a replica of the policy per slice, and the driver's
policy then adopts the replicas' serving state before its update. Its log equals the
unsharded one only if a request's answer depends on the request alone, and if
:meth:`~policies.base.Policy.merge_serving_states` gives the update what serving every
request itself would have. Both are checked here for :func:`policies.conformance.check_policy`.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from policies.base import Policy
from sim.types import FeedBatch, SearchBatch, SuggestBatch

__all__ = ["check_batch_independence", "check_replicas"]

Fail = Callable[[str, str], None]


def _rows(batch: Any, idx: np.ndarray) -> Any:
    """The requests ``idx`` of a feed, search or suggestion batch, as a batch."""
    if isinstance(batch, FeedBatch):
        return FeedBatch(
            batch.user_ids[idx], batch.session_ids[idx], batch.page[idx], batch.time_s,
            batch.episode, batch.slate_size,
        )  # fmt: skip
    if isinstance(batch, SearchBatch):
        return SearchBatch(
            batch.user_ids[idx], batch.query_ids[idx], [batch.queries[i] for i in idx.tolist()],
            batch.candidates[idx], batch.scores[idx], batch.time_s, batch.episode,
        )  # fmt: skip
    return SuggestBatch(
        batch.user_ids[idx], batch.session_ids[idx], batch.time_s, batch.episode,
        batch.n_suggestions,
    )  # fmt: skip


def _answers(policy: Policy, batch: Any) -> list:
    """One answer per request: slate rows (with origins), rankings or suggestion lists."""
    if isinstance(batch, FeedBatch):
        response = policy.recommend(batch)
        slates = np.asarray(response.slates)
        origin = None if response.origin is None else np.asarray(response.origin)
        return [
            (slates[i].tolist(), None if origin is None else origin[i].tolist())
            for i in range(len(batch))
        ]
    if isinstance(batch, SearchBatch):
        return [row.tolist() for row in np.asarray(policy.rank_search(batch))]
    return [list(q) for q in policy.suggest_queries(batch)]


def check_batch_independence(
    policy: Policy, batches: list[Any], others: list[Any], stage: str, fail: Fail
) -> None:
    """Each request's answer alone (after other users' requests) equals its answer in a batch.

    Two copies of ``policy`` (same state): one answers each batch whole; the other first
    answers the ``others`` batches (requests of other users), then every request of the
    batch on its own, in reverse order.

    Args:
        policy: A bound policy (copied, not changed).
        batches: Feed, search and suggestion batches of the same users.
        others: Batches of other users, answered first by the second copy.
        stage: Where in the check this happens (for the message).
        fail: Raises the conformance error.
    """
    whole, alone = copy.deepcopy(policy), copy.deepcopy(policy)
    for other in others:
        _answers(alone, other)
    for batch in batches:
        want = _answers(whole, batch)
        got = [None] * len(batch)
        for i in reversed(range(len(batch))):
            got[i] = _answers(alone, _rows(batch, np.array([i])))[0]
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if g != w:
                kind = type(batch).__name__
                fail(
                    "batch-independent serving",
                    f"request {i} of a {kind} got {w} in a batch of {len(batch)} and {g} "
                    f"alone ({stage}); answers must not depend on the other requests "
                    "(draw random numbers from per-request streams, context.request_key)",
                )


def check_replicas(policy: Policy, batches: list[Any], log: pd.DataFrame, fail: Fail) -> None:
    """Replicas that served the requests between them, merged, learn what one policy learns.

    One copy answers every batch whole and updates on ``log``; two replicas of another
    copy (unpickled from it, as workers receive it) answer the first and the second half
    of each batch, the copy adopts their :meth:`~policies.base.Policy.serving_state`
    (``merge_serving_states``) and updates on ``log``. Both must then answer the same
    requests identically.

    Args:
        policy: A bound policy before its update (copied, not changed).
        batches: Feed, search and suggestion batches.
        log: The log slice both update on.
        fail: Raises the conformance error.
    """
    single, merged = copy.deepcopy(policy), copy.deepcopy(policy)
    # Replicas travel to their workers pickled, as in a sharded run.
    try:
        data = pickle.dumps(merged, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        fail("picklable", f"a bound policy must pickle (shards, checkpoints): {exc}")
    halves = [pickle.loads(data), pickle.loads(data)]
    for batch in batches:
        _answers(single, batch)
        cut = len(batch) // 2
        for replica, idx in zip(halves, (np.arange(cut), np.arange(cut, len(batch))), strict=True):
            _answers(replica, _rows(batch, idx))
    merged.merge_serving_states([replica.serving_state() for replica in halves])
    single.update(log.copy())
    merged.update(log.copy())
    for batch in batches:
        want, got = _answers(single, batch), _answers(merged, batch)
        if got != want:
            fail(
                "replicas merge their serving state",
                f"after serving through two replicas and merging their serving_state(), "
                f"the {type(batch).__name__} answers differ from one policy's after update",
            )
