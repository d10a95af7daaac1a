"""What metrics may know of the episodes before the one measured (strictly past logs).

Some metrics compare an episode with the past: the return gap needs each user's last
session end, retention the users active in the previous episode, calibration each
user's historical topic mix, novelty the items' past popularity and the cumulative
Ginis the items' past clicks and impressions. Instead of handing every past log to
every metric, the run folds each finished episode into a small :class:`MetricHistory`
(pure: :meth:`MetricHistory.advance` returns a new value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from experiments.metrics.common import clicked_mask, is_event

__all__ = ["MetricHistory"]


@dataclass(frozen=True)
class MetricHistory:
    """Summaries of the episodes before the measured one.

    Attributes:
        episodes: Number of episodes folded in (the measured episode's index).
        item_clicks: Shape ``(n_items_seen,)`` int64, clicks (feed + search) per item in
            past episodes; items beyond its length have none.
        user_topic_clicks: Shape ``(n_users, n_topics)`` float64, the sum of the latent
            topic vectors of every item each user clicked; ``None`` without item topics.
        last_session_end_s: Shape ``(n_users,)`` float64, time of each user's last
            session end (``NaN``: no session yet).
        previous_active: Sorted user ids with a session in the previous episode
            (``None`` before the first episode).
        item_impressions: Shape ``(n_items_seen,)`` int64, feed impressions per item in
            past episodes (empty: none yet); items beyond its length have none.
        user_item_clicks: Sparse ``(n_users, n_items_seen)`` clicks (feed + search) of
            each user on each item in past episodes: the users' cumulative consumption
            histories (storage grows with distinct consumed pairs).
    """

    episodes: int
    item_clicks: np.ndarray
    user_topic_clicks: np.ndarray | None
    last_session_end_s: np.ndarray
    previous_active: np.ndarray | None
    item_impressions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    user_item_clicks: sparse.csr_matrix | None = None

    @classmethod
    def empty(cls, n_users: int, n_topics: int | None) -> MetricHistory:
        """The history before episode 0.

        Args:
            n_users: Population size.
            n_topics: Number of latent topics, or ``None`` if item topics are unknown.
        """
        return cls(
            episodes=0,
            item_clicks=np.zeros(0, dtype=np.int64),
            user_topic_clicks=None if n_topics is None else np.zeros((n_users, n_topics)),
            last_session_end_s=np.full(n_users, np.nan),
            previous_active=None,
        )

    def item_popularity(self, n_items: int) -> np.ndarray:
        """Past clicks per item, shape ``(n_items,)`` (zero-padded or truncated)."""
        return _fit(self.item_clicks, n_items)

    def consumption_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Past clicks as ``(users, items, counts)`` of the distinct consumed pairs."""
        if self.user_item_clicks is None:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        coo = self.user_item_clicks.tocoo()
        return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64)

    def item_exposure(self, n_items: int) -> np.ndarray:
        """Past feed impressions per item, shape ``(n_items,)`` (zero-padded or truncated)."""
        return _fit(self.item_impressions, n_items)

    def advance(self, events: pd.DataFrame, item_topics: np.ndarray | None) -> MetricHistory:
        """Fold one finished episode's log into the history.

        Args:
            events: The episode's log (columns of ``sim.events.EVENT_SCHEMA``).
            item_topics: Shape ``(n_items, n_topics)`` latent item topics, or ``None``.

        Returns:
            The history before the next episode.
        """
        clicked = clicked_mask(events)
        items = events.loc[clicked, "item_id"].to_numpy(dtype=np.int64)
        users = events.loc[clicked, "user_id"].to_numpy(dtype=np.int64)
        keep = items >= 0
        items, users = items[keep], users[keep]
        n_items = max(self.item_clicks.shape[0], int(items.max()) + 1 if items.size else 0)
        item_clicks = self.item_popularity(n_items) + np.bincount(items, minlength=n_items)
        topic_clicks = self.user_topic_clicks
        if topic_clicks is not None and item_topics is not None and items.size:
            topic_clicks = topic_clicks.copy()
            np.add.at(topic_clicks, users, np.asarray(item_topics, np.float64)[items])
        ends = is_event(events, "session_end")
        last_end = self.last_session_end_s.copy()
        if ends.any():
            end_users = events.loc[ends, "user_id"].to_numpy(dtype=np.int64)
            end_times = events.loc[ends, "time_s"].to_numpy(dtype=np.float64)
            latest = pd.Series(end_times).groupby(end_users).max()
            idx = latest.index.to_numpy(dtype=np.int64)
            last_end[idx] = np.fmax(last_end[idx], latest.to_numpy())
        active = np.unique(events["user_id"].to_numpy(dtype=np.int64))
        shown = events.loc[is_event(events, "impression"), "item_id"].to_numpy(dtype=np.int64)
        shown = shown[shown >= 0]
        n_shown = max(self.item_impressions.shape[0], int(shown.max()) + 1 if shown.size else 0)
        impressions = self.item_exposure(n_shown) + np.bincount(shown, minlength=n_shown)
        n_users = self.last_session_end_s.shape[0]
        fresh = sparse.csr_matrix(
            (np.ones(items.shape[0]), (users, items)), shape=(n_users, n_items)
        )
        past = self.user_item_clicks
        if past is not None:
            past = past.copy()
            past.resize((n_users, n_items))
            fresh = fresh + past
        fresh.sum_duplicates()
        return MetricHistory(
            episodes=self.episodes + 1,
            item_clicks=item_clicks,
            user_topic_clicks=topic_clicks,
            last_session_end_s=last_end,
            previous_active=active,
            item_impressions=impressions,
            user_item_clicks=fresh.tocsr(),
        )


def _fit(counts: np.ndarray, n: int) -> np.ndarray:
    """``counts`` as int64 of length ``n``: zero-padded or truncated."""
    out = np.zeros(n, dtype=np.int64)
    m = min(n, counts.shape[0])
    out[:m] = counts[:m]
    return out
