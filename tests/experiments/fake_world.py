"""A tiny stand-in for ``sim.world`` with the same API, for fast application tests.

Every user opens one session per episode, sees one slate from the policy, clicks the
first item with a seeded probability, and every third user issues a query. Events
depend on the seed and on the policy's slates, so determinism tests are meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from policies.base import PolicyContext
from sim.events import EVENT_SCHEMA
from sim.rng import RngStreams
from sim.types import CatalogView, FeedBatch


@dataclass(frozen=True)
class FakeTruth:
    episode: int
    interests: np.ndarray
    satiation: np.ndarray
    drift_endogenous: np.ndarray
    drift_exogenous: np.ndarray


@dataclass(frozen=True)
class FakeResult:
    episode: int
    events: pa.Table
    truth: FakeTruth
    n_sessions: int
    n_slates: int
    n_events: int


class NoSearch:
    def search(self, queries, k):
        n = len(queries)
        return np.full((n, k), -1, np.int32), np.full((n, k), -np.inf, np.float32)


def events_table(rows: list[dict]) -> pa.Table:
    """Build an events table with EVENT_SCHEMA from partial row dicts."""
    defaults = {
        "episode": 0,
        "time_s": 0.0,
        "user_id": 0,
        "session_id": 0,
        "event": "impression",
        "item_id": -1,
        "position": -1,
        "dwell_s": float("nan"),
        "query_id": -1,
        "query": None,
        "origin": "unknown",
    }
    full = [{**defaults, **row} for row in rows]
    columns = {name: [r[name] for r in full] for name in EVENT_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)


class FakeWorld:
    def __init__(self, config, seed: int, policy) -> None:
        self.config = config
        self.streams = RngStreams(seed)
        self.rng = self.streams.get("fake/world")
        self.n_users = config.users.n_users
        self.n_items = config.catalog.n_items
        self.n_topics = config.catalog.n_topics
        self.policy = policy
        self.interests = (
            self.streams.get("fake/interests")
            .dirichlet(np.ones(self.n_topics), size=self.n_users)
            .astype(np.float32)
        )
        self._view = CatalogView(
            titles=tuple(f"item {i}" for i in range(self.n_items)),
            created_s=np.zeros(self.n_items),
            available=np.ones(self.n_items, dtype=bool),
        )
        policy.bind(
            PolicyContext(
                catalog=self._view,
                search=NoSearch(),
                n_users=self.n_users,
                slate_size=config.feed.slate_size,
                n_suggestions=2,
                rng=self.streams.get("policy"),
            )
        )
        self._next_session = 0
        self._next_query = 0

    def catalog_view(self) -> CatalogView:
        return self._view

    def truth_snapshot(self, episode: int = -1) -> FakeTruth:
        zeros = np.zeros_like(self.interests)
        return FakeTruth(episode, self.interests.copy(), zeros, zeros, zeros)

    def run_episode(self, episode: int, progress=None) -> FakeResult:
        size = self.config.feed.slate_size
        users = np.arange(self.n_users, dtype=np.int32)
        sessions = np.arange(self._next_session, self._next_session + self.n_users)
        self._next_session += self.n_users
        slates = self.policy.recommend(
            FeedBatch(users, sessions, np.zeros(self.n_users, np.int16), 0.0, episode, size)
        ).slates
        t0 = episode * 86_400.0
        rows: list[dict] = []
        for u in users:
            base = {"episode": episode, "user_id": int(u), "session_id": int(sessions[u])}
            t = t0 + 10.0 * u
            rows.append({**base, "time_s": t, "event": "session_start"})
            for p, item in enumerate(slates[u]):
                rows.append(
                    {
                        **base,
                        "time_s": t + 1,
                        "event": "impression",
                        "item_id": int(item),
                        "position": p,
                        "origin": "retrieval",
                    }
                )
            if self.rng.random() < 0.5:
                rows.append(
                    {
                        **base,
                        "time_s": t + 2,
                        "event": "click",
                        "item_id": int(slates[u][0]),
                        "position": 0,
                        "dwell_s": float(self.rng.uniform(1, 60)),
                        "origin": "retrieval",
                    }
                )
            if u % 3 == 0:
                qid = self._next_query
                self._next_query += 1
                rows.append(
                    {
                        **base,
                        "time_s": t + 3,
                        "event": "query",
                        "query_id": qid,
                        "query": f"word{u % 5}",
                    }
                )
                if self.rng.random() < 0.5:
                    item = int(self.rng.integers(self.n_items))
                    rows.append(
                        {
                            **base,
                            "time_s": t + 4,
                            "event": "search_click",
                            "item_id": item,
                            "position": 0,
                            "query_id": qid,
                            "dwell_s": 5.0,
                            "origin": "search",
                        }
                    )
            rows.append({**base, "time_s": t + 5, "event": "session_end"})
            if progress is not None:
                progress(1)
        drift = self.rng.normal(0, 0.01, self.interests.shape).astype(np.float32)
        self.interests = np.clip(self.interests + drift, 1e-4, None)
        self.interests /= self.interests.sum(axis=1, keepdims=True)
        table = events_table(rows)
        return FakeResult(
            episode, table, self.truth_snapshot(episode), self.n_users, self.n_users, table.num_rows
        )


def build_fake_world(config, seed, policy) -> FakeWorld:
    return FakeWorld(config, seed, policy)
