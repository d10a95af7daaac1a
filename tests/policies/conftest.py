"""Tiny hand-made contexts for policy unit tests (no world needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policies.base import PolicyContext
from sim.types import CatalogView, FeedBatch


class NoSearch:
    """A search index that finds nothing."""

    def search(self, queries, k):
        n = len(queries)
        return np.full((n, k), -1, np.int32), np.full((n, k), -np.inf, np.float32)


def make_context(n_items: int = 6, n_users: int = 3, seed: int = 0, slate_size: int = 2):
    catalog = CatalogView(
        titles=tuple(f"item {i}" for i in range(n_items)),
        created_s=np.zeros(n_items),
        available=np.ones(n_items, dtype=bool),
    )
    return PolicyContext(
        catalog=catalog,
        search=NoSearch(),
        n_users=n_users,
        slate_size=slate_size,
        n_suggestions=2,
        rng=np.random.default_rng(seed),
    )


def feed_batch(user_ids, page=None, slate_size: int = 2) -> FeedBatch:
    user_ids = np.asarray(user_ids, dtype=np.int32)
    n = user_ids.shape[0]
    return FeedBatch(
        user_ids=user_ids,
        session_ids=np.arange(n, dtype=np.int64),
        page=np.zeros(n, np.int16) if page is None else np.asarray(page, np.int16),
        time_s=0.0,
        episode=0,
        slate_size=slate_size,
    )


def click_log(rows: list[tuple[int, int]], event: str = "click") -> pd.DataFrame:
    """A log slice of clicks ``(user_id, item_id)`` in the given order."""
    n = len(rows)
    return pd.DataFrame(
        {
            "episode": np.zeros(n, np.int32),
            "time_s": np.arange(n, dtype=float),
            "user_id": np.array([r[0] for r in rows], np.int32),
            "session_id": np.zeros(n, np.int64),
            "event": pd.Categorical([event] * n),
            "item_id": np.array([r[1] for r in rows], np.int32),
            "position": np.zeros(n, np.int16),
            "dwell_s": np.full(n, 10.0, np.float32),
            "query_id": np.full(n, -1, np.int64),
            "query": [None] * n,
            "origin": pd.Categorical(["retrieval"] * n),
        }
    )


@pytest.fixture
def context():
    return make_context()
