"""Writing one served batch's events to the log, and the codes of users' next actions.

Both halves of the responder (feed and sessions in :mod:`sim.responder`, search and
suggestions in :mod:`sim.search_flow`) emit events through :class:`Emitter` and return
one of the action codes below; both live here so neither module imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.events import Provenance
from sim.log import EventLog

__all__ = ["END", "FEED", "SEARCH", "Emitter", "readonly"]

#: A user's next action after a served page: ask for another feed page, run the
#: pending query, or end the session (``Population.next_start_s`` holds the next start).
FEED, SEARCH, END = 0, 1, 2

_SEQ_SPAN = 1 << 20  # sort key of the general case: row * span + seq (seq < span)
_NULLS = {"item_id": -1, "position": -1, "dwell_s": np.nan, "query_id": -1, "text": -1,
          "origin": int(Provenance.UNKNOWN)}  # fmt: skip


def readonly(a: np.ndarray) -> np.ndarray:
    """Mark ``a`` read-only (batch arrays handed to policies must not be mutated)."""
    a.flags.writeable = False
    return a


@dataclass
class Emitter:
    """Collects the rows of one flush; written to the log grouped by batch row.

    Each piece carries ``row`` (batch row) and ``seq`` (order within the row); rows are
    written sorted by ``(row, seq)`` so a user's events stay together and in order
    (ties keep the order the pieces were added in).
    """

    pieces: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(self, row: np.ndarray, seq: np.ndarray | int, **cols: object) -> None:
        """Add rows; ``cols`` as in :meth:`EventLog.append` plus ``event``.

        Args:
            row: Shape ``(m,)`` batch row of each new event.
            seq: Order of the events within their row (scalar or shape ``(m,)``).
            **cols: Column values, scalars or shape ``(m,)`` arrays.
        """
        if len(row) == 0:
            return
        self.pieces.append({"row": row, "seq": seq, **cols})

    def write(self, log: EventLog) -> int:
        """Append everything to ``log`` in ``(row, seq)`` order; return the row count.

        Each piece is scattered straight into the log's buffers at its sorted place
        (no per-batch concatenation of the columns).
        """
        pieces, self.pieces = self.pieces, []
        if not pieces:
            return 0
        places = _places_in_order(pieces) or _places_by_sorting(pieces)
        n = sum(p.shape[0] for p in places)
        for name, view in log.reserve(n).items():
            null = _NULLS.get(name)
            for p, place in zip(pieces, places, strict=True):
                view[place] = p.get(name, null)
        return n


def _places_by_sorting(pieces: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """Destination of every piece's rows: a stable sort of the ``(row, seq)`` keys."""
    keys = [p["row"] * _SEQ_SPAN + p["seq"] for p in pieces]
    n = sum(k.shape[0] for k in keys)
    order = np.argsort(np.concatenate(keys), kind="stable")
    dest = np.empty(n, dtype=np.int64)
    dest[order] = np.arange(n)
    places, a = [], 0
    for k in keys:
        places.append(dest[a : a + k.shape[0]])
        a += k.shape[0]
    return places


def _places_in_order(pieces: list[dict[str, np.ndarray]]) -> list[np.ndarray] | None:
    """Destinations without sorting, when the pieces already come in ``seq`` order.

    That is the case when each piece's ``(row, seq)`` keys are sorted and every seq of
    a piece is at most every seq of the next piece: a row's events are then its
    entries of piece 0, then of piece 1, and so on, and a destination is the row's
    start plus the row's entries in earlier pieces plus the entry's rank in its run.
    The result equals :func:`_places_by_sorting`'s; ``None`` when the order does not
    hold (the caller then sorts).
    """
    last_seq = -1
    for p in pieces:
        seq, row = np.asarray(p["seq"]), p["row"]
        if seq.size and int(seq.min()) < last_seq:
            return None
        last_seq = int(seq.max()) if seq.size else last_seq
        if row.shape[0] > 1:
            key = row * _SEQ_SPAN + seq
            if (key[1:] < key[:-1]).any():
                return None
    n_rows = max(int(p["row"].max()) for p in pieces) + 1
    counts = [np.bincount(p["row"], minlength=n_rows) for p in pieces]
    total = np.sum(counts, axis=0)
    before = np.cumsum(total) - total  # first destination of each row
    places = []
    for p, c in zip(pieces, counts, strict=True):
        row = p["row"]
        first_in_piece = np.cumsum(c) - c
        places.append(before[row] + (np.arange(row.shape[0]) - first_in_piece[row]))
        before = before + c
    return places
