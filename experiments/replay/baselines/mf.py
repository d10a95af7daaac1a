"""Implicit-feedback matrix factorisation (ALS), the offline twin of the simulator's ``mf``.

The fit is the simulator's own core, :func:`policies.collaborative.implicit_als` (Hu, Koren
& Volinsky 2008): on the binary users × items matrix ``X`` of the training prefixes it
minimises ``Σ_ui c_ui (p_ui − x_u·y_i)² + reg (‖X‖² + ‖Y‖²)`` with preference
``p_ui = 1[r_ui > 0]`` and confidence ``c_ui = 1 + alpha · r_ui``, by ``n_iters``
alternating exact solves from factors drawn with the fit seed. The only difference from
the policy is the input: the policy fits a per-episode decayed click matrix, the bench a
binary one (sequences have no episodes).

Scoring folds every history in with the fitted item factors ``Y``: the user factor is the
exact ALS user step for that history,

    x_h = (YᵀY + reg I + alpha Y_hᵀ Y_h)⁻¹ (1 + alpha) Y_hᵀ 1,

so test-stage histories (which end with the validation item) are handled the same way as
training users, and the score is ``x_h · y_i`` plus a ``1e-6`` popularity tie-breaker (the
only signal for an empty history, as the policy falls back to popularity).
"""

from __future__ import annotations

import numpy as np

from experiments.replay.baselines.common import (
    history_matrix,
    interaction_matrix,
    popularity_prior,
)
from experiments.replay.protocol import TrainData
from policies.collaborative import implicit_als

__all__ = ["ImplicitMF", "fold_in"]

POP_EPS = 1e-6


def fold_in(histories: list[np.ndarray], items: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """User factors of histories given fixed item factors (one exact ALS user step each).

    Args:
        histories: ``b`` item-id arrays (repeats count once: binary preferences).
        items: Shape ``(n_items, d)`` item factors ``Y``.
        alpha: Confidence slope (``c = 1 + alpha`` on history items, 1 elsewhere).
        reg: L2 regularisation.

    Returns:
        Shape ``(b, d)`` user factors; zero for an empty history.
    """
    n_items, d = items.shape
    H = history_matrix(histories, n_items)  # binary CSR, duplicates merged
    gram = items.T @ items + reg * np.eye(d)
    a = np.broadcast_to(gram, (len(histories), d, d)).copy()
    for u in range(len(histories)):
        y = items[H.indices[H.indptr[u] : H.indptr[u + 1]]]
        a[u] += alpha * (y.T @ y)
    rhs = (1.0 + alpha) * np.asarray(H @ items)
    return np.linalg.solve(a, rhs[:, :, None])[:, :, 0]


class ImplicitMF:
    """Implicit ALS matrix factorisation with history fold-in.

    Args:
        n_factors: Latent dimension ``d`` (>= 1).
        alpha: Confidence slope (>= 0).
        reg: L2 regularisation (> 0).
        n_iters: ALS sweeps (>= 1).
    """

    deterministic = False
    name = "mf"

    def __init__(
        self, n_factors: int = 32, alpha: float = 10.0, reg: float = 0.1, n_iters: int = 8
    ) -> None:
        if n_factors < 1 or n_iters < 1 or alpha < 0 or reg <= 0:
            raise ValueError("mf needs n_factors >= 1, n_iters >= 1, alpha >= 0 and reg > 0")
        self.n_factors, self.n_iters = int(n_factors), int(n_iters)
        self.alpha, self.reg = float(alpha), float(reg)
        self._items: np.ndarray | None = None
        self._pop: np.ndarray | None = None

    @staticmethod
    def param_grid() -> list[dict]:
        """Fit settings tried on validation (9).

        The first is the simulator policy's default (``alpha`` 10, ``reg`` 0.1, 8 sweeps);
        the others cross two latent sizes, two lower confidence slopes and two stronger
        regularisers at 15 sweeps (validation-stage probes on ML-100K and Beauty favoured both).
        """
        default = {"n_factors": 32, "alpha": 10.0, "reg": 0.1, "n_iters": 8}
        return [default] + [
            {"n_factors": d, "alpha": a, "reg": r, "n_iters": 15}
            for d in (32, 64)
            for a in (1.0, 5.0)
            for r in (1.0, 10.0)
        ]

    def fit(self, data: TrainData, seed: int) -> None:
        """ALS on the binary training matrix, initial factors drawn from ``seed``."""
        n = data.dataset.n_items
        X = interaction_matrix(data.sequences, n)
        rng = np.random.default_rng(seed)
        _, self._items = implicit_als(X, self.n_factors, self.alpha, self.reg, self.n_iters, rng)
        self._pop = popularity_prior(data.sequences, n)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 fold-in scores ``x_h · Y``."""
        if self._items is None or self._pop is None:
            raise RuntimeError("fit() first")
        users = fold_in(histories, self._items, self.alpha, self.reg)
        scores = users @ self._items.T + POP_EPS * self._pop[None, :]
        return scores.astype(np.float32)
