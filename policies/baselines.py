"""Baseline policies: ``random`` and ``popularity`` (recent-window click counts)."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np
import pandas as pd

from policies.base import Policy, PolicyContext
from policies.log_view import is_kind
from policies.registry import register_policy
from sim.crn import hash_rows, uniform_slots
from sim.events import Provenance
from sim.types import FeedBatch, FeedResponse, SuggestBatch

__all__ = ["PopularityPolicy", "RandomPolicy", "sample_distinct", "sample_distinct_uniforms"]


def sample_distinct_uniforms(u: np.ndarray, m: int, taken: np.ndarray | None = None) -> np.ndarray:
    """Distinct indices in ``0 .. m - 1`` per row from uniforms, avoiding ``taken``.

    Draw ``j`` of a row picks, uniformly by ``u[:, j]``, one of the indices not taken by
    the row's earlier draws nor by ``taken``: the ``r``-th free index with
    ``r = floor(u * free)``, found by stepping over the taken indices in ascending order.
    Exact sampling without replacement, and a pure function of the uniforms.

    Args:
        u: Shape ``(n, k)`` uniforms in ``[0, 1)``.
        m: Size of the index range.
        taken: Shape ``(n, t)`` indices each row must avoid (distinct per row, ``-1``
            for none), or ``None``.

    Returns:
        Shape ``(n, k)`` int64.

    Raises:
        ValueError: If a row has fewer than ``k`` free indices.
    """
    n, k = u.shape
    taken = np.zeros((n, 0), np.int64) if taken is None else np.asarray(taken, np.int64)
    free = m - (taken >= 0).sum(axis=1)
    if (free < k).any():
        raise ValueError(f"cannot draw {k} distinct items from {int(free.min())} free ones")
    out = np.empty((n, k), dtype=np.int64)
    for j in range(k):
        r = np.floor(u[:, j] * (free - j)).astype(np.int64)
        before = np.concatenate([taken, out[:, :j]], axis=1)
        before = np.sort(np.where(before >= 0, before, np.iinfo(np.int64).max), axis=1)
        for col in range(before.shape[1]):
            r += before[:, col] <= r
        out[:, j] = r
    return out


def sample_distinct(rng: np.random.Generator, pool: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Draw ``n_rows`` rows of ``k`` distinct elements of ``pool``, uniformly.

    Draws with replacement and redraws only the rows that contain a duplicate, so the
    cost is ``O(n_rows * k)`` rather than ``O(n_rows * len(pool))``.

    Args:
        rng: Random stream.
        pool: Shape ``(m,)`` candidate ids, ``m >= k``.
        n_rows: Number of rows.
        k: Elements per row.

    Returns:
        Shape ``(n_rows, k)`` array of ids from ``pool``.
    """
    if pool.shape[0] < k:
        raise ValueError(f"cannot draw {k} distinct items from a pool of {pool.shape[0]}")
    idx = rng.integers(0, pool.shape[0], size=(n_rows, k))
    ordered = np.sort(idx, axis=1)
    bad = np.flatnonzero((np.diff(ordered, axis=1) == 0).any(axis=1))
    for row in bad:
        idx[row] = rng.choice(pool.shape[0], size=k, replace=False)
    return pool[idx]


@register_policy("random")
class RandomPolicy(Policy):
    """Serves uniformly random distinct available items; learns nothing.

    Each request's items are drawn from its own stream, keyed by (episode, user,
    session, page) under the run's ``request_key``.
    """

    sources = (Provenance.EXPLORATION,)

    def bind(self, context: PolicyContext) -> None:  # noqa: D102
        super().bind(context)
        self._pool = np.flatnonzero(context.catalog.available)

    def on_catalog_change(self, catalog) -> None:  # noqa: D102
        super().on_catalog_change(catalog)
        self._pool = np.flatnonzero(catalog.available)

    def recommend(self, batch: FeedBatch) -> FeedResponse:  # noqa: D102
        # Per-request random numbers: a request's slate does not depend on its batch.
        keys = hash_rows(
            self.context.request_key, np.full(len(batch), batch.episode), batch.user_ids,
            batch.session_ids, batch.page,
        )  # fmt: skip
        u = uniform_slots(keys, batch.slate_size)
        slates = self._pool[sample_distinct_uniforms(u, self._pool.shape[0])]
        origin = np.full(slates.shape, int(Provenance.EXPLORATION), dtype=np.int8)
        return FeedResponse(slates=slates, origin=origin)


