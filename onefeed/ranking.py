"""Ranking-stage features over generated candidates (item-transition evidence)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def transition_feature(
    trans: sp.csr_matrix, positives: list[np.ndarray], items: np.ndarray, decay: float
) -> np.ndarray:
    """``log(1e-4 + sum_{k<3} decay^k T[h_{-1-k}, i])`` for every candidate ``i``.

    Args:
        trans: Shape ``(n_items, n_items)`` row-normalised transition matrix.
        positives: Per user, the engaged items of the history (chronological).
        items: Shape ``(b, c)`` candidates (``-1`` padding scores like any item 0).
        decay: Weight decay per step back in the history.

    Returns:
        Shape ``(b, c)`` float64.
    """
    ci = np.clip(items, 0, None)
    feat = np.zeros(items.shape)
    for k in range(3):
        last = np.array([p[-1 - k] if len(p) > k else -1 for p in positives], dtype=np.int64)
        has = last >= 0
        if not has.any():
            break
        rows = trans[np.clip(last, 0, None)].toarray()
        feat += (decay**k) * has[:, None] * np.take_along_axis(rows, ci, 1)
    return np.log(1e-4 + feat)


def transition_matrix(clicks: list[np.ndarray], n_items: int) -> sp.csr_matrix:
    """Row-normalised next-item transition counts, shape ``(n_items, n_items)``."""
    rows = [s[:-1] for s in clicks if len(s) > 1]
    cols = [s[1:] for s in clicks if len(s) > 1]
    if not rows:
        return sp.csr_matrix((n_items, n_items))
    r, c = np.concatenate(rows), np.concatenate(cols)
    m = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_items, n_items))
    deg = np.asarray(m.sum(1)).ravel()
    return (sp.diags(1.0 / np.maximum(deg, 1)) @ m).tocsr()
