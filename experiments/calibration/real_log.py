"""A real dataset as the calibration reads it: items with text and topics, and the log.

:class:`RealLog` is built from a replay-bench dataset (:mod:`experiments.replay.data`)
by :func:`experiments.calibration.loading.load_real_log`; the statistics of the
calibration report read the log as an *interaction frame* (:func:`interaction_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["RealLog", "interaction_frame"]


@dataclass(frozen=True)
class RealLog:
    """A real catalogue and its users' chronological interactions.

    Attributes:
        name: Dataset name as given in the scenario (``ml-100k``, ``beauty``, ``s3rec:NAME``).
        titles: ``n_items`` cleaned titles: lower-case words of letters and digits,
            separated by single spaces (what the search engine indexes).
        topic_names: ``K`` topic names (genres, categories, or ``factor-k``).
        item_topics: Shape ``(n_items, K)`` float64, rows on the simplex.
        release_rank: Shape ``(n_items,)`` float64 in ``[0, 1]``, the item's rank in
            release order (0 oldest), or ``None`` when the data do not say.
        sequences: One int64 array of item ids per user, chronological.
        timestamps: One int64 array of Unix seconds per user, aligned with
            ``sequences``, or ``None`` when the data have none.
        source: Where titles and topics come from (for reports).
    """

    name: str
    titles: list[str]
    topic_names: tuple[str, ...]
    item_topics: np.ndarray
    release_rank: np.ndarray | None
    sequences: list[np.ndarray]
    timestamps: list[np.ndarray] | None
    source: str = ""

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.titles)

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.sequences)

    @property
    def n_topics(self) -> int:
        """Number of topics ``K``."""
        return int(self.item_topics.shape[1])

    @property
    def n_interactions(self) -> int:
        """Total interactions."""
        return int(sum(len(s) for s in self.sequences))


def interaction_frame(sequences: list[np.ndarray]) -> pd.DataFrame:
    """The log as a frame: one row per interaction, users' rows in chronological order.

    Args:
        sequences: One int array of item ids per user (user id = list index).

    Returns:
        Columns ``user`` (int64) and ``item`` (int64).
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    users = np.repeat(np.arange(len(sequences), dtype=np.int64), lengths)
    items = (
        np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
        if sequences
        else np.zeros(0, dtype=np.int64)
    )
    return pd.DataFrame({"user": users, "item": items})
