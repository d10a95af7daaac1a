"""Item topics from a factorisation of the interaction matrix (``topics: factorisation``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["factorise"]


def factorise(
    sequences: list[np.ndarray], n_items: int, n_factors: int, *, seed: int, iterations: int = 150
) -> np.ndarray:
    """Non-negative factorisation ``X ≈ W H`` of the binary item × user matrix.

    Lee and Seung's multiplicative updates for the squared error, from a seeded uniform
    start; an item's topic vector is its row of ``W`` normalised to the simplex (an item
    nobody consumed gets a zero row, filled by the caller).

    Args:
        sequences: One int array of item ids per user.
        n_items: Number of items.
        n_factors: ``K``.
        seed: Seed of the start.
        iterations: Update rounds.

    Returns:
        Shape ``(n_items, K)`` float64, non-negative.
    """
    rows = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
    cols = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
    x = sp.csr_matrix((np.ones(rows.shape[0]), (rows, cols)), shape=(n_items, len(sequences)))
    x.data[:] = 1.0  # repeated pairs count once
    rng = np.random.default_rng(seed)
    scale = np.sqrt(x.sum() / (n_items * len(sequences) * n_factors))
    w = rng.uniform(0.5, 1.5, (n_items, n_factors)) * scale
    h = rng.uniform(0.5, 1.5, (n_factors, len(sequences))) * scale
    eps = 1e-12
    xt = x.T.tocsr()
    for _ in range(iterations):
        w *= (x @ h.T) / (w @ (h @ h.T) + eps)
        h *= (xt @ w).T / ((w.T @ w) @ h + eps)
    return w
