"""SLIST: session-aware linear item similarity/transition model (Choi et al., WWW 2021).

Closed form of the paper's unified objective, with each user's training prefix as one
session (the S3-Rec files carry no timestamps, so there is no session-recency weight):

* **SLIS** rows: one per user, input ``x_u`` = the user's distinct items (binary, rows
  L2-normalised), target = the same items unnormalised;
* **SLIT** rows: one per position ``t < L - 1`` of a user's sequence ``s``, input = the
  items ``s[:t+1]`` weighted ``exp(-(t - i) / train_weight)`` (rows L2-normalised), target
  = the items ``s[t+1:]`` weighted ``exp(-(i - t - 1) / train_weight)``.

With inputs ``A = [sqrt(alpha) X; sqrt(1 - alpha) S]`` and targets
``Y = [sqrt(alpha) X0; sqrt(1 - alpha) T]``::

    B = argmin ||Y - A B||^2 + reg ||B||^2 = (A^T A + reg I)^-1 A^T Y

The score of item ``j`` for a history ``h`` of length ``L`` is
``sum_i exp(-(L - 1 - i) / predict_weight) * B[h_i, j]`` (plus a ``1e-6`` popularity
tie-breaker). ``alpha``, ``reg`` and ``train_weight`` are fit settings; ``predict_weight``
is a score-time setting. The inverse is a float32 Cholesky inverse and ``B = P (A^T Y)``
overwrites it block by block, so a fit holds one ``n_items^2`` float32 matrix (Beauty:
0.59 GB) besides the sparse inputs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from experiments.replay.baselines.common import popularity_prior, spd_inverse
from experiments.replay.protocol import TrainData

__all__ = ["SLIST", "slist_matrices"]

POP_EPS = 1e-6


def _l2_rows(mat: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (sp.diags(inv) @ mat).tocsr()


def slist_matrices(
    sequences: list[np.ndarray], n_items: int, train_weight: float
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """The SLIS and SLIT input/target matrices (inputs L2-normalised by row).

    Args:
        sequences: Training prefixes.
        n_items: Number of items.
        train_weight: Position-decay scale of the SLIT rows.

    Returns:
        ``(X, X0, S, T)``: SLIS inputs and targets (shape ``(n_users, n_items)``), SLIT
        inputs and targets (shape ``(n_positions, n_items)``), float64 CSR.
    """
    seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
    lens = np.array([len(s) for s in seqs], dtype=np.int64)
    users = np.repeat(np.arange(len(seqs)), lens)
    flat = np.concatenate(seqs) if len(seqs) and lens.sum() else np.zeros(0, dtype=np.int64)
    x0 = sp.csr_matrix((np.ones(len(flat)), (users, flat)), shape=(len(seqs), n_items))
    x0.sum_duplicates()
    x0.data[:] = 1.0
    s_rows, s_cols, s_vals, t_rows, t_cols, t_vals = [], [], [], [], [], []
    row = 0
    for s in seqs:
        n = len(s)
        if n < 2:
            continue
        t = np.arange(n - 1)
        # input of row t: items i <= t, weight exp(-(t - i) / w)
        ti, ii = np.nonzero(np.arange(n)[None, :] <= t[:, None])
        s_rows.append(row + ti)
        s_cols.append(s[ii])
        s_vals.append(np.exp(-(ti - ii) / train_weight))
        # target of row t: items i > t, weight exp(-(i - t - 1) / w)
        ti, ii = np.nonzero(np.arange(n)[None, :] > t[:, None])
        t_rows.append(row + ti)
        t_cols.append(s[ii])
        t_vals.append(np.exp(-(ii - ti - 1) / train_weight))
        row += n - 1

    def build(r: list, c: list, v: list) -> sp.csr_matrix:
        if not r:
            return sp.csr_matrix((0, n_items))
        m = sp.csr_matrix(
            (np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(row, n_items)
        )
        m.sum_duplicates()
        return m

    return _l2_rows(x0), x0, _l2_rows(build(s_rows, s_cols, s_vals)), build(t_rows, t_cols, t_vals)


def _times_sparse_in_place(P: np.ndarray, R: sp.csr_matrix, block: int = 512) -> np.ndarray:
    """``P @ R`` for a symmetric dense ``P`` and a sparse ``R``, overwriting ``P``.

    Row block ``i`` of ``P R`` needs only row block ``i`` of ``P``, so each block is
    replaced by its product: one ``n x n`` matrix in memory instead of two.

    Args:
        P: Shape ``(n, n)`` C-contiguous float32 (overwritten).
        R: Shape ``(n, n)`` sparse.
        block: Rows replaced at once.

    Returns:
        ``P`` itself, now holding ``P @ R``.
    """
    Rt = R.T.tocsr().astype(P.dtype)
    for i0 in range(0, P.shape[0], block):
        rows = P[i0 : i0 + block]
        rows[:] = (Rt @ rows.T).T
    return P


class SLIST:
    """SLIST recommender (closed form).

    Args:
        alpha: Weight of the SLIS (similarity) term; ``1 - alpha`` weights SLIT.
        reg: L2 regularisation ``λ``.
        train_weight: Position-decay scale of the SLIT rows.
        predict_weight: Position-decay scale of the history at scoring.
    """

    deterministic = True
    name = "slist"

    def __init__(
        self,
        alpha: float = 0.5,
        reg: float = 10.0,
        train_weight: float = 1.0,
        predict_weight: float = 1.0,
    ) -> None:
        if not 0 <= alpha < 1:
            raise ValueError("alpha must be in [0, 1) (alpha = 1 is EASE-like SLIS alone)")
        self.alpha = float(alpha)
        self.reg = float(reg)
        self.train_weight = float(train_weight)
        self.set_score_params(predict_weight=predict_weight)
        self._B: np.ndarray | None = None
        self._pop: np.ndarray | None = None

    @staticmethod
    def param_grid() -> list[dict]:
        """Fit settings tried on validation (8: alpha x reg x train_weight)."""
        return [
            {"alpha": a, "reg": r, "train_weight": w}
            for a in (0.5, 0.8)
            for r in (50.0, 100.0)
            for w in (0.5, 1.0)
        ]

    def score_grid(self) -> list[dict]:
        """Score-time settings tried on each fit (4 history decay scales)."""
        return [{"predict_weight": w} for w in (0.5, 1.0, 2.0, 4.0)]

    def set_score_params(self, predict_weight: float) -> None:
        """Switch the score-time setting."""
        self.predict_weight = float(predict_weight)

    def fit(self, data: TrainData, seed: int) -> None:
        """Closed-form fit (``seed`` unused: deterministic)."""
        n = data.dataset.n_items
        X, X0, S, T = slist_matrices(list(data.sequences), n, self.train_weight)
        a, b = np.sqrt(self.alpha), np.sqrt(1.0 - self.alpha)
        A = sp.vstack([a * X, b * S]).tocsr().astype(np.float32)
        Y = sp.vstack([a * X0, b * T]).tocsr().astype(np.float32)
        gram = (A.T @ A).toarray(order="F")
        gram[np.diag_indices(n)] += np.float32(self.reg)
        P = spd_inverse(gram).T  # symmetric float32; .T is its C-ordered view
        del gram
        self._B = _times_sparse_in_place(P, (A.T @ Y).tocsr())
        self._pop = popularity_prior(data.sequences, n).astype(np.float32)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 SLIST scores."""
        if self._B is None or self._pop is None:
            raise RuntimeError("fit() first")
        lengths = np.array([len(h) for h in histories], dtype=np.int64)
        rows = np.repeat(np.arange(len(histories)), lengths)
        cols = (
            np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
            if lengths.sum()
            else np.zeros(0, dtype=np.int64)
        )
        age = np.repeat(np.cumsum(lengths), lengths) - 1 - np.arange(len(cols))
        w = np.exp(-age / self.predict_weight).astype(np.float32)
        H = sp.csr_matrix((w, (rows, cols)), shape=(len(histories), self._B.shape[0]))
        H.sum_duplicates()
        scores = np.asarray(H @ self._B, dtype=np.float32)
        scores += np.float32(POP_EPS) * self._pop[None, :]
        return scores
