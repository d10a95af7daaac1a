"""Per-user interaction history accumulated from logged feedback (never latent state)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from policies.log_view import is_kind

__all__ = ["InteractionHistory", "positive_interactions"]

#: Events that count as a positive interaction with an item.
POSITIVE_EVENTS = ("click", "search_click")


def positive_interactions(events: pd.DataFrame) -> pd.DataFrame:
    """The rows of a log slice that are positive interactions, in log order.

    Args:
        events: A log slice with the columns of ``sim.events.EVENT_SCHEMA``.

    Returns:
        DataFrame with columns ``user_id``, ``item_id``, ``time_s``, ``dwell_s``.
    """
    mask = is_kind(events["event"], *POSITIVE_EVENTS) & (events["item_id"].to_numpy() >= 0)
    return events.loc[mask, ["user_id", "item_id", "time_s", "dwell_s"]]


class InteractionHistory:
    """A decayed user × item matrix of positive interactions and each user's recent items.

    After each episode ``add_episode`` multiplies the old weights by ``decay`` and adds
    one unit per click, so older feedback fades geometrically with episodes.

    Args:
        n_users: Number of users.
        n_items: Number of items (grows with :meth:`resize`).
        decay: Per-episode weight multiplier in ``(0, 1]``.
        recent_len: How many most recent clicked items to keep per user.
    """

    def __init__(self, n_users: int, n_items: int, decay: float = 0.9, recent_len: int = 20):
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay}")
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.decay = float(decay)
        self.matrix = sp.csr_matrix((self.n_users, self.n_items), dtype=np.float64)
        self.recent = np.full((self.n_users, int(recent_len)), -1, dtype=np.int64)

    def resize(self, n_items: int) -> None:
        """Grow the item dimension to ``n_items`` (new items have no interactions)."""
        if n_items > self.n_items:
            self.matrix.resize((self.n_users, n_items))
            self.n_items = int(n_items)

    def add_episode(self, events: pd.DataFrame) -> pd.DataFrame:
        """Fold one episode's positive interactions into the history.

        Returns:
            The positive interactions that were added (see :func:`positive_interactions`).
        """
        pos = positive_interactions(events)
        users = pos["user_id"].to_numpy(np.int64)
        items = pos["item_id"].to_numpy(np.int64)
        fresh = sp.csr_matrix(
            (np.ones(users.shape[0]), (users, items)), shape=(self.n_users, self.n_items)
        )
        self.matrix = (self.matrix * self.decay + fresh).tocsr()
        self._push_recent(users, items)
        return pos

    def _push_recent(self, users: np.ndarray, items: np.ndarray) -> None:
        """Append clicks (in log order) to each user's ring of recent items, newest last."""
        if users.shape[0] == 0:
            return
        order = np.argsort(users, kind="stable")
        users, items = users[order], items[order]
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        ends = np.r_[starts[1:], users.shape[0]]
        width = self.recent.shape[1]
        for start, end in zip(starts, ends, strict=True):
            user = users[start]
            merged = np.concatenate([self.recent[user], items[start:end]])
            merged = merged[merged >= 0][-width:]
            self.recent[user] = -1
            self.recent[user, width - merged.shape[0] :] = merged

    def seen_mask(self, user_ids: np.ndarray) -> sp.csr_matrix:
        """Shape ``(n, n_items)`` sparse matrix, non-zero where the user interacted."""
        return self.matrix[user_ids]
