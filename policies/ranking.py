"""Turning score matrices into slates: shared by every score-based policy."""

from __future__ import annotations

import numpy as np

__all__ = ["CHUNK_USERS", "stable_top_k", "standardise_rows", "top_k_slates", "user_chunks"]


#: Users per chunk when a step needs a users × items array (about 8-30 MB per float64
#: array at 1,000-4,000 items).
CHUNK_USERS = 1024


def user_chunks(n_users: int, size: int = CHUNK_USERS) -> list[np.ndarray]:
    """Consecutive user ids in chunks of at most ``size`` users, none of a single user.

    A chunk of one row would reach BLAS's matrix-vector path, whose rounding differs
    from the matrix-matrix path of larger chunks: with at least two rows per chunk, a
    user's scores are bit-identical whatever the chunking (as with the whole population
    at once).

    Args:
        n_users: Number of users.
        size: Largest chunk (at least 2).

    Returns:
        Arrays of int64 user ids covering ``0 .. n_users - 1`` in order.
    """
    if n_users <= 0:
        return []
    size = max(int(size), 2)
    n_chunks = max(1, -(-n_users // size))
    if n_users >= 2:
        n_chunks = min(n_chunks, n_users // 2)
    return np.array_split(np.arange(n_users, dtype=np.int64), n_chunks)


def top_k_slates(scores: np.ndarray, slate_size: int, page: np.ndarray | None = None) -> np.ndarray:
    """Pick each row's best items, skipping the items earlier pages of the session showed.

    Page ``p`` of a session gets ranks ``p*S .. (p+1)*S - 1`` of its row, so a user
    paging through a feed does not see one item twice. Ties break towards the lower id,
    so a row's slate does not depend on the other rows of the batch.

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
    # Each row's exact order by (-score, id): the same ranks whatever the batch's depth
    # (ties at the depth boundary go to the lower ids, never to a partition's whim).
    ranked = stable_top_k(scores, depth)
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


def stable_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(-scores, axis=1, kind="stable")[:, :k]`` without sorting whole rows.

    A partition finds each row's ``k``-th best score; the entries strictly better, and
    the equal ones of lowest index up to ``k``, are the selection, which is then sorted
    (stable, so ties stay in index order): the same indices as the full stable sort.
    Rows with NaN take the full sort.

    Args:
        scores: Shape ``(n, m)`` float.
        k: Entries per row (``k >= m`` returns the full order).

    Returns:
        Shape ``(n, min(k, m))`` int64 column indices, best first.
    """
    n, m = scores.shape
    if k >= m or k <= 0 or n == 0 or np.isnan(scores).any():
        return np.argsort(-scores, axis=1, kind="stable")[:, : max(k, 0)]
    neg = -scores
    kth = np.partition(neg, k - 1, axis=1)[:, k - 1 : k]
    better = neg < kth
    equal = neg == kth
    room = k - better.sum(axis=1)
    chosen = better | (equal & (np.cumsum(equal, axis=1) <= room[:, None]))
    idx = np.nonzero(chosen)[1].reshape(n, k)
    order = np.argsort(np.take_along_axis(neg, idx, axis=1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)
