"""The serving batcher: gathers users' requests, one policy call per batch.

Users are not one simpy process each. A user between two requests is just a row in
the batcher's *wake-up queue*: ``(serve time, user, kind, request time)``. One simpy
process, :meth:`Batcher._step`, drives all of them.

Batch windows lie on a fixed grid of ``batch_window_s``: window ``k`` covers arrivals in
``[k w, (k + 1) w)`` and is served at its end, ``(k + 1) w`` — kind by kind (session
opens, then feed pages, then searches), each kind's requests sorted by user and served
in calls of at most ``max_batch_size`` requests. With ``batch_window_s = 0`` every
distinct arrival time is served at once, in rounds: a user whose next request arrives at
that same instant is served in the next round. Each answer puts the user back in the
queue: another feed page or search at the time they finish reacting (at the earliest,
the time the answer was served), or, after a session end, the next session's opening
(if it starts before the episode ends).

So when a request is served depends on its own arrival time only, never on the other
requests; together with per-user random numbers (:class:`sim.crn.UserDraws`) and
batch-independent policies, a user's events do not depend on who shares their batches
— a run can be split by users across processes and give the same log
(:mod:`sim.shards`). Within one serving instant the log holds each batch's events in
the order (round, kind, user): the *segment* key the log records per batch
(:meth:`sim.log.EventLog.take`).

Timed actions (:meth:`Batcher.at`, e.g. new items arriving) run before any serving at
the same instant, in the order of their times (ties: the order they were registered).

Serving takes no time in the users' clocks: every user keeps a clock
(``Population.clock_s``); a request is stamped with it, the user's events are stamped
from it, and it advances by the user's reaction time. So the logged times do not
depend on the window; the window only decides which requests share one policy call (and
the catalogue state they see).
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
_KINDS = (OPEN, FEED, SEARCH)  # serving order within one serving instant
# The wake-up queue is stored as float64 rows (all values are exact in float64):
_AT, _USER, _KIND, _T0 = range(4)
_BUCKET_WINDOWS = 32  # width of a queue bucket, in batch windows


class Batcher:
    """Queues user requests, serves them per window and resumes users with answers.

    Args:
        env: The simpy environment.
        responder: Computes responses for a batch.
        window_s: Batch window in simulated seconds (0: serve every arrival at once).
        max_batch_size: Most requests in one policy call (a window's requests of one
            kind are served in several calls when there are more).
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
        self._actions: list[tuple[float, int, Callable[[], None]]] = []
        self._n_actions = 0
        self._round_at = -math.inf  # the instant of the last serving round
        self._round = 0
        self._idle = True
        self.n_batches = 0
        #: Session openings are re-queued only if they start before this time.
        self.episode_end_s = math.inf
        #: Shape ``(n_users,)``: each user's own clock, the time they ask at.
        self.clock_s = responder.pop.clock_s

    def __getstate__(self) -> dict:
        """Pickle support (the owning world re-attaches a simpy environment)."""
        if self._actions:
            raise RuntimeError("a batcher with pending timed actions cannot be saved")
        state = self.__dict__.copy()
        state["env"] = None
        return state

    def reset(self, env: simpy.Environment) -> None:
        """Drive a new simpy environment (a new episode's clock); the queue must be empty."""
        if self._buckets:
            raise RuntimeError("the wake-up queue is not empty")
        self.env = env
        self._buckets, self._bucket_heap = {}, []
        self._round_at, self._round = -math.inf, 0
        self._idle = True

    # ------------------------------------------------------------ timed actions
    def at(self, time_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` at simulated time ``time_s``, before any serving at that instant."""
        heapq.heappush(self._actions, (float(time_s), self._n_actions, action))
        self._n_actions += 1
        delay = max(float(time_s) - self.env.now, 0.0)
        self.env.timeout(delay).callbacks.append(lambda _event: self._run_actions())

    def _run_actions(self) -> None:
        """Run every timed action due by now, in time order."""
        now, actions = self.env.now, self._actions
        while actions and actions[0][0] <= now:
            heapq.heappop(actions)[2]()

    # ------------------------------------------------------------ the queue
    def serve_time(self, wake_s: np.ndarray) -> np.ndarray:
        """When requests arriving at ``wake_s`` are served: their window's end.

        Always later than the arrival (for a window > 0), so a request queued while a
        window is served falls in a later window.
        """
        wake = np.asarray(wake_s, dtype=np.float64)
        if self.window_s <= 0:
            return wake
        w = self.window_s
        at = (np.floor(wake / w) + 1.0) * w
        return np.where(at > wake, at, at + w)

    def start_sessions(self, users: np.ndarray, start_s: np.ndarray) -> None:
        """Queue session openings: ``users[i]`` opens a session at ``start_s[i]``.

        Args:
            users: Shape ``(n,)`` distinct user ids.
            start_s: Shape ``(n,)`` session start times, at or after the current time.
        """
        users = np.asarray(users, dtype=np.int64)
        start = np.asarray(start_s, dtype=np.float64)
        if users.size == 0:
            return
        self.clock_s[users] = start
        self._push(users, np.full(users.size, OPEN, dtype=np.int64), start, start)
        self._kick()

    def _push(self, users: np.ndarray, kind: np.ndarray, t0: np.ndarray, wake: np.ndarray) -> None:
        """Queue requests arriving at ``wake`` (asked at the users' clocks ``t0``)."""
        n = users.size
        if n == 0:
            return
        rows = np.empty((n, 4))
        rows[:, _AT] = self.serve_time(wake)
        rows[:, _USER] = users
        rows[:, _KIND] = kind
        rows[:, _T0] = t0
        bucket = np.floor(rows[:, _AT] / self._bucket_s).astype(np.int64)
        if (bucket == bucket[0]).all():
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

    def _earliest(self) -> float | None:
        """The earliest serve time in the queue (``None``: empty)."""
        heap = self._bucket_heap
        while heap and heap[0] not in self._buckets:
            heapq.heappop(heap)
        if not heap:
            return None
        return float(self._bucket(heap[0])[:, _AT].min())

    def _take_due(self, now: float) -> np.ndarray:
        """Remove and return the requests served at ``now`` (shape ``(m, 4)``)."""
        b = math.floor(now / self._bucket_s)
        chunk = self._bucket(b)
        due = chunk[:, _AT] <= now
        if due.all():
            del self._buckets[b]
            return chunk
        self._buckets[b] = [chunk[~due]]
        return chunk[due]

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
        """Advance the batcher: serve every instant whose requests are due.

        Runs as a simpy callback (like a process, but an exception raised by a policy
        propagates out of ``env.run`` unchanged) until it must wait for a later time,
        where it schedules its own wake-up; with nothing queued it goes idle.
        """
        env = self.env
        while True:
            first = self._earliest()
            if first is None:
                self._idle = True
                return
            if first > env.now:
                return self._sleep(first)
            if first < env.now:
                raise RuntimeError(f"a request due at {first} s is still queued at {env.now} s")
            self._run_actions()
            now = env.now
            if now != self._round_at:
                self._round_at, self._round = now, 0
            pool = self._take_due(now)
            for k in _KINDS:
                rows = pool[pool[:, _KIND] == k]
                if rows.size == 0:
                    continue
                rows = rows[np.argsort(rows[:, _USER], kind="stable")]
                for start in range(0, rows.shape[0], self.max_batch_size):
                    part = rows[start : start + self.max_batch_size]
                    self._serve(k, part[:, _USER].astype(np.int64), part[:, _T0].copy())
            self._round += 1

    def _serve(self, kind: int, users: np.ndarray, times: np.ndarray) -> None:
        now = self.env.now
        log = self.responder.log
        log.segment_key = (now, self._round, _KINDS.index(kind))  # serving order of kinds
        try:
            action, resume = self._handlers[kind](users, times, now)
        finally:
            log.segment_key = None
        self.n_batches += 1
        action = np.asarray(action, dtype=np.int64)
        resume = np.asarray(resume, dtype=np.float64)
        ended = action == END
        t0 = resume.copy()
        keep = np.ones(users.shape[0], dtype=bool)
        if ended.any():
            # A session end queues the next session's opening if it is in this episode.
            nxt = self.responder.pop.next_start_s[users[ended]]
            t0[ended] = nxt
            keep[ended] = nxt < self.episode_end_s
        self.clock_s[users] = t0
        kinds = np.where(ended, OPEN, action)
        self._push(users[keep], kinds[keep], t0[keep], np.maximum(t0[keep], now))
