"""The serving batcher: gathers users' requests, one policy call per batch.

Users are not one simpy process each. A user between two requests is just a row in
the batcher's *wake-up queue*: ``(wake time, serial, user, kind, request time)``. One
simpy process, :meth:`Batcher._step`, drives all of them: it sleeps (simpy timeouts)
until the first queued request arrives, which opens a batch window; at the window's
end (``batch_window_s`` later) it serves every request that arrived in the window,
kind by kind (session opens, then feed pages, then searches), with one call of the
:class:`sim.responder.Responder` per kind. A kind whose queue reaches
``max_batch_size`` inside a window is served at the arrival of its
``max_batch_size``-th request. Each answer puts the user back in the wake-up queue:
another feed page or search at the time they finish reacting, or, after a session
end, the next session's opening (if it starts before the episode ends).

This is exactly the schedule a process per user would produce (request events
ordered by time, ties by the order they were scheduled: the ``serial``), without a
simpy event per request; the wake-up queue is bucketed by time so a window only
touches the requests due in it. Other simpy processes (new-item drops) interleave
with the batcher in simulated time as usual.

Serving takes no time in the users' clocks: every user keeps a clock
(``Population.clock_s``); a request is stamped with it, the user's events are stamped
from it, and it advances by the user's reaction time. The user's next request
arrives at ``max(now, clock)``. So the logged times do not depend on the window; the
window only decides which requests share one policy call (and the catalogue state they
see).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np
import simpy

from sim.responder import END, FEED, SEARCH, Responder

__all__ = ["OPEN", "Batcher"]

OPEN = 3  # request kind for a session opening (feed and search use FEED/SEARCH codes)
_KINDS = (OPEN, FEED, SEARCH)  # serving order within one window
# The wake-up queue is stored as float64 rows (all values are exact in float64):
_WAKE, _SERIAL, _USER, _KIND, _T0 = range(5)
_BUCKET_WINDOWS = 32  # width of a queue bucket, in batch windows


class Batcher:
    """Queues user requests, batches them per window and resumes users with answers.

    Args:
        env: The simpy environment.
        responder: Computes responses for a batch.
        window_s: Batch window in simulated seconds.
        max_batch_size: A queue is served as soon as it holds this many requests.
    """

    def __init__(
        self, env: simpy.Environment, responder: Responder, window_s: float, max_batch_size: int
    ) -> None:
        self.env = env
        self.responder = responder
        self.window_s = float(window_s)
        self.max_batch_size = int(max_batch_size)
        self._handlers: dict[int, Callable] = {
            OPEN: responder.open,
            FEED: responder.feed,
            SEARCH: responder.search,
        }
        self._bucket_s = _BUCKET_WINDOWS * (self.window_s if self.window_s > 0 else 60.0)
        self._buckets: dict[int, list[np.ndarray]] = {}
        self._bucket_heap: list[int] = []
        self._serial = 0
        self._pool = np.zeros((0, 5))  # requests arrived in the open window
        self._flush_at: float | None = None  # end of the open window
        self._flush_serial = 0
        self._idle = True
        self.n_batches = 0
        #: Session openings are re-queued only if they start before this time.
        self.episode_end_s = math.inf
        #: Shape ``(n_users,)``: each user's own clock, the time they ask at.
        self.clock_s = responder.pop.clock_s

    def __getstate__(self) -> dict:
        """Pickle support (the owning world re-attaches a simpy environment)."""
        state = self.__dict__.copy()
        state["env"] = None
        return state

    # ------------------------------------------------------------ the queue
    def start_sessions(self, users: np.ndarray, start_s: np.ndarray) -> None:
        """Queue session openings: ``users[i]`` opens a session at ``start_s[i]``.

        Args:
            users: Shape ``(n,)`` distinct user ids, in the order to break time ties.
            start_s: Shape ``(n,)`` session start times (requests arrive at
                ``max(now, start)``).
        """
        users = np.asarray(users, dtype=np.int64)
        start = np.asarray(start_s, dtype=np.float64)
        if users.size == 0:
            return
        self.clock_s[users] = start
        self._push(users, np.full(users.size, OPEN, dtype=np.int64), start)
        self._kick()

    def _push(
        self, users: np.ndarray, kind: np.ndarray, t0: np.ndarray, keep: np.ndarray | None = None
    ) -> None:
        """Queue requests; they arrive at ``max(now, t0)``.

        Serials follow the rows; rows not in ``keep`` are dropped but use up their
        serial (as a process per user would have scheduled them).
        """
        n = users.size
        serial = np.arange(self._serial, self._serial + n, dtype=np.int64)
        self._serial += n
        if keep is not None:
            users, kind, t0, serial = users[keep], kind[keep], t0[keep], serial[keep]
            n = users.size
            if n == 0:
                return
        rows = np.empty((n, 5))
        rows[:, _WAKE] = np.maximum(t0, self.env.now)
        rows[:, _SERIAL] = serial
        rows[:, _USER] = users
        rows[:, _KIND] = kind
        rows[:, _T0] = t0
        bucket = np.floor(rows[:, _WAKE] / self._bucket_s).astype(np.int64)
        if bucket[0] == bucket[-1] and (bucket == bucket[0]).all():
            self._add_chunk(int(bucket[0]), rows)
            return
        order = np.argsort(bucket, kind="stable")
        bucket, rows = bucket[order], rows[order]
        cuts = np.flatnonzero(np.diff(bucket)) + 1
        for b, chunk in zip([0, *cuts.tolist()], np.split(rows, cuts), strict=True):
            self._add_chunk(int(bucket[b]), chunk)

    def _add_chunk(self, bucket: int, chunk: np.ndarray) -> None:
        chunks = self._buckets.get(bucket)
        if chunks is None:
            self._buckets[bucket] = [chunk]
            heapq.heappush(self._bucket_heap, bucket)
        else:
            chunks.append(chunk)

    def _bucket(self, bucket: int) -> np.ndarray:
        chunks = self._buckets[bucket]
        if len(chunks) > 1:
            chunks[:] = [np.concatenate(chunks)]
        return chunks[0]

    def _earliest_wake(self) -> float | None:
        heap = self._bucket_heap
        while heap and heap[0] not in self._buckets:
            heapq.heappop(heap)
        if not heap:
            return None
        return float(self._bucket(heap[0])[:, _WAKE].min())

    def _pull(self, until: float, serial_before: int) -> None:
        """Move requests arriving before the window's end into the pool, sorted.

        A request arrives before the end at ``until`` if its wake time is earlier, or
        equal and it was queued before the window opened (``serial < serial_before``).
        """
        heap, taken = self._bucket_heap, []
        last = math.floor(until / self._bucket_s) if math.isfinite(until) else math.inf
        while heap and heap[0] <= last:
            b = heap[0]
            if b not in self._buckets:
                heapq.heappop(heap)
                continue
            chunk = self._bucket(b)
            wake, serial = chunk[:, _WAKE], chunk[:, _SERIAL]
            due = (wake < until) | ((wake == until) & (serial < serial_before))
            if due.all():
                taken.append(chunk)
                del self._buckets[b]
                heapq.heappop(heap)
                continue
            if due.any():
                taken.append(chunk[due])
                self._buckets[b] = [chunk[~due]]
            break  # only the bucket holding ``until`` can be split
        if not taken:
            return
        pool = np.concatenate([self._pool, *taken])
        self._pool = pool[np.lexsort((pool[:, _SERIAL], pool[:, _WAKE]))]

    # ------------------------------------------------------------ the process
    def _sleep(self, t: float) -> None:
        """Call :meth:`_step` again at simulated time ``t`` (a simpy timeout)."""
        self.env.timeout(t - self.env.now).callbacks.append(self._step)

    def _kick(self) -> None:
        """Wake the idle batcher now (new requests were queued from outside)."""
        if self._idle:
            self._idle = False
            event = self.env.event()
            event.callbacks.append(self._step)
            event.succeed()

    def _step(self, _event: simpy.Event | None = None) -> None:
        """Advance the batcher: open windows, serve full queues and due windows.

        Runs as a simpy callback (like a process, but an exception raised by a policy
        propagates out of ``env.run`` unchanged) until it must wait for a later time,
        where it schedules its own wake-up; with nothing queued it goes idle.
        """
        env, cap = self.env, self.max_batch_size
        while True:
            if self._flush_at is None:
                first = self._earliest_wake()
                if first is None:
                    self._idle = True
                    return
                if first > env.now:
                    return self._sleep(first)
                # The first arrival opens a window (with a cap of 1 it is served
                # at once instead, and no window ever opens).
                self._flush_at = env.now + self.window_s if cap > 1 else math.inf
                self._flush_serial = self._serial
                self._serial += 1
            self._pull(self._flush_at, self._flush_serial)
            kind = self._pool[:, _KIND]
            full_at, full_kind = None, -1
            for k in _KINDS:
                idx = np.flatnonzero(kind == k)
                if idx.size >= cap and (full_at is None or idx[cap - 1] < full_at):
                    full_at, full_kind = int(idx[cap - 1]), k
            if full_at is not None:  # a queue fills up inside the window
                t = float(self._pool[full_at, _WAKE])
                if t > env.now:
                    return self._sleep(t)
                rows = np.flatnonzero(kind[: full_at + 1] == full_kind)
                self._serve_rows(full_kind, rows)
                continue
            if not math.isfinite(self._flush_at):
                self._flush_at = None  # cap 1 and nothing due: wait for the next arrival
                continue
            if self._flush_at > env.now:
                return self._sleep(self._flush_at)
            self._flush_at = None
            pool, self._pool = self._pool, self._pool[:0]
            for k in _KINDS:
                rows = pool[pool[:, _KIND] == k]
                if rows.size:
                    self._serve(k, rows[:, _USER].astype(np.int64), rows[:, _T0].copy())

    def _serve_rows(self, kind: int, rows: np.ndarray) -> None:
        pool = self._pool
        keep = np.ones(pool.shape[0], dtype=bool)
        keep[rows] = False
        self._pool = pool[keep]
        self._serve(kind, pool[rows, _USER].astype(np.int64), pool[rows, _T0])

    def _serve(self, kind: int, users: np.ndarray, times: np.ndarray) -> None:
        now = self.env.now
        action, resume = self._handlers[kind](users, times, now)
        self.n_batches += 1
        action = np.asarray(action, dtype=np.int64)
        resume = np.asarray(resume, dtype=np.float64)
        ended = action == END
        if not ended.any():
            self.clock_s[users] = resume
            self._push(users, action, resume)
            return
        # A session end queues the next session's opening if it is in this episode.
        t0 = resume.copy()
        nxt = self.responder.pop.next_start_s[users[ended]]
        t0[ended] = nxt
        keep = ~ended
        keep[ended] = nxt < self.episode_end_s
        self.clock_s[users] = t0
        self._push(users, np.where(ended, OPEN, action), t0, keep)
