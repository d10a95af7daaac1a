"""The feedback log's vocabulary: event types, provenance codes and the column schema.

The log is append-only and columnar. One row is one event. Columns that do not apply
to an event hold their null value (``-1`` for ids and positions, ``NaN`` for dwell,
null for text). This module is the single definition every writer and reader uses.
"""

from __future__ import annotations

from enum import IntEnum

import pyarrow as pa

__all__ = ["EVENT_SCHEMA", "EventType", "Provenance", "event_names"]


class EventType(IntEnum):
    """What happened. Stored as a dictionary-encoded string column ``event``."""

    SESSION_START = 0
    IMPRESSION = 1  # a feed item shown at ``position`` (0-based)
    CLICK = 2  # a feed item clicked; ``dwell_s`` holds the dwell time
    SKIP = 3  # a feed item examined and passed over
    SUGGESTION_SHOWN = 4  # a suggested query shown (``query`` holds its text)
    SUGGESTION_CLICK = 5  # a suggested query clicked; a QUERY event follows
    QUERY = 6  # a query issued (typed, reformulated or from a suggestion)
    SEARCH_IMPRESSION = 7  # a search result shown at ``position``
    SEARCH_CLICK = 8  # a search result clicked; ``dwell_s`` holds the dwell time
    QUERY_ABANDON = 9  # the user gave up on the query without a click
    SESSION_END = 10


class Provenance(IntEnum):
    """Where a served item came from, as declared by the policy (column ``origin``)."""

    UNKNOWN = 0
    RETRIEVAL = 1  # the policy's own feed retrieval (e.g. SID generation)
    SEARCH_EXPANSION = 2  # found by a query the policy generated
    EXPLORATION = 3  # an exploration slot (e.g. epsilon-greedy)
    SEARCH = 4  # a search-engine result for a user's query


def event_names() -> list[str]:
    """Lower-case event names indexed by their ``EventType`` code."""
    return [e.name.lower() for e in sorted(EventType, key=int)]


#: Column schema of ``events.parquet`` and of every log slice handed to policies.
EVENT_SCHEMA = pa.schema(
    [
        pa.field("episode", pa.int32(), nullable=False),
        pa.field("time_s", pa.float64(), nullable=False),  # seconds since the run started
        pa.field("user_id", pa.int32(), nullable=False),
        pa.field("session_id", pa.int64(), nullable=False),  # unique within a run
        pa.field("event", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("item_id", pa.int32(), nullable=False),  # -1 when no item
        pa.field("position", pa.int16(), nullable=False),  # -1 when not a ranked list
        pa.field("dwell_s", pa.float32(), nullable=False),  # NaN unless a click
        pa.field("query_id", pa.int64(), nullable=False),  # -1 unless a query event
        pa.field("query", pa.string(), nullable=True),  # query / suggestion text
        pa.field("origin", pa.dictionary(pa.int8(), pa.string()), nullable=False),
    ]
)
