"""The serving batcher: user processes yield requests, one policy call per batch.

A user process calls :meth:`Batcher.request` and yields the returned simpy event.
Requests of one kind (session open, feed page, search) gathered within
``batch_window_s`` (or until ``max_batch_size``) are answered together by the
:class:`sim.responder.Responder`; each user's event is then scheduled to fire at the
time the user finishes reacting, carrying the next action code.

Serving takes no time in the users' clocks: every user keeps a clock
(``Population.clock_s``); a request is stamped with it, the user's events are stamped
from it, and it advances by the user's reaction time. The simpy process resumes at
``max(now, clock)``. So the logged times do not depend on the window; the window only
decides which requests share one policy call (and the catalogue state they see).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy
from simpy.events import NORMAL

from sim.responder import Responder

__all__ = ["OPEN", "Batcher"]

OPEN = 3  # request kind for a session opening (feed and search use FEED/SEARCH codes)


class Batcher:
    """Groups user requests into batches and resumes users with their next action.

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
        self.window_s = window_s
        self.max_batch_size = max_batch_size
        self._handlers: dict[int, Callable] = {
            OPEN: responder.open,
            0: responder.feed,
            1: responder.search,
        }
        self._queues: dict[int, tuple[list[int], list[float], list[simpy.Event]]] = {
            kind: ([], [], []) for kind in (OPEN, 0, 1)
        }
        self._flush_scheduled = False
        self.n_batches = 0
        #: Shape ``(n_users,)``: each user's own clock, the time they ask at.
        self.clock_s = responder.pop.clock_s

    def request(self, kind: int, user: int) -> simpy.Event:
        """Queue a request of ``kind`` for ``user``; yield the returned event for the answer."""
        event = simpy.Event(self.env)
        users, times, events = self._queues[kind]
        users.append(user)
        times.append(self.clock_s[user])
        events.append(event)
        if len(users) >= self.max_batch_size:
            self._serve(kind)
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.env.timeout(self.window_s).callbacks.append(self._flush)
        return event

    def _flush(self, _event: simpy.Event) -> None:
        self._flush_scheduled = False
        for kind in (OPEN, 0, 1):
            if self._queues[kind][0]:
                self._serve(kind)

    def _serve(self, kind: int) -> None:
        users, times, events = self._queues[kind]
        self._queues[kind] = ([], [], [])
        now = self.env.now
        action, resume = self._handlers[kind](
            np.array(users, dtype=np.int64), np.array(times, dtype=np.float64), now
        )
        self.n_batches += 1
        user_ids = np.asarray(users, dtype=np.int64)
        self.clock_s[user_ids] = resume
        delays = np.maximum(resume - now, 0.0).tolist()
        schedule = self.env.schedule
        for event, value, delay in zip(events, action.tolist(), delays, strict=True):
            event._ok = True
            event._value = value
            schedule(event, NORMAL, delay)
