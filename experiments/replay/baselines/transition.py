"""Item-transition (Markov) recommender: first order with recency backoff, plus second order.

Fit: ``T1[a, b]`` counts how often item ``b`` directly follows item ``a`` in the training
prefixes; the reverse direction can be added with weight ``symmetric``
(``T1' = T1 + symmetric * T1^T``; Amazon review dates have day granularity, so the order
of same-day items is arbitrary). ``T2[(a, b), c]`` counts how often ``c`` follows the pair
``a, b``. Rows are normalised: ``P1[a] = T1'[a] / sum(T1'[a])``, ``P2[(a, b)]`` likewise.

Score of item ``j`` for a history ``h``::

    score(j) = sum_{k=0}^{window-1} backoff**k * P1[h[-1-k], j]
               + order2 * P2[(h[-2], h[-1]), j] + 1e-6 * pop(j) / max(pop)

``backoff = 0, order2 = 0`` is the pure first-order model; a pair never seen in training
adds nothing (the first-order part backs it off), and popularity only breaks ties.
``symmetric`` is a fit setting; ``backoff``, ``window`` and ``order2`` are score-time
settings, tuned on the same fit.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from experiments.replay.baselines.common import history_matrix, popularity_prior, row_normalise
from experiments.replay.protocol import TrainData

__all__ = ["Transition"]

POP_EPS = 1e-6


def _pair_keys(first: np.ndarray, second: np.ndarray, n_items: int) -> np.ndarray:
    return first.astype(np.int64) * n_items + second.astype(np.int64)


class Transition:
    """Item-to-item transition recommender (first and second order).

    Args:
        backoff: Weight decay per step back in the history (``0``: last item only).
        symmetric: Weight of reverse first-order transitions (``0``: forward only).
        window: Number of most recent items of the first-order part.
        order2: Weight of the second-order (last two items) part.
    """

    deterministic = True
    name = "transition"

    def __init__(
        self, backoff: float = 0.0, symmetric: float = 0.0, window: int = 5, order2: float = 0.0
    ) -> None:
        self.symmetric = float(symmetric)
        self.set_score_params(backoff=backoff, window=window, order2=order2)
        self._P: sp.csr_matrix | None = None
        self._P2: sp.csr_matrix | None = None
        self._pair_keys: np.ndarray | None = None
        self._pop: np.ndarray | None = None

    @staticmethod
    def param_grid() -> list[dict]:
        """Fit settings tried on validation (3 reverse-transition weights)."""
        return [{"symmetric": s} for s in (0.0, 0.5, 1.0)]

    def score_grid(self) -> list[dict]:
        """Score-time settings tried on each fit (3 backoffs x 4 second-order weights)."""
        return [
            {"backoff": b, "window": 5, "order2": o}
            for b in (0.0, 0.3, 0.6)
            for o in (0.0, 0.5, 1.0, 2.0)
        ]

    def set_score_params(self, backoff: float, window: int, order2: float) -> None:
        """Switch the score-time setting."""
        self.backoff = float(backoff)
        self.window = int(window)
        self.order2 = float(order2)

    def fit(self, data: TrainData, seed: int) -> None:
        """Count and normalise transitions (``seed`` unused: deterministic)."""
        n = data.dataset.n_items
        seqs = [np.asarray(s, dtype=np.int64) for s in data.sequences]
        src = [s[:-1] for s in seqs if len(s) > 1]
        dst = [s[1:] for s in seqs if len(s) > 1]
        a = np.concatenate(src) if src else np.zeros(0, dtype=np.int64)
        b = np.concatenate(dst) if dst else np.zeros(0, dtype=np.int64)
        counts = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        counts.sum_duplicates()
        if self.symmetric:
            counts = (counts + self.symmetric * counts.T).tocsr()
        self._P = row_normalise(counts)
        firsts = [s[:-2] for s in seqs if len(s) > 2]
        seconds = [s[1:-1] for s in seqs if len(s) > 2]
        nexts = [s[2:] for s in seqs if len(s) > 2]
        if firsts:
            keys = _pair_keys(np.concatenate(firsts), np.concatenate(seconds), n)
            uniq, row = np.unique(keys, return_inverse=True)
            c = np.concatenate(nexts)
            t2 = sp.csr_matrix((np.ones(len(c)), (row.ravel(), c)), shape=(len(uniq), n))
            t2.sum_duplicates()
            self._P2, self._pair_keys = row_normalise(t2), uniq
        else:
            self._P2, self._pair_keys = sp.csr_matrix((0, n)), np.zeros(0, dtype=np.int64)
        self._pop = popularity_prior(data.sequences, n)

    def _second_order(self, histories: list[np.ndarray]) -> sp.csr_matrix:
        """Rows of ``P2`` for every history's last pair (empty rows when unseen)."""
        assert self._P2 is not None and self._pair_keys is not None and self._P is not None
        n, b = self._P.shape[0], len(histories)
        has = np.array([len(h) > 1 for h in histories], dtype=bool)
        rows = np.nonzero(has)[0]
        firsts = np.array([histories[r][-2] for r in rows], dtype=np.int64)
        seconds = np.array([histories[r][-1] for r in rows], dtype=np.int64)
        keys = _pair_keys(firsts, seconds, n)
        pos = np.searchsorted(self._pair_keys, keys)
        ok = pos < len(self._pair_keys)
        ok[ok] = self._pair_keys[pos[ok]] == keys[ok]
        sel = sp.csr_matrix(
            (np.ones(int(ok.sum())), (rows[ok], pos[ok])), shape=(b, self._P2.shape[0])
        )
        return (sel @ self._P2).tocsr()

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 transition scores (no ``-inf``: popularity backoff)."""
        if self._P is None or self._pop is None:
            raise RuntimeError("fit() first")
        recent = [np.asarray(h, dtype=np.int64)[-self.window :] for h in histories]
        H = history_matrix(recent, self._P.shape[0], decay=self.backoff)
        scores = np.asarray((H @ self._P).toarray(), dtype=np.float64)
        if self.order2:
            scores += self.order2 * self._second_order(histories).toarray()
        scores += POP_EPS * self._pop[None, :]
        return scores.astype(np.float32)
