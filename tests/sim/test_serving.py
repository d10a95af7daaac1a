"""The batcher's wake-up queue reproduces a simpy process per user, event for event.

``ProcessBatcher`` below is the straightforward reference: one simpy process per user
yields one simpy event per request; a request arriving at ``a`` is served at the end of
its window on the fixed grid, ``(floor(a / w) + 1) w`` (with ``w = 0``: at ``a``, after
every request already due then), kind by kind, sorted by user, in calls of at most
``max_batch_size``. The world's :class:`sim.serving.Batcher` must produce exactly the
same log.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import simpy
from simpy.events import NORMAL

from sim.emitter import END
from sim.serving import OPEN

from .helpers import make_world, small_config


class ProcessBatcher:
    """Reference batcher: per-user simpy processes, one event per request."""

    def __init__(self, env, responder, window_s, max_batch_size):
        self.env, self.window_s, self.cap = env, window_s, max_batch_size
        self.handlers = {OPEN: responder.open, 0: responder.feed, 1: responder.search}
        self.pending = {}  # serve time -> [(user, kind, request time, event)]
        self.clock = responder.pop.clock_s

    def serve_time(self, arrival_s):
        if self.window_s <= 0:
            return arrival_s
        return (math.floor(arrival_s / self.window_s) + 1) * self.window_s

    def request(self, kind, user):
        event = simpy.Event(self.env)
        at = self.serve_time(self.env.now)
        if at not in self.pending:  # the first request of a window sets its timer
            self.pending[at] = []
            self.env.timeout(at - self.env.now).callbacks.append(lambda _e: self.flush(at))
        self.pending[at].append((user, kind, self.clock[user], event))
        return event

    def flush(self, at):
        rows = self.pending.pop(at)
        for kind in (OPEN, 0, 1):
            mine = sorted((r for r in rows if r[1] == kind), key=lambda r: r[0])
            for start in range(0, len(mine), self.cap):
                self.serve(kind, mine[start : start + self.cap])

    def serve(self, kind, rows):
        users = np.array([r[0] for r in rows])
        now = self.env.now
        action, resume = self.handlers[kind](users, np.array([r[2] for r in rows]), now)
        self.clock[users] = resume
        for (_, _, _, event), value, r in zip(rows, action.tolist(), resume.tolist(), strict=True):
            event._ok, event._value = True, value
            self.env.schedule(event, NORMAL, max(r - now, 0.0))


def _reference_episode(world, cfg, episode):
    """``World.run_episode`` with a process per user (no drops, no drift)."""
    start_s, end_s = world.episode_bounds(episode)
    env, pop = simpy.Environment(initial_time=start_s), world.population
    ref = ProcessBatcher(
        env, world.responder, cfg.serving.batch_window_s, cfg.serving.max_batch_size
    )
    world.responder.episode = episode

    def user(u, t):
        while True:
            if t > env.now:
                yield env.timeout(t - env.now)
            pop.clock_s[u] = t
            action = yield ref.request(OPEN, u)
            while action != END:
                action = yield ref.request(action, u)
            t = float(pop.next_start_s[u])
            if t >= end_s:
                return

    starting = np.flatnonzero(pop.next_start_s < end_s)
    starting = starting[np.argsort(pop.next_start_s[starting], kind="stable")]
    for u in starting.tolist():
        env.process(user(u, float(pop.next_start_s[u])))
    env.run()
    world._next_episode = episode + 1
    return world.responder.log.take_table(episode)


@pytest.mark.parametrize(
    "serving",
    [
        {},
        {"batch_window_s": 0.0},
        {"max_batch_size": 5, "batch_window_s": 120.0},
        {"max_batch_size": 1},
    ],
)
def test_wakeup_queue_matches_a_process_per_user(serving):
    cfg = small_config(120, serving=serving, drift={"exogenous_sd_per_day": 0.0})
    world = make_world(cfg, seed=4)
    got = [world.run_episode(e).events.to_pandas() for e in range(2)]
    ref_world = make_world(cfg, seed=4)
    want = [_reference_episode(ref_world, cfg, e).to_pandas() for e in range(2)]
    for g, w in zip(got, want, strict=True):
        assert len(g) > 100
        pd.testing.assert_frame_equal(g, w)
