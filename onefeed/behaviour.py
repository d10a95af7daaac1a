"""Behaviour events and their packing into padded batch arrays."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class EventType(IntEnum):
    """Behaviour types the shared encoder embeds."""

    IMPRESSION = 0
    CLICK = 1
    LONG_DWELL = 2
    SKIP = 3
    SEARCH_CLICK = 4
    QUERY = 5


N_EVENT_TYPES = len(EventType)


@dataclass(frozen=True)
class BehaviourSequence:
    """One user's chronological heterogeneous behaviour.

    Attributes:
        items: Shape ``(n,)`` int64 item ids; ``-1`` for query events.
        types: Shape ``(n,)`` int64 :class:`EventType` values.
        query_words: Shape ``(n, q)`` int64 vocabulary ids of typed queries, ``-1`` padded
            (rows of item events are all ``-1``); ``None`` when there are no queries.
    """

    items: np.ndarray
    types: np.ndarray
    query_words: np.ndarray | None = None

    @staticmethod
    def from_items(items: np.ndarray, event: EventType = EventType.CLICK) -> BehaviourSequence:
        """A sequence of item events of one type (e.g. the clicks of a replay log)."""
        items = np.asarray(items, dtype=np.int64)
        return BehaviourSequence(items, np.full(len(items), int(event), dtype=np.int64))

    def positive_items(self) -> np.ndarray:
        """Items the user engaged with (click, long dwell, search click)."""
        keep = np.isin(self.types, [EventType.CLICK, EventType.LONG_DWELL, EventType.SEARCH_CLICK])
        return self.items[keep & (self.items >= 0)]


@dataclass
class PackedBatch:
    """Right-aligned padded behaviour arrays (the most recent event is the last column).

    Attributes:
        items: Shape ``(b, t)`` int64; ``-1`` where there is no item.
        types: Shape ``(b, t)`` int64.
        words: Shape ``(b, t, q)`` int64 query words, ``-1`` padded.
        mask: Shape ``(b, t)`` bool, True for real events.
    """

    items: np.ndarray
    types: np.ndarray
    words: np.ndarray
    mask: np.ndarray


def as_sequence(h: np.ndarray | BehaviourSequence) -> BehaviourSequence:
    """Coerce a plain item array (clicks) or a sequence to :class:`BehaviourSequence`."""
    if isinstance(h, BehaviourSequence):
        return h
    return BehaviourSequence.from_items(np.asarray(h))


def pack(histories: list[BehaviourSequence], max_len: int, max_words: int = 4) -> PackedBatch:
    """Pack the last ``max_len`` events of each history, right-aligned.

    Args:
        histories: ``b`` behaviour sequences.
        max_len: Number of most recent events kept.
        max_words: Query words kept per query event.

    Returns:
        A :class:`PackedBatch` with ``t = max_len``.
    """
    b = len(histories)
    items = np.full((b, max_len), -1, dtype=np.int64)
    types = np.zeros((b, max_len), dtype=np.int64)
    words = np.full((b, max_len, max_words), -1, dtype=np.int64)
    mask = np.zeros((b, max_len), dtype=bool)
    for r, h in enumerate(histories):
        n = min(len(h.items), max_len)
        if n == 0:
            continue
        items[r, max_len - n :] = h.items[-n:]
        types[r, max_len - n :] = h.types[-n:]
        mask[r, max_len - n :] = True
        if h.query_words is not None:
            qw = h.query_words[-n:, :max_words]
            words[r, max_len - n :, : qw.shape[1]] = qw
    return PackedBatch(items, types, words, mask)


def prefix_windows(
    sequences: list[np.ndarray], max_len: int, min_prefix: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (prefix → next item) pair of click sequences, as padded windows.

    Args:
        sequences: Chronological item arrays.
        max_len: Window length (most recent items kept).
        min_prefix: Minimum prefix length.

    Returns:
        ``(windows, targets, users)``: shapes ``(m, max_len)`` int64 right-aligned, ``-1``
        padded; ``(m,)`` int64 next items; ``(m,)`` int64 user indices.
    """
    lens = np.array([len(s) for s in sequences], dtype=np.int64)
    flat = (
        np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
        if len(sequences)
        else np.zeros(0, dtype=np.int64)
    )
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    user_of = np.repeat(np.arange(len(sequences)), lens)
    pos = np.arange(len(flat)) - starts[user_of]
    keep = pos >= min_prefix
    g = np.nonzero(keep)[0]
    offs = np.arange(-max_len, 0)
    idx = g[:, None] + offs[None, :]
    valid = idx >= starts[user_of[g]][:, None]
    windows = np.where(valid, flat[np.clip(idx, 0, None)], -1)
    return windows, flat[g], user_of[g]
