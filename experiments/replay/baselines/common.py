"""Sparse helpers shared by the classical baselines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

__all__ = [
    "history_matrix",
    "interaction_matrix",
    "item_counts",
    "popularity_prior",
    "row_normalise",
    "spd_inverse",
]


def item_counts(sequences: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """Interaction count per item.

    Args:
        sequences: Item-id arrays.
        n_items: Number of items.

    Returns:
        Shape ``(n_items,)`` float64 counts.
    """
    if not sequences:
        return np.zeros(n_items)
    flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
    return np.bincount(flat, minlength=n_items).astype(np.float64)


def popularity_prior(sequences: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """Popularity scaled into ``[0, 1]`` (count / max count), the common tie-breaking backoff.

    Returns:
        Shape ``(n_items,)`` float64.
    """
    counts = item_counts(sequences, n_items)
    return counts / max(counts.max(), 1.0)


def history_matrix(
    histories: Sequence[np.ndarray], n_items: int, decay: float | None = None
) -> sp.csr_matrix:
    """Users × items matrix of the histories, optionally recency-weighted.

    Args:
        histories: ``b`` item-id arrays (chronological).
        n_items: Number of items.
        decay: ``None`` for binary entries; else the item at age ``a`` (0 = last item)
            gets weight ``decay ** a`` (repeated items add up).

    Returns:
        Shape ``(b, n_items)`` float64 CSR.
    """
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    rows = np.repeat(np.arange(len(histories)), lengths)
    cols = (
        np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
        if lengths.sum()
        else np.zeros(0, dtype=np.int64)
    )
    if decay is None:
        vals = np.ones(len(cols))
    else:
        ends = np.repeat(np.cumsum(lengths), lengths)
        age = ends - 1 - np.arange(len(cols))
        vals = np.power(float(decay), age.astype(np.float64))
    mat = sp.csr_matrix((vals, (rows, cols)), shape=(len(histories), n_items))
    mat.sum_duplicates()
    if decay is None:
        mat.data[:] = 1.0
    return mat


def interaction_matrix(sequences: Sequence[np.ndarray], n_items: int) -> sp.csr_matrix:
    """Binary users × items matrix of the training sequences.

    Returns:
        Shape ``(n_users, n_items)`` float64 CSR with entries 1.
    """
    return history_matrix(sequences, n_items, decay=None)


def row_normalise(mat: sp.spmatrix) -> sp.csr_matrix:
    """Rows scaled to sum 1 (all-zero rows stay zero).

    Returns:
        CSR matrix of the same shape, float64.
    """
    mat = sp.csr_matrix(mat, dtype=np.float64)
    rowsum = np.asarray(mat.sum(axis=1)).ravel()
    inv = np.divide(1.0, rowsum, out=np.zeros_like(rowsum), where=rowsum > 0)
    return (sp.diags(inv) @ mat).tocsr()


def spd_inverse(mat: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix by Cholesky (LAPACK potrf + potri).

    Args:
        mat: Shape ``(n, n)`` float32/float64, Fortran order; overwritten (scratch space).

    Returns:
        The full symmetric inverse (dtype of ``mat``; may share its memory).

    Raises:
        numpy.linalg.LinAlgError: If ``mat`` is not positive definite.
    """
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (mat,))
    chol, info = potrf(mat, lower=0, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky failed (info={info}); increase the regulariser")
    inv, info = potri(chol, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (info={info})")
    _mirror_upper(inv)
    return inv


def _mirror_upper(mat: np.ndarray, block: int = 1024) -> None:
    """Copy the upper triangle of a square matrix into its lower triangle, in place."""
    n = mat.shape[0]
    for i0 in range(0, n, block):
        i1 = min(i0 + block, n)
        mat[i0:i1, :i0] = mat[:i0, i0:i1].T
        diag = mat[i0:i1, i0:i1]
        mat[i0:i1, i0:i1] = np.triu(diag) + np.triu(diag, 1).T
