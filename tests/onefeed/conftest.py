"""Tiny synthetic fixtures for the OneFeed model tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _single_blas_thread() -> Iterator[None]:
    """Tiny matrices: BLAS threading only adds overhead (badly so on a loaded machine)."""
    with threadpool_limits(1):
        yield


TOPICS = [
    ["red", "rose", "lipstick", "matte", "gloss"],
    ["blue", "ocean", "shampoo", "curl", "volume"],
    ["green", "tea", "cream", "night", "serum"],
    ["gold", "musk", "perfume", "spray", "amber"],
]


def make_catalogue(n_items: int = 40, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Items with topic words; returns (texts, topic of each item)."""
    rng = np.random.default_rng(seed)
    topic = np.arange(n_items) % len(TOPICS)
    texts = []
    for i, t in enumerate(topic):
        words = rng.choice(TOPICS[t], size=3, replace=False).tolist()
        texts.append(" ".join([*words, f"brand{i % 7}", f"item{i}"]))
    return texts, topic


def make_sequences(n_users: int, n_items: int, seed: int = 1, length: int = 8) -> list[np.ndarray]:
    """Deterministic-cycle sequences: the next item is (item + 4) mod n, mostly."""
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n_users):
        start = int(rng.integers(n_items))
        s = [start]
        for _ in range(length - 1):
            nxt = (s[-1] + 4) % n_items if rng.random() < 0.9 else int(rng.integers(n_items))
            s.append(nxt)
        seqs.append(np.array(s, dtype=np.int64))
    return seqs


@pytest.fixture
def catalogue() -> tuple[list[str], np.ndarray]:
    return make_catalogue()


@pytest.fixture
def sequences() -> list[np.ndarray]:
    return make_sequences(60, 40)


def tiny_config(**overrides):
    """A OneFeed config small enough for unit tests (override any field)."""
    from onefeed import OneFeedConfig

    base = dict(
        levels=2, codebook_size=6, kmeans_iters=5, text_dim=8, collab_dim=4, dim=16,
        hidden=16, max_len=6, batch_size=64, lr=1e-2, align_batch=16,
    )  # fmt: skip
    return OneFeedConfig(**{**base, **overrides})
