"""First-order item-transition model with recency backoff and a popularity backoff.

Fit: ``T[a, b]`` counts how often item ``b`` directly follows item ``a`` in the training
prefixes; optionally the reverse direction is added with weight ``symmetric``
(``T' = T + symmetric * T^T``; Amazon review dates have day granularity, so the order
of same-day items is arbitrary). Rows are normalised: ``P[a] = T'[a] / sum(T'[a])``.

Score of item ``j`` for a history ``h``::

    score(j) = sum_{k=0}^{window-1} backoff**k * P[h[-1-k], j] + 1e-6 * pop(j) / max(pop)

``backoff = 0`` is the pure first-order model from the last item; earlier items back it
off, and popularity only breaks ties (users whose last items have no transitions).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from experiments.replay.baselines.common import history_matrix, popularity_prior
from experiments.replay.protocol import TrainData

__all__ = ["Transition"]

POP_EPS = 1e-6


class Transition:
    """Item-to-item transition recommender.

    Args:
        backoff: Weight decay per step back in the history (``0``: last item only).
        symmetric: Weight of reverse transitions (``0``: forward only).
        window: Number of most recent items used.
    """

    deterministic = True
    name = "transition"

    def __init__(self, backoff: float = 0.0, symmetric: float = 0.0, window: int = 5) -> None:
        self.backoff = float(backoff)
        self.symmetric = float(symmetric)
        self.window = int(window)
        self._P: sp.csr_matrix | None = None
        self._pop: np.ndarray | None = None

    @staticmethod
    def param_grid() -> list[dict]:
        """The validation grid (9 settings)."""
        return [{"backoff": b, "symmetric": s} for b in (0.0, 0.3, 0.6) for s in (0.0, 0.5, 1.0)]

    def fit(self, data: TrainData, seed: int) -> None:
        """Count and normalise transitions (``seed`` unused: deterministic)."""
        n = data.dataset.n_items
        src = [s[:-1] for s in data.sequences if len(s) > 1]
        dst = [s[1:] for s in data.sequences if len(s) > 1]
        a = np.concatenate(src) if src else np.zeros(0, dtype=np.int64)
        b = np.concatenate(dst) if dst else np.zeros(0, dtype=np.int64)
        counts = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        counts.sum_duplicates()
        if self.symmetric:
            counts = (counts + self.symmetric * counts.T).tocsr()
        rowsum = np.asarray(counts.sum(axis=1)).ravel()
        inv = np.divide(1.0, rowsum, out=np.zeros_like(rowsum), where=rowsum > 0)
        self._P = sp.diags(inv) @ counts
        self._pop = popularity_prior(data.sequences, n)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 transition scores (no ``-inf``: popularity backoff)."""
        if self._P is None or self._pop is None:
            raise RuntimeError("fit() first")
        recent = [np.asarray(h)[-self.window :] for h in histories]
        H = history_matrix(recent, self._P.shape[0], decay=self.backoff)
        scores = np.asarray((H @ self._P).toarray(), dtype=np.float64)
        scores += POP_EPS * self._pop[None, :]
        return scores.astype(np.float32)
