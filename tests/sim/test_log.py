"""The event log's memory: chunks in one Arrow pool, and the frame that consumes a table."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd

from sim.events import EVENT_SCHEMA, EventType
from sim.log import EventLog, episode_frame, log_pool

from .helpers import make_world, small_config


def _filled_log(n_batches: int, rows: int) -> EventLog:
    """A log of ``n_batches`` batches of ``rows`` rows, with query texts on even rows."""
    log = EventLog()
    for b in range(n_batches):
        user = np.arange(rows, dtype=np.int32) + b
        texts = log.add_texts([f"query {b} {i}" for i in range(0, rows, 2)])
        text = np.full(rows, -1, dtype=np.int64)
        text[0::2] = texts
        log.append(
            rows,
            np.where(user % 2 == 0, int(EventType.QUERY), int(EventType.IMPRESSION)),
            time_s=np.linspace(b, b + 1, rows),
            user_id=user,
            session_id=user.astype(np.int64),
            item_id=user % 7,
            text=text,
        )
    return log


def test_episode_frame_equals_to_pandas_across_log_chunks():
    # 3 batches of 20,000 rows: the first chunk (16,384 rows) is too small and stays
    # empty; batch 1 opens a chunk of 32,768 rows, batch 2 does not fit in its rest
    # and opens one of 65,536 rows, which batch 3 shares: two Arrow chunks.
    table = _filled_log(3, 20_000).take_table(episode=4)
    assert table.num_rows == 60_000
    assert table.column("time_s").num_chunks == 2
    assert table.schema == EVENT_SCHEMA
    expected = table.to_pandas()
    frame = episode_frame(table)
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["query"].iloc[2] == "query 0 2"  # even row i holds "query {batch} {i}"
    assert frame["query"].isna().sum() == 30_000


def test_episode_frame_equals_to_pandas_for_a_world_episode():
    world = make_world(small_config(150), seed=3)
    table = world.run_episode(0).events
    expected = table.to_pandas()
    pd.testing.assert_frame_equal(episode_frame(table), expected)


def test_log_buffers_live_in_the_log_pool_and_are_released():
    gc.collect()
    pool = log_pool()
    before = pool.bytes_allocated()
    log = _filled_log(2, 20_000)
    # 40,000 rows of 48 bytes in the chunks (at least; chunks are larger).
    assert pool.bytes_allocated() - before >= 40_000 * 48
    frame = episode_frame(log.take_table(episode=0))
    del log
    assert frame.shape == (40_000, len(EVENT_SCHEMA))
    del frame
    gc.collect()
    assert pool.bytes_allocated() <= before
