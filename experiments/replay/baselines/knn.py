"""Item co-occurrence kNN over nearby positions, with gap decay and a backward weight.

Fit: for every training prefix ``s`` and every pair of positions ``p < q`` with
``q - p <= window`` (``window = 0``: any distance), the later item gains
``gap_decay ** (q - p - 1)`` as a follower of the earlier one and the earlier item gains
``backward * gap_decay ** (q - p - 1)`` as a predecessor::

    C[s_p, s_q] += gap_decay ** (q - p - 1)
    C[s_q, s_p] += backward * gap_decay ** (q - p - 1)

(the diagonal is dropped). With ``n_i`` the number of occurrences of item ``i``, the
score of item ``j`` for a history ``h`` is::

    score(j) = n_j ** -beta * sum_a history_decay ** a * n_{h[-1-a]} ** -0.5 * C[h[-1-a], j]
               + 1e-6 * pop(j) / max(pop)

over the whole history (``a`` = age, 0 for the last item); ``beta = 0.5`` is the cosine
normalisation. ``window``, ``gap_decay`` and ``backward`` are fit settings;
``history_decay`` and ``beta`` are score-time settings, tuned on the same fit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from experiments.replay.baselines.common import history_matrix, item_counts, popularity_prior
from experiments.replay.protocol import TrainData

__all__ = ["CoocKNN", "cooccurrence"]

POP_EPS = 1e-6


def cooccurrence(
    sequences: Sequence[np.ndarray],
    n_items: int,
    window: int,
    gap_decay: float,
    backward: float,
) -> sp.csr_matrix:
    """The position-weighted co-occurrence matrix ``C`` described in the module docstring.

    Args:
        sequences: Chronological item arrays.
        n_items: Number of items.
        window: Largest position gap counted (``0``: any gap).
        gap_decay: Weight factor per extra position of gap.
        backward: Weight of the reverse direction.

    Returns:
        Shape ``(n_items, n_items)`` float64 CSR with zero diagonal.
    """
    seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
    max_len = max((len(s) for s in seqs), default=0)
    last_gap = max_len - 1 if window <= 0 else min(window, max_len - 1)
    rows, cols, vals = [], [], []
    for gap in range(1, last_gap + 1):
        long = [s for s in seqs if len(s) > gap]
        if not long:
            break
        a = np.concatenate([s[:-gap] for s in long])
        b = np.concatenate([s[gap:] for s in long])
        w = gap_decay ** (gap - 1)
        rows += [a, b]
        cols += [b, a]
        vals += [np.full(len(a), w), np.full(len(a), backward * w)]
    if not rows:
        return sp.csr_matrix((n_items, n_items))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    keep = (r != c) & (v > 0)
    mat = sp.csr_matrix((v[keep], (r[keep], c[keep])), shape=(n_items, n_items))
    mat.sum_duplicates()
    return mat


class CoocKNN:
    """Position-aware co-occurrence item-kNN recommender.

    Args:
        window: Largest position gap counted (``0``: any).
        gap_decay: Weight factor per extra position of gap.
        backward: Weight of predecessor (reverse) co-occurrences.
        history_decay: Recency weight per step back in the user's history.
        beta: Exponent of the candidate's occurrence count in the normalisation.
    """

    deterministic = True
    name = "cooc-knn"

    def __init__(
        self,
        window: int = 3,
        gap_decay: float = 0.5,
        backward: float = 0.5,
        history_decay: float = 0.6,
        beta: float = 0.5,
    ) -> None:
        self.window = int(window)
        self.gap_decay = float(gap_decay)
        self.backward = float(backward)
        self.set_score_params(history_decay=history_decay, beta=beta)
        self._C: sp.csr_matrix | None = None
        self._inv_sqrt: np.ndarray | None = None
        self._counts: np.ndarray | None = None
        self._pop: np.ndarray | None = None

    @staticmethod
    def param_grid() -> list[dict]:
        """Fit settings tried on validation (12: window x gap decay x backward weight)."""
        return [
            {"window": w, "gap_decay": g, "backward": b}
            for w in (3, 0)
            for g in (0.6, 0.8)
            for b in (0.1, 0.25, 0.5)
        ]

    def score_grid(self) -> list[dict]:
        """Score-time settings tried on each fit (3 history decays x 4 exponents)."""
        return [
            {"history_decay": d, "beta": b} for d in (0.4, 0.6, 0.8) for b in (0.1, 0.2, 0.3, 0.45)
        ]

    def set_score_params(self, history_decay: float, beta: float) -> None:
        """Switch the score-time setting."""
        self.history_decay = float(history_decay)
        self.beta = float(beta)

    def fit(self, data: TrainData, seed: int) -> None:
        """Count position-weighted co-occurrences (``seed`` unused: deterministic)."""
        n = data.dataset.n_items
        self._C = cooccurrence(data.sequences, n, self.window, self.gap_decay, self.backward)
        counts = item_counts(data.sequences, n)
        self._counts = counts
        self._inv_sqrt = np.divide(1.0, np.sqrt(counts), out=np.zeros(n), where=counts > 0)
        self._pop = popularity_prior(data.sequences, n)

    def _raw(self, histories: list[np.ndarray], decay: float) -> np.ndarray:
        assert self._C is not None and self._inv_sqrt is not None
        H = history_matrix(histories, self._C.shape[0], decay=decay)
        H = H @ sp.diags(self._inv_sqrt)
        return np.asarray((H @ self._C).toarray(), dtype=np.float64)

    def _finish(self, raw: np.ndarray, beta: float) -> np.ndarray:
        assert self._counts is not None and self._pop is not None
        col = np.divide(
            1.0, self._counts**beta, out=np.zeros_like(self._counts), where=self._counts > 0
        )
        return (raw * col[None, :] + POP_EPS * self._pop[None, :]).astype(np.float32)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 kNN scores (no ``-inf``: popularity backoff)."""
        if self._C is None:
            raise RuntimeError("fit() first")
        return self._finish(self._raw(histories, self.history_decay), self.beta)

    def score_settings(
        self, histories: list[np.ndarray], settings: Sequence[dict]
    ) -> Iterator[np.ndarray]:
        """Scores under every setting; one sparse product per distinct history decay."""
        if self._C is None:
            raise RuntimeError("fit() first")
        cache: dict[float, np.ndarray] = {}
        for s in settings:
            d = float(s.get("history_decay", self.history_decay))
            if d not in cache:
                cache = {d: self._raw(histories, d)}  # settings are grouped by decay
            yield self._finish(cache[d], float(s.get("beta", self.beta)))
