"""Request and response types exchanged between the serving batcher and policies.

Everything a policy may see is here: batched requests (arrays, one row per user
request), a read-only view of the catalogue's *observable* attributes, and the
search-index protocol. A user's latent state (interests, satiation, patience, ...)
never appears in these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "CatalogView",
    "FeedBatch",
    "FeedResponse",
    "PolicyContext",
    "SearchBatch",
    "SearchIndex",
    "ServedPolicy",
    "SuggestBatch",
]


@dataclass(frozen=True)
class FeedBatch:
    """A batch of feed requests served by one policy call.

    Attributes:
        user_ids: Shape ``(n,)`` int32, the requesting users.
        session_ids: Shape ``(n,)`` int64, their current sessions.
        page: Shape ``(n,)`` int16, index of this slate within its session (0-based).
        time_s: Simulated time of the batch, seconds since the run started.
        episode: Current episode index.
        slate_size: Number of items each returned slate must hold.
    """

    user_ids: np.ndarray
    session_ids: np.ndarray
    page: np.ndarray
    time_s: float
    episode: int
    slate_size: int

    def __len__(self) -> int:
        return int(self.user_ids.shape[0])


@dataclass(frozen=True)
class FeedResponse:
    """A policy's answer to a :class:`FeedBatch`.

    Attributes:
        slates: Shape ``(n, slate_size)`` int, item ids; no duplicates within a row.
        origin: Optional shape ``(n, slate_size)`` int8 of :class:`sim.events.Provenance`
            codes declaring where each item came from; ``None`` means unknown.
    """

    slates: np.ndarray
    origin: np.ndarray | None = None


@dataclass(frozen=True)
class SearchBatch:
    """A batch of search requests: the engine's candidates, for the policy to re-rank.

    Attributes:
        user_ids: Shape ``(n,)`` int32.
        query_ids: Shape ``(n,)`` int64, ids of the QUERY events in the log.
        queries: ``n`` query strings as issued.
        candidates: Shape ``(n, k)`` int32 item ids from the search engine, best
            first, padded with ``-1``.
        scores: Shape ``(n, k)`` float32 engine scores (``-inf`` on padding).
        time_s: Simulated time of the batch.
        episode: Current episode index.
    """

    user_ids: np.ndarray
    query_ids: np.ndarray
    queries: list[str]
    candidates: np.ndarray
    scores: np.ndarray
    time_s: float
    episode: int

    def __len__(self) -> int:
        return int(self.user_ids.shape[0])


@dataclass(frozen=True)
class SuggestBatch:
    """A batch of requests for suggested queries (shown at the top of a feed page).

    Attributes:
        user_ids: Shape ``(n,)`` int32.
        session_ids: Shape ``(n,)`` int64.
        time_s: Simulated time of the batch.
        episode: Current episode index.
        n_suggestions: Maximum number of queries to return per user.
    """

    user_ids: np.ndarray
    session_ids: np.ndarray
    time_s: float
    episode: int
    n_suggestions: int

    def __len__(self) -> int:
        return int(self.user_ids.shape[0])


@dataclass(frozen=True)
class CatalogView:
    """Read-only view of what a policy may know about items (never latent topics).

    Attributes:
        titles: Item titles, indexed by item id (``len(titles) == n_items``).
        created_s: Shape ``(n_items,)`` float64, creation time of each item in seconds
            since the run started (negative for items that existed before it).
        available: Shape ``(n_items,)`` bool, items that may be served now.
        vocabulary: Sorted list of every word that occurs in a title.
    """

    titles: tuple[str, ...]
    created_s: np.ndarray
    available: np.ndarray
    vocabulary: tuple[str, ...] = field(default=())

    @property
    def n_items(self) -> int:
        """Number of items, including ones not yet available."""
        return len(self.titles)


@runtime_checkable
class SearchIndex(Protocol):
    """A text search engine over item titles (BM25 by default)."""

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Retrieve the top ``k`` items for each query.

        Args:
            queries: ``n`` query strings.
            k: Number of results per query.

        Returns:
            ``(ids, scores)``: shapes ``(n, k)`` int32 (padded with ``-1``) and
            float32 (``-inf`` on padding), best first. Items with a zero score are
            not returned.
        """
        ...


@dataclass(frozen=True)
class PolicyContext:
    """What a policy is given once, when it is bound to a world.

    Attributes:
        catalog: Read-only view of the items' observable attributes.
        search: The world's search engine.
        n_users: Number of users (user ids are ``0 .. n_users - 1``).
        slate_size: Items per feed slate.
        n_suggestions: Maximum suggested queries per request.
        rng: The policy's own random stream, for binding, catalogue changes and
            updates; never for answering a request (that would make the answer depend on
            the requests served before it).
        request_key: Key of the per-request random streams: a policy that answers with
            random numbers draws them from ``sim.crn.hash_rows(request_key, ...)`` of the
            request (e.g. episode, user, session, page), so a request's answer does not
            depend on its batch.
    """

    catalog: CatalogView
    search: SearchIndex
    n_users: int
    slate_size: int
    n_suggestions: int
    rng: np.random.Generator
    request_key: int = 0


@runtime_checkable
class ServedPolicy(Protocol):
    """What the world needs of a policy (``policies.base.Policy`` implements it).

    Defined here so that ``sim`` never imports ``policies``.
    """

    name: str
    #: Provenance codes the policy declares it produces (``None``: not declared).
    sources: tuple[int, ...] | None

    def bind(self, context: PolicyContext) -> None:
        """Attach to a world before the first request."""
        ...

    def on_catalog_change(self, catalog: CatalogView) -> None:
        """Items arrived or became unavailable."""
        ...

    def recommend(self, batch: FeedBatch) -> FeedResponse:
        """One slate per request."""
        ...

    def rank_search(self, batch: SearchBatch) -> np.ndarray:
        """A re-ordering of the search candidates."""
        ...

    def suggest_queries(self, batch: SuggestBatch) -> list[list[str]]:
        """Suggested queries per request."""
        ...

    def update(self, events: Any) -> None:
        """Learn from a finished episode's log slice."""
        ...

    def serving_state(self) -> Any:
        """What serving recorded since the last update that the update reads."""
        ...

    def merge_serving_states(self, states: list[Any]) -> None:
        """Adopt the serving records of replicas that served an episode in its place."""
        ...
