"""Item co-occurrence kNN with recency weighting over the user's history.

Fit: ``C = X^T X`` with ``X`` the binary users × items matrix of the training prefixes
(two items co-occur when one user has both), diagonal removed. Similarity is the cosine
``S[i, j] = C[i, j] / sqrt(n_i * n_j)`` (``n_i`` = users with item ``i``); each row keeps
its ``k`` largest entries (the item's neighbours).

Score of item ``j``::

    score(j) = sum_a decay**a * S[h[-1-a], j] + 1e-6 * pop(j) / max(pop)

over the whole history (``a`` = age, 0 for the last item).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from experiments.replay.baselines.common import (
    history_matrix,
    interaction_matrix,
    item_counts,
    popularity_prior,
)
from experiments.replay.protocol import TrainData

__all__ = ["CoocKNN", "top_k_per_row"]

POP_EPS = 1e-6


def top_k_per_row(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every row (ties: lower column first).

    Args:
        mat: Shape ``(n, m)`` CSR.
        k: Entries kept per row.

    Returns:
        Shape ``(n, m)`` CSR with at most ``k`` entries per row.
    """
    mat = mat.tocsr()
    mat.sort_indices()
    keep = np.zeros(mat.nnz, dtype=bool)
    for r in range(mat.shape[0]):
        lo, hi = mat.indptr[r], mat.indptr[r + 1]
        if hi - lo <= k:
            keep[lo:hi] = True
        else:
            order = np.argsort(-mat.data[lo:hi], kind="stable")[:k]
            keep[lo + order] = True
    out = mat.copy()
    out.data = np.where(keep, out.data, 0.0)
    out.eliminate_zeros()
    return out


class CoocKNN:
    """Co-occurrence item-kNN recommender.

    Args:
        k: Neighbours kept per item.
        decay: Recency weight per step back in the history (1: all items equal).
    """

    deterministic = True
    name = "cooc-knn"

    def __init__(self, k: int = 100, decay: float = 0.6) -> None:
        self.k = int(k)
        self.decay = float(decay)
        self._S: sp.csr_matrix | None = None
        self._pop: np.ndarray | None = None

    @staticmethod
    def param_grid() -> list[dict]:
        """The validation grid (9 settings)."""
        return [{"k": k, "decay": d} for k in (100, 500, 2000) for d in (0.3, 0.6, 0.9)]

    def fit(self, data: TrainData, seed: int) -> None:
        """Build the pruned cosine similarity (``seed`` unused: deterministic)."""
        n = data.dataset.n_items
        X = interaction_matrix(data.sequences, n)
        C = (X.T @ X).tocsr()
        C.setdiag(0.0)
        C.eliminate_zeros()
        counts = item_counts([np.unique(s) for s in data.sequences], n)
        norm = np.divide(1.0, np.sqrt(counts), out=np.zeros(n), where=counts > 0)
        S = (sp.diags(norm) @ C @ sp.diags(norm)).tocsr()
        self._S = top_k_per_row(S, self.k)
        self._pop = popularity_prior(data.sequences, n)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 kNN scores (no ``-inf``: popularity backoff)."""
        if self._S is None or self._pop is None:
            raise RuntimeError("fit() first")
        H = history_matrix(histories, self._S.shape[0], decay=self.decay)
        scores = np.asarray((H @ self._S).toarray(), dtype=np.float64)
        scores += POP_EPS * self._pop[None, :]
        return scores.astype(np.float32)
