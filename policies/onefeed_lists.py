"""Per-user served lists of the OneFeed policy, built a chunk of users at a time.

A user's final list is their ranked candidates (available, not yet consumed, not in
their recent behaviour, each item once, in rank order) followed by popular items as
filler (items not already on the list, consumed ones last), to exactly ``length``
entries. :func:`finalise_rows` computes it for many users at once with array
operations, a chunk of users at a time (:func:`policies.ranking.user_chunks`), so that
no step needs a users × items array of the whole population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policies.onefeed_logs import UserHistories
from sim.events import Provenance
from sim.types import SearchIndex

__all__ = ["ExpansionHits", "finalise_rows", "first_occurrences"]


def first_occurrences(rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Which entries are the first occurrence of their value among the ``ok`` entries of their row.

    Example: rows ``[[5, 3, 5, 3]]`` with ok ``[[False, True, True, True]]`` give
    ``[[False, True, True, False]]`` (the 5 at column 0 does not count: not ok).

    Args:
        rows: Shape ``(n, k)`` int64 values (non-negative where ok).
        ok: Shape ``(n, k)`` bool.

    Returns:
        Shape ``(n, k)`` bool, only True where ``ok``.
    """
    n, k = rows.shape
    if k == 0:
        return np.zeros((n, 0), dtype=bool)
    # Entries that are not ok get distinct keys above every value, so they never tie.
    top = int(rows.max(initial=0)) + 1
    key = np.where(ok, rows, top + np.arange(k)[None, :])
    order = np.argsort(key, axis=1, kind="stable")  # ties: lower column first
    sorted_key = np.take_along_axis(key, order, axis=1)
    first_sorted = np.ones((n, k), dtype=bool)
    first_sorted[:, 1:] = sorted_key[:, 1:] != sorted_key[:, :-1]
    out = np.empty((n, k), dtype=bool)
    np.put_along_axis(out, order, first_sorted, axis=1)
    return out & ok


