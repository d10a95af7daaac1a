"""Training examples: (history window → target item, optional query) with weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onefeed.behaviour import BehaviourSequence, EventType, PackedBatch, pack, prefix_windows


@dataclass
class Examples:
    """A set of weighted training examples for both heads.

    Attributes:
        items: Shape ``(m, t)`` history windows, right-aligned, ``-1`` padded.
        types: Shape ``(m, t)`` event types.
        words: Shape ``(m, t, q)`` query words of query events, ``-1`` padded.
        targets: Shape ``(m,)`` target items.
        weights: Shape ``(m,)`` item/SID weights (0 disables the item/SID loss).
        negative: Shape ``(m,)`` bool, unlikelihood examples.
        queries: Shape ``(m, q)`` query-head targets (``-1`` padded; all ``-1``: none).
        query_weights: Shape ``(m,)``.
        query_negative: Shape ``(m,)`` bool.
    """

    items: np.ndarray
    types: np.ndarray
    words: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    negative: np.ndarray
    queries: np.ndarray
    query_weights: np.ndarray
    query_negative: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    def take(self, idx: np.ndarray) -> Examples:
        """The examples at ``idx``."""
        return Examples(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    def behaviour(self, idx: np.ndarray) -> PackedBatch:
        """Packed behaviour of the examples at ``idx``."""
        items = self.items[idx]
        return PackedBatch(
            items,
            self.types[idx],
            self.words[idx],
            (items >= 0) | (self.types[idx] == EventType.QUERY),
        )

    @staticmethod
    def concat(parts: list[Examples]) -> Examples:
        """Concatenate example sets (same window and query lengths)."""
        return Examples(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in Examples.__dataclass_fields__)
        )


def from_click_sequences(
    sequences: list[np.ndarray], max_len: int, item_query: np.ndarray, weight: float = 1.0
) -> Examples:
    """Every (prefix → next item) pair of click sequences, vectorised.

    Args:
        sequences: Chronological item arrays.
        max_len: History window length.
        item_query: Shape ``(n_items, q)`` canonical query of every item (query target:
            the words that would find the next item).
        weight: Weight of every example.

    Returns:
        :class:`Examples`.
    """
    win, tgt, _ = prefix_windows(sequences, max_len)
    m, q = len(tgt), item_query.shape[1]
    return Examples(
        items=win,
        types=np.full(win.shape, int(EventType.CLICK), dtype=np.int64),
        words=np.full((m, max_len, q), -1, dtype=np.int64),
        targets=tgt,
        weights=np.full(m, weight),
        negative=np.zeros(m, dtype=bool),
        queries=item_query[tgt],
        query_weights=np.full(m, weight),
        query_negative=np.zeros(m, dtype=bool),
    )


def from_behaviour(
    histories: list[BehaviourSequence],
    targets: np.ndarray,
    max_len: int,
    queries: np.ndarray,
    weights: np.ndarray,
    negative: np.ndarray,
    query_weights: np.ndarray,
    query_negative: np.ndarray,
) -> Examples:
    """Examples from explicit behaviour histories (one per example).

    Args:
        histories: ``m`` behaviour sequences (the context of each example).
        targets: Shape ``(m,)`` target items.
        max_len: Window length.
        queries: Shape ``(m, q)`` query targets.
        weights: Shape ``(m,)``.
        negative: Shape ``(m,)`` bool.
        query_weights: Shape ``(m,)``.
        query_negative: Shape ``(m,)`` bool.

    Returns:
        :class:`Examples`.
    """
    pb = pack(histories, max_len, queries.shape[1])
    return Examples(
        pb.items,
        pb.types,
        pb.words,
        np.asarray(targets, dtype=np.int64),
        np.asarray(weights, dtype=np.float64),
        np.asarray(negative, dtype=bool),
        np.asarray(queries, dtype=np.int64),
        np.asarray(query_weights, dtype=float),
        np.asarray(query_negative, dtype=bool),
    )


def click_examples_from_behaviour(
    sequences: list[BehaviourSequence], max_len: int, item_query: np.ndarray
) -> Examples:
    """Examples for every positive item event of each behaviour sequence.

    Positive events are clicks, long dwells and search clicks; the context of each is
    every earlier event.
    """
    hist, tgt = [], []
    pos_types = (EventType.CLICK, EventType.LONG_DWELL, EventType.SEARCH_CLICK)
    for s in sequences:
        for t in range(1, len(s.items)):
            if s.items[t] >= 0 and s.types[t] in pos_types:
                qw = None if s.query_words is None else s.query_words[:t]
                hist.append(BehaviourSequence(s.items[:t], s.types[:t], qw))
                tgt.append(s.items[t])
    m = len(tgt)
    tgt_a = np.array(tgt, dtype=np.int64)
    ones, zeros = np.ones(m), np.zeros(m, dtype=bool)
    return from_behaviour(
        hist, tgt_a, max_len, item_query[tgt_a].reshape(m, -1), ones, zeros, ones, zeros
    )
