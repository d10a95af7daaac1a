"""The append-only feedback log: columnar buffers appended one batch at a time.

Writers append whole numpy columns per batch (never one Python dict per event); query
and suggestion texts are stored once in a string list and referenced by index. An
episode's rows are taken out as a ``pyarrow.Table`` following ``EVENT_SCHEMA``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sim.events import EVENT_SCHEMA, EventType, Provenance, event_names

__all__ = ["EventLog", "origin_names"]

_COLUMNS: dict[str, type] = {
    "time_s": np.float64,
    "user_id": np.int32,
    "session_id": np.int64,
    "event": np.int8,
    "item_id": np.int32,
    "position": np.int16,
    "dwell_s": np.float32,
    "query_id": np.int64,
    "text": np.int64,
    "origin": np.int8,
}
_DEFAULTS = {
    "item_id": -1,
    "position": -1,
    "dwell_s": np.nan,
    "query_id": -1,
    "text": -1,
    "origin": int(Provenance.UNKNOWN),
}


def origin_names() -> list[str]:
    """Lower-case provenance names indexed by their ``Provenance`` code."""
    return [p.name.lower() for p in sorted(Provenance, key=int)]


_INITIAL_CAPACITY = 1 << 14


class EventLog:
    """Columnar, append-only event buffers for the current episode.

    Each column is one pre-allocated numpy buffer that grows geometrically; a batch is
    written into it with slice (or scatter) assignment, never one small array per
    batch. :meth:`take_table` hands the filled prefix of the buffers to Arrow without
    copying and starts fresh buffers sized from the episode just taken, so the log is
    held once, by the table.
    """

    def __init__(self) -> None:
        self._capacity = _INITIAL_CAPACITY
        self._buf = {c: np.empty(self._capacity, dtype=t) for c, t in _COLUMNS.items()}
        self._texts: list[str] = []
        self.n_rows = 0

    def add_texts(self, texts: list[str]) -> np.ndarray:
        """Store strings; return their indices (shape ``(len(texts),)`` int64)."""
        start = len(self._texts)
        self._texts.extend(texts)
        return np.arange(start, start + len(texts), dtype=np.int64)

    def reserve(self, n: int) -> dict[str, np.ndarray]:
        """Append ``n`` uninitialised rows; return writable views of them per column.

        The caller must fill every column of the returned views.
        """
        start, end = self.n_rows, self.n_rows + n
        if end > self._capacity:
            cap = max(end, int(self._capacity * 1.5))
            for name, old in self._buf.items():
                new = np.empty(cap, dtype=old.dtype)
                new[:start] = old[:start]
                self._buf[name] = new
            self._capacity = cap
        self.n_rows = end
        return {name: buf[start:end] for name, buf in self._buf.items()}

    def append(self, n: int, event: EventType | np.ndarray, **columns: object) -> None:
        """Append ``n`` rows; scalars broadcast, omitted columns take their null value.

        Args:
            n: Number of rows.
            event: Event type, scalar or shape ``(n,)`` codes.
            **columns: Any of ``time_s, user_id, session_id, item_id, position,
                dwell_s, query_id, text, origin`` as scalars or shape ``(n,)`` arrays.
        """
        if n == 0:
            return
        columns["event"] = event
        unknown = set(columns) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}")
        values = {}
        for name in _COLUMNS:
            value = columns.get(name, _DEFAULTS.get(name))
            if value is None:
                raise ValueError(f"column {name!r} is required")
            if np.ndim(value) != 0 and np.shape(value) != (n,):
                raise ValueError(f"column {name!r} has shape {np.shape(value)}, expected ({n},)")
            values[name] = value
        for name, view in self.reserve(n).items():
            view[:] = values[name]

    def take_table(self, episode: int) -> pa.Table:
        """Return every row appended since the last call as a table and clear the buffers.

        Args:
            episode: Value of the ``episode`` column.

        Returns:
            A ``pyarrow.Table`` with schema ``EVENT_SCHEMA``, rows in append order.
        """
        n = self.n_rows
        cols = {name: buf[:n] for name, buf in self._buf.items()}
        text_idx = cols["text"]
        texts = pa.array(self._texts, type=pa.string())
        query = texts.take(pa.array(text_idx, mask=text_idx < 0, type=pa.int64()))
        arrays = [
            pa.array(np.full(n, episode, dtype=np.int32)),
            pa.array(cols["time_s"]),
            pa.array(cols["user_id"]),
            pa.array(cols["session_id"]),
            pa.DictionaryArray.from_arrays(
                pa.array(cols["event"]), pa.array(event_names(), type=pa.string())
            ),
            pa.array(cols["item_id"]),
            pa.array(cols["position"]),
            pa.array(cols["dwell_s"], from_pandas=False),
            pa.array(cols["query_id"]),
            query,
            pa.DictionaryArray.from_arrays(
                pa.array(cols["origin"]), pa.array(origin_names(), type=pa.string())
            ),
        ]
        table = pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)
        # The table shares the buffers (zero-copy): start new ones, sized like this take.
        self._capacity = max(_INITIAL_CAPACITY, int(n * 1.1))
        self._buf = {c: np.empty(self._capacity, dtype=t) for c, t in _COLUMNS.items()}
        self._texts = []
        self.n_rows = 0
        return table
