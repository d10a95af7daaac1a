"""The batcher's wake-up queue reproduces a simpy process per user, event for event.

``ProcessBatcher`` below is the straightforward reference: one simpy process per user
yields one simpy event per request, and a flush timer serves the queues. The world's
:class:`sim.serving.Batcher` must produce exactly the same log.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import simpy
from simpy.events import NORMAL

from sim.emitter import END
from sim.population import SECONDS_PER_DAY
from sim.serving import OPEN

from .helpers import make_world, small_config


class ProcessBatcher:
    """Reference batcher: per-user simpy processes, one event per request."""

    def __init__(self, env, responder, window_s, max_batch_size):
        self.env, self.window_s, self.cap = env, window_s, max_batch_size
        self.handlers = {OPEN: responder.open, 0: responder.feed, 1: responder.search}
        self.queues = {k: ([], [], []) for k in (OPEN, 0, 1)}
        self.flush_scheduled = False
        self.clock = responder.pop.clock_s

    def request(self, kind, user):
        event = simpy.Event(self.env)
        users, times, events = self.queues[kind]
        users.append(user)
        times.append(self.clock[user])
        events.append(event)
        if len(users) >= self.cap:
            self.serve(kind)
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.env.timeout(self.window_s).callbacks.append(self.flush)
        return event

    def flush(self, _event):
        self.flush_scheduled = False
        for kind in (OPEN, 0, 1):
            if self.queues[kind][0]:
                self.serve(kind)

    def serve(self, kind):
        users, times, events = self.queues[kind]
        self.queues[kind] = ([], [], [])
        now = self.env.now
        action, resume = self.handlers[kind](np.array(users), np.array(times), now)
        self.clock[np.array(users)] = resume
        for event, value, r in zip(events, action.tolist(), resume.tolist(), strict=True):
            event._ok, event._value = True, value
            self.env.schedule(event, NORMAL, max(r - now, 0.0))


def _reference_episode(world, ref, episode):
    """``World.run_episode`` with a process per user (no drops, no drift)."""
    env, pop = world.env, world.population
    length_s = world.config.episode_length_days * SECONDS_PER_DAY
    end_s = (episode + 1) * length_s
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
    ref = ProcessBatcher(
        ref_world.env, ref_world.responder, cfg.serving.batch_window_s, cfg.serving.max_batch_size
    )
    want = [_reference_episode(ref_world, ref, e).to_pandas() for e in range(2)]
    for g, w in zip(got, want, strict=True):
        assert len(g) > 100
        pd.testing.assert_frame_equal(g, w)
