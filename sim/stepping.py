"""Driving chosen users' sessions step by step, outside the serving batcher.

The episode loop (:meth:`sim.world.World.run_episode`) lets the batcher decide who is
served when. An environment (``experiments/envs``) instead picks the users and serves
them one page at a time; :class:`SessionStepper` is the public way to do that on a
world: open sessions, serve a feed page (and run the searches it leads to), end
sessions early, read users' clocks and take the logged events. It uses the same
responder as the episode loop, so every reaction follows the same model.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sim.crn import UserDraws, counter_uniform, stream_key
from sim.emitter import SEARCH
from sim.population import SECONDS_PER_DAY
from sim.responder import Streams

__all__ = ["SessionStepper"]

_MAX_SEARCH_ROUNDS = 1000


class SessionStepper:
    """Step chosen users of a world through their sessions.

    Args:
        world: A world built by :func:`sim.world.build_world` (``sim.world.World``).
    """

    def __init__(self, world) -> None:
        self.world = world
        self._resp = world.responder
        self._pop = world.population

    def reseed_behaviour(self, seed: int, prefix: str = "env/") -> None:
        """Redraw every behaviour draw and the users' first arrivals from ``seed``.

        The counter streams are named ``prefix + name`` (so they differ from the episode
        loop's), and each user's next session start is its first arrival under the new
        seed.

        Args:
            seed: Non-negative root seed.
            prefix: Prefix of the stream names.
        """
        key = stream_key(seed, f"{prefix}arrivals")
        self._resp.rng = Streams(draws=UserDraws(seed, prefix), arrivals_key=key)
        pop = self._pop
        users = np.arange(pop.n_users)
        first_u = counter_uniform(key, users, np.zeros_like(users))
        pop.next_start_s = -np.log(first_u) / pop.rate_per_day * SECONDS_PER_DAY

    # ------------------------------------------------------------------ views
    def clock(self, users: np.ndarray) -> np.ndarray:
        """Shape ``(n,)`` float64 each user's own clock (seconds since the run started)."""
        return self._pop.clock_s[users].copy()

    def next_start(self, users: np.ndarray) -> np.ndarray:
        """Shape ``(n,)`` float64 start time of each user's next session."""
        return self._pop.next_start_s[users].copy()

    def session_ids(self, users: np.ndarray) -> np.ndarray:
        """Shape ``(n,)`` int64 current session id of each user (-1 when none)."""
        return self._pop.session_id[users].copy()

    def pages(self, users: np.ndarray) -> np.ndarray:
        """Shape ``(n,)`` int64 feed pages served in each user's current session."""
        return self._pop.feed_pages[users].astype(np.int64)

    # ------------------------------------------------------------------ steps
    def open(self, users: np.ndarray) -> np.ndarray:
        """Open a session for each user at their next start; run any searches it leads to.

        Args:
            users: Shape ``(n,)`` distinct users not in a session.

        Returns:
            Shape ``(n,)`` next action, ``FEED`` or ``END`` (a session can end before its
            first feed page, after a suggested query's results).
        """
        t0 = self._pop.next_start_s[users].astype(np.float64)
        action, resume = self._resp.open(users, t0, float(t0.max()))
        return self._settle(users, action, resume)

    def feed(self, users: np.ndarray) -> np.ndarray:
        """Serve one feed page to each user (the world's policy answers) and react.

        Args:
            users: Shape ``(n,)`` distinct users in a session, waiting for a page.

        Returns:
            Shape ``(n,)`` next action of each user, ``FEED`` or ``END``.
        """
        if users.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        t0 = self._pop.clock_s[users].copy()
        action, resume = self._resp.feed(users, t0, float(t0.max()))
        return self._settle(users, action, resume)

    def close(self, users: np.ndarray) -> None:
        """End the sessions of ``users`` now, as if they had left.

        Logs SESSION_END at each user's clock and draws their next start with the
        responder's retention rule (:meth:`sim.responder.Responder.end_sessions`).
        """
        if users.shape[0] == 0:
            return
        self._resp.end_sessions(users, self._pop.clock_s[users].copy())

    def take_events(self, episode: int = 0) -> pa.Table:
        """Every event logged since the last call (schema ``sim.events.EVENT_SCHEMA``)."""
        return self._resp.log.take_table(episode)

    def _settle(self, users: np.ndarray, action: np.ndarray, resume: np.ndarray) -> np.ndarray:
        """Advance clocks and run pending searches until every user is at FEED or END."""
        pop, resp = self._pop, self._resp
        action = np.asarray(action, dtype=np.int64).copy()
        pop.clock_s[users] = resume
        for _ in range(_MAX_SEARCH_ROUNDS):
            rows = np.flatnonzero(action == SEARCH)
            if rows.size == 0:
                return action
            us = users[rows]
            t0 = pop.clock_s[us].copy()
            a, r = resp.search(us, t0, float(t0.max()))
            action[rows] = a
            pop.clock_s[us] = r
        raise RuntimeError("search loop did not settle")  # pragma: no cover
