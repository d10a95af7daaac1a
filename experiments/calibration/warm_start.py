"""The real training interactions as a log a policy can learn from before episode 0.

A calibrated scenario (``world.from_data.warm_start``) may warm-start the policy: after
binding it to the world and before the first simulated episode, the runner calls
``policy.update`` once with :func:`warm_start_frame` of the users' real training
sequences. Policies learn only from logged events, so the real interactions are written
as the events a simulated episode logs (the columns and dtypes of
:func:`sim.log.episode_frame`): per user one session of consumptions, each an
impression at position 0 followed by its click.

What the frame can and cannot say: the real log holds consumptions only. There is no
impression of an item the user did not consume, no skip, no dwell time, no query and no
search. Each consumption is written as a one-item slate that was clicked; a policy that
estimates click rates among examined impressions must not read these as examinations
(every one would look clicked). Policies that learn from clicks (popularity, the
collaborative filters, the content profiles, OneFeed's behaviour sequences and model)
read them as they read simulated clicks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.events import EVENT_SCHEMA, EventType, Provenance, event_names
from sim.log import episode_frame, origin_names

__all__ = ["WARM_START_EPISODE", "WARM_START_STEP_S", "warm_start_frame"]

#: Value of the ``episode`` column of the warm-start log (simulated episodes are >= 0).
WARM_START_EPISODE = -1
#: Seconds between consecutive events of a user's warm-start session (s).
WARM_START_STEP_S = 1.0


def warm_start_frame(
    histories: list[np.ndarray], *, first_session_id: int = -1, end_s: float = 0.0
) -> pd.DataFrame:
    """The real training interactions as one log slice (what ``Policy.update`` reads).

    User ``u`` with ``n > 0`` interactions gets ``2n + 2`` consecutive rows: a
    ``session_start``, then per interaction, in the order of ``histories[u]``, an
    ``impression`` of the item at position 0 followed by a ``click`` on it (position 0),
    then a ``session_end``. Users with an empty history get no rows. Rows are grouped by
    user, users in increasing order.

    Columns that do not apply hold the log's null values (``item_id`` and ``position``
    ``-1`` on session rows, ``query_id`` ``-1``, ``query`` null). Other columns:

    * ``episode``: :data:`WARM_START_EPISODE` (``-1``) on every row.
    * ``session_id``: ``first_session_id - u`` for user ``u``: one session per user,
      all negative, so never one of a simulated run's (``>= 0``).
    * ``time_s``: a user's rows are :data:`WARM_START_STEP_S` seconds apart and the last
      (``session_end``) is at ``end_s - WARM_START_STEP_S``: strictly increasing within
      a user, every row strictly before ``end_s``. Times are not the real timestamps,
      and users' sessions overlap; only each user's order is meaningful.
    * ``dwell_s``: NaN on clicks too (the real log has no dwell). Policies that count
      long-dwell clicks (OneFeed's behaviour sequences, the word-group content
      profiles) read them as plain clicks; a constant dwell would have made every
      warm-start click long (at or above the 60 s threshold) or none, for no reason
      in the data.
    * ``origin``: ``unknown`` (``Provenance.UNKNOWN``): no policy served these items.

    The real log has no impressions of unconsumed items: each impression here stands for
    a consumption, and every one is clicked. The frame is meant for ``Policy.update``,
    not for the run's metrics.

    Args:
        histories: One array per simulated user (user id = list index): their training
            item ids, shape ``(n_u,)`` non-negative ints, chronological. The caller maps
            real users and items to the simulated world's ids.
        first_session_id: Session id of user 0; user ``u``'s is ``first_session_id - u``.
            Must be negative.
        end_s: Time before which every event lies (the run's start, 0) (s).

    Returns:
        The log slice: the columns of ``sim.events.EVENT_SCHEMA`` with the dtypes of
        :func:`sim.log.episode_frame` (categorical ``event`` and ``origin`` with every
        event and provenance name as categories), ``sum_u (2 n_u + 2)`` rows over the
        users with ``n_u > 0``, index ``0 .. rows - 1``.

    Raises:
        ValueError: If ``first_session_id`` is not negative, or an item id is negative
            or beyond int32.
    """
    if first_session_id >= 0:
        raise ValueError(f"first_session_id must be negative, got {first_session_id}")
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    parts = [np.asarray(h).ravel() for h in histories if len(h)]  # an empty one may be float
    items = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if items.size and not np.issubdtype(items.dtype, np.integer):
        raise ValueError(f"item ids must be integers, got dtype {items.dtype}")
    items = items.astype(np.int64, copy=False)
    if items.size and (items.min() < 0 or items.max() > np.iinfo(np.int32).max):
        raise ValueError("item ids must be in 0 .. 2**31 - 1")
    users = np.flatnonzero(lengths)
    per_user = 2 * lengths[users] + 2  # rows of each user with a history
    n_rows = int(per_user.sum())
    row_user = np.repeat(users, per_user)
    start = np.repeat(np.cumsum(per_user) - per_user, per_user)
    rank = np.arange(n_rows, dtype=np.int64) - start  # 0 .. 2n + 1 within the user
    last = np.repeat(per_user - 1, per_user)
    inner = (rank > 0) & (rank < last)

    event = np.where(rank % 2 == 1, EventType.IMPRESSION, EventType.CLICK).astype(np.int8)
    event[rank == 0] = EventType.SESSION_START
    event[rank == last] = EventType.SESSION_END
    item_id = np.full(n_rows, -1, dtype=np.int32)
    item_id[inner] = np.repeat(items, 2)
    position = np.where(inner, 0, -1).astype(np.int16)
    time_s = end_s - (last + 1 - rank).astype(np.float64) * WARM_START_STEP_S

    events = pa.array(event_names(), type=pa.string())
    origins = pa.array(origin_names(), type=pa.string())
    columns = [
        pa.array(np.full(n_rows, WARM_START_EPISODE, dtype=np.int32)),
        pa.array(time_s),
        pa.array(row_user.astype(np.int32)),
        pa.array(first_session_id - row_user),
        pa.DictionaryArray.from_arrays(pa.array(event), events),
        pa.array(item_id),
        pa.array(position),
        pa.array(np.full(n_rows, np.nan, dtype=np.float32), from_pandas=False),
        pa.array(np.full(n_rows, -1, dtype=np.int64)),
        pa.nulls(n_rows, type=pa.string()),
        pa.DictionaryArray.from_arrays(
            pa.array(np.full(n_rows, int(Provenance.UNKNOWN), dtype=np.int8)), origins
        ),
    ]
    return episode_frame(pa.Table.from_arrays(columns, schema=EVENT_SCHEMA))