def _fill(
    users: np.ndarray,
    kept: np.ndarray,
    n_kept: np.ndarray,
    popular: np.ndarray,
    need: np.ndarray,
    histories: UserHistories,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Popular filler of each row: ``popular`` minus the row's kept items, consumed ones last.

    Args:
        users: Shape ``(m,)`` user ids.
        kept: Shape ``(m, L)`` the rows' kept items (first ``n_kept`` columns valid).
        n_kept: Shape ``(m,)``.
        popular: Shape ``(P,)`` available items, most popular first.
        need: Shape ``(m,)`` filler entries each row needs (``<= P - n_kept``).
        histories: The users' consumed items.

    Returns:
        ``(row, slot, item)``: row ``row[j]`` gets ``item[j]`` at list position
        ``n_kept[row[j]] + slot[j]``.
    """
    m, width = kept.shape
    valid = np.arange(width)[None, :] < n_kept[:, None]
    kept = np.where(valid, kept, 0)
    span = int(max(popular.max(initial=0), kept.max(initial=0))) + 1
    kept_keys = np.sort((np.arange(m)[:, None] * span + kept)[valid])

    def ranks(prefix: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        query = rows[:, None] * span + prefix[None, :]
        at = np.clip(np.searchsorted(kept_keys, query), 0, max(kept_keys.size - 1, 0))
        on_list = kept_keys[at] == query if kept_keys.size else np.zeros(query.shape, bool)
        consumed, _ = histories.membership(users[rows], np.broadcast_to(prefix, query.shape))
        fresh = ~on_list & ~consumed
        later = ~on_list & consumed
        n_fresh = fresh.sum(axis=1)
        rank = np.where(
            fresh, np.cumsum(fresh, axis=1) - 1, n_fresh[:, None] + np.cumsum(later, axis=1) - 1
        )
        return np.where(fresh | later, rank, np.iinfo(np.int64).max), n_fresh, fresh

    rows = np.flatnonzero(need > 0)
    out_r, out_s, out_i = [], [], []
    # Most rows find their filler among the first items of the popular order; a row
    # whose prefix holds too few fresh items is redone over the whole order (exact).
    prefix_len = min(popular.shape[0], 2 * width + 64)
    for whole in (False, True):
        if rows.size == 0:
            break
        prefix = popular if whole else popular[:prefix_len]
        rank, n_fresh, _ = ranks(prefix, rows)
        done = np.ones(rows.shape[0], dtype=bool) if whole else n_fresh >= need[rows]
        if prefix.shape[0] == popular.shape[0]:
            done[:] = True
        r, c = np.nonzero((rank < need[rows][:, None]) & done[:, None])
        out_r.append(rows[r])
        out_s.append(rank[r, c])
        out_i.append(prefix[c])
        rows = rows[~done]
    if not out_r:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(out_r), np.concatenate(out_s), np.concatenate(out_i)


def finalise_rows(
    users: np.ndarray,
    items: np.ndarray,
    origin: np.ndarray,
    query_of: np.ndarray,
    popular: np.ndarray,
    length: int,
    available: np.ndarray,
    histories: UserHistories,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The final lists of ``users``: ranked candidates, then popular filler.

    Keeps, per row, the candidates that are real available items, not consumed by the
    user and not in their recent behaviour, each item once (its first column), in
    column order, at most ``length``; then fills with ``popular`` items not already
    kept, those the user consumed after all others, to exactly ``length`` entries.

    Args:
        users: Shape ``(m,)`` user ids.
        items: Shape ``(m, k)`` ranked candidate items (``-1`` padded).
        origin: Shape ``(m, k)`` int8 provenance of each candidate.
        query_of: Shape ``(m, k)`` index of the generated query behind each candidate.
        popular: Shape ``(P,)`` every available item, most popular first.
        length: List length, at most ``P``.
        available: Shape ``(n_items,)`` bool.
        histories: The users' consumed items and recent behaviour.

    Returns:
        ``(items, origin, query_of)`` of shape ``(m, length)``; filler items have origin
        ``POPULAR`` and query ``-1``.
    """
    m = users.shape[0]
    out_items = np.empty((m, length), dtype=np.int64)
    out_origin = np.full((m, length), int(Provenance.POPULAR), dtype=np.int8)
    out_query = np.full((m, length), -1, dtype=np.int64)
    if m == 0:
        return out_items, out_origin, out_query
    rows = np.asarray(items, dtype=np.int64)
    ok = (rows >= 0) & (rows < available.shape[0])
    ok[ok] &= available[rows[ok]]
    consumed, recent = histories.membership(users, np.where(ok, rows, -1))
    ok &= ~consumed & ~recent
    keep = first_occurrences(rows, ok)
    rank = np.cumsum(keep, axis=1) - 1
    keep &= rank < length
    r, c = np.nonzero(keep)
    out_items[r, rank[r, c]] = rows[r, c]
    out_origin[r, rank[r, c]] = origin[r, c]
    out_query[r, rank[r, c]] = query_of[r, c]
    n_kept = keep.sum(axis=1)
    fr, slot, fill = _fill(users, out_items, n_kept, popular, length - n_kept, histories)
    out_items[fr, n_kept[fr] + slot] = fill
    return out_items, out_origin, out_query


@dataclass(frozen=True)
class ExpansionHits:
    """The items each user's generated queries retrieve (search-based expansion).

    Attributes:
        owner: Shape ``(h,)`` int64 user of each hit, ascending.
        item: Shape ``(h,)`` int64 retrieved item.
        query: Shape ``(h,)`` int64 index of the query in its user's list; hits are in
            the order (user, query, engine rank).
    """

    owner: np.ndarray
    item: np.ndarray
    query: np.ndarray

    @classmethod
    def search(
        cls, queries: list[list[str]], engine: SearchIndex, per_query: int, n_items: int
    ) -> ExpansionHits:
        """Run every user's queries through ``engine`` in one batched call.

        Args:
            queries: Per user, their generated queries.
            engine: The search engine.
            per_query: Results kept per query.
            n_items: Items beyond this id are ignored.
        """
        flat = [q for row in queries for q in row]
        if not flat:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty)
        owner = np.repeat(np.arange(len(queries), dtype=np.int64), [len(r) for r in queries])
        index_in_row = np.concatenate([np.arange(len(r), dtype=np.int64) for r in queries])
        found, _ = engine.search(flat, per_query)
        found = found.astype(np.int64)
        hit = (found >= 0) & (found < n_items)
        who = np.broadcast_to(owner[:, None], found.shape)
        qi = np.broadcast_to(index_in_row[:, None], found.shape)
        return cls(who[hit], found[hit], qi[hit])

    def dense(self, chunk: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
        """Hits of the consecutive users ``chunk`` as ``(found, query_of_item)``.

        Returns:
            Shape ``(c, n_items)`` bool, whether any of the user's queries retrieved the
            item, and int64, the last such query in the user's list (``-1`` for none).
        """
        c = chunk.shape[0]
        found = np.zeros((c, n_items), dtype=bool)
        query_of = np.full((c, n_items), -1, dtype=np.int64)
        if c == 0 or self.owner.size == 0:
            return found, query_of
        lo = np.searchsorted(self.owner, chunk[0], side="left")
        hi = np.searchsorted(self.owner, chunk[-1], side="right")
        rows, items, query = self.owner[lo:hi] - chunk[0], self.item[lo:hi], self.query[lo:hi]
        found[rows, items] = True
        # The last query of the user that retrieved the item (hits are in query order).
        # This is what the policy has always logged: its earlier code meant the first
        # query but wrote reversed index arrays, which numpy applies in memory order.
        key = (rows * n_items + items)[::-1]
        _, last = np.unique(key, return_index=True)
        last = rows.shape[0] - 1 - last
        query_of[rows[last], items[last]] = query[last]
        return found, query_of
