"""Matrix products whose every row is rounded the same whatever the batch.

BLAS computes a one-row product ``a @ b`` on its matrix-vector path, which adds the
terms in another order than the matrix-matrix path used for two rows or more (a
difference in the last bit, enough to swap two nearly tied items). Serving must not
depend on the batch a request arrives in, so scoring code multiplies a batch of rows
with :func:`rows_matmul`, which never hands BLAS a single row: a request's scores are
then the same alone or among thousands (checked on every registered policy by
``policies.conformance.check_policy``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["rows_matmul"]


def rows_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a 2-D batch of rows ``a`` (shape ``(n, k)``), one-row batches padded.

    Args:
        a: Shape ``(n, k)``.
        b: Shape ``(k, m)``.

    Returns:
        Shape ``(n, m)``, each row equal to that row's product in any larger batch.
    """
    a = np.asarray(a)
    if a.ndim == 2 and a.shape[0] == 1:
        return (np.concatenate([a, a]) @ b)[:1]
    return a @ b