@register_policy("popularity")
class PopularityPolicy(Policy):
    """Ranks available items by clicks in the last ``window_episodes`` episodes.

    Every user gets the same ranking; page ``p`` of a session shows ranks
    ``p*S .. (p+1)*S - 1`` (wrapping around), so a session does not see one slate
    twice. Before any feedback, items are ranked by a fixed random order. Suggested
    queries are the most frequent recent queries that led to a search click.

    Args:
        window_episodes: How many past episodes of clicks to count (>= 1).
        n_top_queries: Size of the pool of successful queries kept for suggestions.
    """

    sources = (Provenance.RETRIEVAL,)

    def __init__(self, window_episodes: int = 3, n_top_queries: int = 50) -> None:
        if window_episodes < 1:
            raise ValueError(f"window_episodes must be >= 1, got {window_episodes}")
        self.window_episodes = int(window_episodes)
        self.n_top_queries = int(n_top_queries)
        self._click_window: deque[np.ndarray] = deque(maxlen=self.window_episodes)
        self._query_window: deque[Counter[str]] = deque(maxlen=self.window_episodes)
        self._top_queries: list[str] = []

    def bind(self, context: PolicyContext) -> None:  # noqa: D102
        super().bind(context)
        self._tiebreak = context.rng.random(context.catalog.n_items)
        self._rerank()

    def on_catalog_change(self, catalog) -> None:  # noqa: D102
        super().on_catalog_change(catalog)
        extra = catalog.n_items - self._tiebreak.shape[0]
        if extra > 0:
            self._tiebreak = np.concatenate([self._tiebreak, self.context.rng.random(extra)])
        self._rerank()

    def _counts(self) -> np.ndarray:
        counts = np.zeros(self.context.catalog.n_items, dtype=np.float64)
        for window in self._click_window:
            counts[: window.shape[0]] += window
        return counts

    def _rerank(self) -> None:
        score = self._counts() + 0.5 * self._tiebreak  # tiebreak < 1 click
        score[~self.context.catalog.available] = -np.inf
        n_avail = int(self.context.catalog.available.sum())
        self._ranking = np.argsort(-score, kind="stable")[:n_avail]

    def recommend(self, batch: FeedBatch) -> FeedResponse:  # noqa: D102
        size = batch.slate_size
        n_ranked = self._ranking.shape[0]
        offsets = (batch.page.astype(np.int64) * size)[:, None] + np.arange(size)[None, :]
        slates = self._ranking[offsets % n_ranked]
        origin = np.full(slates.shape, int(Provenance.RETRIEVAL), dtype=np.int8)
        return FeedResponse(slates=slates, origin=origin)

    def suggest_queries(self, batch: SuggestBatch) -> list[list[str]]:  # noqa: D102
        top = self._top_queries[: batch.n_suggestions]
        return [list(top) for _ in range(len(batch))]

    def update(self, events: pd.DataFrame) -> None:  # noqa: D102
        # Masks from the event column's category codes and plain numpy columns: no
        # per-row Python strings, no filtered copies of the whole frame.
        event = events["event"]
        item_id = events["item_id"].to_numpy()
        clicked = item_id[is_kind(event, "click", "search_click")]
        counts = np.bincount(clicked[clicked >= 0], minlength=self.context.catalog.n_items)
        self._click_window.append(counts.astype(np.float64))
        query_id = events["query_id"].to_numpy()
        successful = np.unique(query_id[is_kind(event, "search_click")])
        rows = is_kind(event, "query") & np.isin(query_id, successful)
        queries = events["query"][rows]
        self._query_window.append(Counter(queries.dropna().tolist()))
        total: Counter[str] = Counter()
        for window in self._query_window:
            total.update(window)
        ranked = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))
        self._top_queries = [q for q, _ in ranked[: self.n_top_queries]]
        self._rerank()
