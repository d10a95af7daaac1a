"""The append-only feedback log: columnar buffers appended one batch at a time.

Writers append whole numpy columns per batch (never one Python dict per event); query
and suggestion texts are stored once in a string list and referenced by index. An
episode's rows are taken out as a ``pyarrow.Table`` following ``EVENT_SCHEMA``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.events import EVENT_SCHEMA, EventType, Provenance, event_names

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EventLog", "episode_frame", "log_pool", "origin_names"]

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


_FIRST_CHUNK_ROWS = 1 << 14


@functools.cache
def log_pool() -> pa.MemoryPool:
    """The Arrow memory pool of episode logs: their chunks, tables and pandas copies.

    jemalloc, set to hand freed pages back to the system at once (decay 0), when this
    pyarrow has it; else Arrow's default pool. An episode's log, its table and the
    pandas frame made from it (:func:`episode_frame`) then live in one allocator
    that returns what they free: with chunks from numpy's allocator (the C heap) and
    the frame in Arrow's default pool, each held on to memory the other could not
    reuse, and the resident memory grew episode after episode (measured at 100,000
    users: peaks of 3.6 GB, then 3.8 GB, for logs of 0.75 GB).
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # pyarrow built without jemalloc
        return pa.default_memory_pool()
    pa.jemalloc_set_decay_ms(0)
    return pool


def _pool_empty(rows: int, dtype: type) -> np.ndarray:
    """An uninitialised, writable shape ``(rows,)`` array in :func:`log_pool`."""
    dt = np.dtype(dtype)
    return np.frombuffer(pa.allocate_buffer(rows * dt.itemsize, memory_pool=log_pool()), dt)


def episode_frame(table: pa.Table) -> pd.DataFrame:
    """An episode's log as the DataFrame policies learn from, *consuming* ``table``.

    Each column's Arrow memory is released as soon as it is converted, so the log is
    not held twice (``Table.to_pandas(self_destruct=True)``: the caller must hold no
    other reference to ``table``'s columns and must not use ``table`` afterwards).
    The frame equals ``table.to_pandas()`` (one block per column).

    Args:
        table: An episode's log (schema ``EVENT_SCHEMA``), e.g. from
            :meth:`EventLog.take_table`.

    Returns:
        The DataFrame, columns of ``EVENT_SCHEMA``.
    """
    return table.to_pandas(
        memory_pool=log_pool(), split_blocks=True, self_destruct=True, use_threads=False
    )


_MAX_CHUNK_ROWS = 1 << 20


