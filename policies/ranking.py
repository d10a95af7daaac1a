"""Turning score matrices into slates: shared by every score-based policy."""

from __future__ import annotations

import numpy as np

__all__ = ["standardise_rows", "top_k_slates"]


def top_k_slates(scores: np.ndarray, slate_size: int, page: np.ndarray | None = None) -> np.ndarray:
    """Pick each row's best items, skipping the items earlier pages of the session showed.

    Page ``p`` of a session gets ranks ``p*S .. (p+1)*S - 1`` of its row, so a user
    paging through a feed does not see one item twice. Among the selected items, ties
    break towards the lower id.

    Args:
        scores: Shape ``(n, n_items)`` float; ``-inf`` marks items that must not be served.
        slate_size: ``S``, items per slate.
        page: Shape ``(n,)`` int, page index per row; ``None`` means page 0 everywhere.

    Returns:
        Shape ``(n, S)`` int64 item ids, best first.

    Raises:
        ValueError: If a row has fewer than ``S`` servable (finite) items.
    """
    n, n_items = scores.shape
    if n == 0:
        return np.zeros((0, slate_size), dtype=np.int64)
    n_finite = np.isfinite(scores).sum(axis=1)
    if (n_finite < slate_size).any():
        row = int(np.flatnonzero(n_finite < slate_size)[0])
        raise ValueError(f"row {row} has {n_finite[row]} servable items, fewer than {slate_size}")
    page = np.zeros(n, dtype=np.int64) if page is None else page.astype(np.int64)
    # Pages wrap around once a row's servable items are exhausted.
    n_pages = np.maximum(n_finite // slate_size, 1)
    page = page % n_pages
    depth = int(min((page.max() + 1) * slate_size, n_items))
    # Stable top-`depth` selection: sort by (-score, id).
    part = np.argpartition(-scores, depth - 1, axis=1)[:, :depth] if depth < n_items else None
    cand = part if part is not None else np.broadcast_to(np.arange(n_items), (n, n_items))
    cand_scores = np.take_along_axis(scores, cand, axis=1)
    order = np.lexsort((cand, -cand_scores), axis=1)
    ranked = np.take_along_axis(cand, order, axis=1)
    offsets = page[:, None] * slate_size + np.arange(slate_size)[None, :]
    return np.take_along_axis(ranked, offsets, axis=1).astype(np.int64)


def standardise_rows(x: np.ndarray) -> np.ndarray:
    """Per-row z-scores over the finite entries (NaN stays NaN; no spread gives 0)."""
    ok = np.isfinite(x)
    count = np.maximum(ok.sum(axis=1, keepdims=True), 1)
    filled = np.where(ok, x, 0.0)
    mean = filled.sum(axis=1, keepdims=True) / count
    var = (np.where(ok, x - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count
    sd = np.sqrt(var)
    return np.where(ok, (filled - mean) / np.where(sd > 0, sd, 1.0), np.nan)