class EventLog:
    """Columnar, append-only event buffers for the current episode.

    Rows live in *chunks*: per column one pre-allocated numpy buffer per chunk. A batch
    is written into the current chunk with slice (or scatter) assignment, never one
    small array per batch; when it does not fit, a new chunk is started (twice the
    previous size, up to ``2^20`` rows, or the batch's size if larger). Nothing is
    ever copied to grow (a single growing buffer held old and new copies at once, up
    to 2.5x the log), and a chunk's unused tail is never touched, so it costs no
    resident memory. :meth:`take_table` hands the filled prefix of every chunk to
    Arrow without copying (one Arrow chunk per log chunk) and starts afresh, so the
    log is held once, by the table.
    """

    def __init__(self) -> None:
        self._chunks: list[tuple[dict[str, np.ndarray], int]] = []  # closed: (buffers, rows)
        self._next_rows = _FIRST_CHUNK_ROWS
        self._buf = self._new_chunk(_FIRST_CHUNK_ROWS)
        self._filled = 0  # rows used in the current chunk
        self._texts: list[str] = []
        self.n_rows = 0
        #: The batch being written: ``(serve time, round, kind's serving rank)``, set by
        #: the batcher.
        self.segment_key: tuple[float, int, int] | None = None
        self._segments: list[list[float]] = []

    @staticmethod
    def _new_chunk(rows: int) -> dict[str, np.ndarray]:
        return {c: _pool_empty(rows, t) for c, t in _COLUMNS.items()}

    def add_texts(self, texts: list[str]) -> np.ndarray:
        """Store strings; return their indices (shape ``(len(texts),)`` int64)."""
        start = len(self._texts)
        self._texts.extend(texts)
        return np.arange(start, start + len(texts), dtype=np.int64)

    def reserve(self, n: int) -> dict[str, np.ndarray]:
        """Append ``n`` uninitialised rows; return writable views of them per column.

        The caller must fill every column of the returned views.
        """
        capacity = self._buf["time_s"].shape[0]
        if self._filled + n > capacity:
            if self._filled:
                self._chunks.append((self._buf, self._filled))
            self._next_rows = min(self._next_rows * 2, _MAX_CHUNK_ROWS)
            self._buf = self._new_chunk(max(self._next_rows, n))
            self._filled = 0
        start, end = self._filled, self._filled + n
        self._filled = end
        self.n_rows += n
        key = self.segment_key
        if key is not None and self._segments and tuple(self._segments[-1][:3]) == key:
            self._segments[-1][3] += n
        else:
            self._segments.append([*(key or (np.nan, -1, -1)), n])
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

    def take(self, episode: int) -> tuple[pa.Table, np.ndarray]:
        """:meth:`take_table` and the rows' batch segments.

        Returns:
            ``(table, segments)``: segments of shape ``(s, 4)`` float64, one row per run
            of consecutive rows written for one ``(serve time, round, kind)`` batch key
            (``segment_key``; NaN, -1, -1 for rows written outside the batcher), with the
            run's row count last. Merging shards' logs uses them
            (:func:`sim.shards.merge_events`).
        """
        segments = np.array(self._segments, dtype=np.float64).reshape(-1, 4)
        self._segments = []
        return self.take_table(episode), segments

    def take_table(self, episode: int) -> pa.Table:
        """Return every row appended since the last call as a table and clear the buffers.

        Args:
            episode: Value of the ``episode`` column.

        Returns:
            A ``pyarrow.Table`` with schema ``EVENT_SCHEMA``, rows in append order (one
            Arrow chunk per log chunk; an empty log gives one empty chunk).
        """
        chunks = [*self._chunks, (self._buf, self._filled)]
        chunks = [(b, k) for b, k in chunks if k] or [(self._buf, 0)]
        pool = log_pool()
        texts = pa.array(self._texts, type=pa.string(), memory_pool=pool)
        events = pa.array(event_names(), type=pa.string())
        origins = pa.array(origin_names(), type=pa.string())
        batches = []
        for buf, k in chunks:
            cols = {name: b[:k] for name, b in buf.items()}
            text_idx = cols["text"]
            arrays = [
                pa.repeat(pa.scalar(episode, pa.int32()), k, memory_pool=pool),
                pa.array(cols["time_s"]),
                pa.array(cols["user_id"]),
                pa.array(cols["session_id"]),
                pa.DictionaryArray.from_arrays(pa.array(cols["event"]), events),
                pa.array(cols["item_id"]),
                pa.array(cols["position"]),
                pa.array(cols["dwell_s"], from_pandas=False),
                pa.array(cols["query_id"]),
                pc.take(
                    texts,
                    pa.array(text_idx, mask=text_idx < 0, type=pa.int64(), memory_pool=pool),
                    memory_pool=pool,
                ),
                pa.DictionaryArray.from_arrays(pa.array(cols["origin"]), origins),
            ]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA))
        table = pa.Table.from_batches(batches, schema=EVENT_SCHEMA)
        # The table shares the buffers (zero-copy): start new ones.
        self._chunks = []
        self._next_rows = _FIRST_CHUNK_ROWS
        self._buf = self._new_chunk(_FIRST_CHUNK_ROWS)
        self._filled = 0
        self._texts = []
        self.n_rows = 0
        self._segments = []
        return table
