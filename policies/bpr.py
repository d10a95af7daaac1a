"""``bpr``: matrix factorisation trained with Bayesian Personalised Ranking (Rendle et al. 2009).

The pairwise learner of the popularity-bias literature (Mansoury et al. 2020 study BPR
beside other collaborative filters): user and item factors and an item bias,
``x_ui = U_u · V_i + b_i``, fitted by stochastic gradient ascent on
``Σ ln σ(x_ui − x_uj) − λ (|U_u|² + |V_i|² + |V_j|² + b_i² + b_j²)`` over triples of a user,
an item they clicked and an item sampled uniformly from the catalogue (a sampled
negative that turns out to be a positive of the user is skipped). Training is
vectorised over mini-batches of triples; gradients of a batch are summed per row
(``np.add.at``). After every episode the model is trained further (warm start) on the
whole click history, ``epochs`` passes over its positives.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit

from policies.collaborative import HistoryPolicy
from policies.registry import register_policy
from sim.rowwise import rows_matmul

__all__ = ["BPRPolicy", "bpr_epochs"]


def bpr_epochs(
    positives: tuple[np.ndarray, np.ndarray],
    is_positive: Callable[[np.ndarray, np.ndarray], np.ndarray],
    factors: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_items: int,
    epochs: int,
    lr: float,
    reg: float,
    batch_size: int,
    rng: np.random.Generator,
) -> None:
    """Run ``epochs`` passes of mini-batch BPR updates, in place.

    Args:
        positives: ``(users, items)`` shape ``(m,)`` each, the positive pairs.
        is_positive: ``(users, items) -> bool array``: whether sampled pairs are positives.
        factors: ``(U, V, b)`` of shapes ``(n_users, d)``, ``(n_items, d)``, ``(n_items,)``;
            updated in place.
        n_items: Items negatives are drawn from (``0 .. n_items - 1``).
        epochs: Passes over the positives (each a random permutation of them).
        lr: Learning rate.
        reg: L2 regularisation ``λ``.
        batch_size: Triples per update.
        rng: Random stream (permutations and negatives).
    """
    users, items = positives
    user_f, item_f, bias = factors
    m = users.shape[0]
    if m == 0:
        return
    for _ in range(epochs):
        order = rng.permutation(m)
        for start in range(0, m, batch_size):
            idx = order[start : start + batch_size]
            u, i = users[idx], items[idx]
            j = rng.integers(0, n_items, size=idx.shape[0])
            keep = ~is_positive(u, j)
            u, i, j = u[keep], i[keep], j[keep]
            if u.size == 0:
                continue
            pu, qi, qj = user_f[u], item_f[i], item_f[j]
            x = (pu * (qi - qj)).sum(axis=1) + bias[i] - bias[j]
            g = expit(-x)[:, None]  # d ln σ(x) / dx
            np.add.at(user_f, u, lr * (g * (qi - qj) - reg * pu))
            np.add.at(item_f, i, lr * (g * pu - reg * qi))
            np.add.at(item_f, j, lr * (-g * pu - reg * qj))
            np.add.at(bias, i, lr * (g[:, 0] - reg * bias[i]))
            np.add.at(bias, j, lr * (-g[:, 0] - reg * bias[j]))


@register_policy("bpr")
class BPRPolicy(HistoryPolicy):
    """BPR matrix factorisation, trained further after every episode.

    Args:
        n_factors: Latent dimension (>= 1).
        lr: Learning rate (> 0).
        reg: L2 regularisation (>= 0).
        epochs: Passes over the positives per episode (>= 1).
        batch_size: Triples per update (>= 1).
        decay: Per-episode decay of past clicks, in ``(0, 1]`` (positives are the
            clicked pairs whatever their weight).
        exclude_seen: Do not re-serve items the user already clicked.
        retrain: Train after every episode; false: after the first ``fit_episodes``
            episodes only, then keep the factors frozen.
        fit_episodes: Episodes trained on before freezing when ``retrain`` is false.
    """

    def __init__(
        self,
        n_factors: int = 32,
        lr: float = 0.05,
        reg: float = 0.01,
        epochs: int = 10,
        batch_size: int = 256,
        decay: float = 0.9,
        exclude_seen: bool = True,
        retrain: bool = True,
        fit_episodes: int = 1,
    ) -> None:
        super().__init__(decay, exclude_seen, retrain, fit_episodes)
        if n_factors < 1 or lr <= 0 or reg < 0 or epochs < 1 or batch_size < 1:
            raise ValueError(
                "bpr needs n_factors >= 1, lr > 0, reg >= 0, epochs >= 1 and batch_size >= 1"
            )
        self.n_factors, self.lr, self.reg = int(n_factors), float(lr), float(reg)
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self._factors: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _fit(self) -> None:
        n_users, n_items = self.history.matrix.shape
        rng = self.context.rng
        if self._factors is None:
            self._factors = (
                rng.normal(0.0, 0.1, (n_users, self.n_factors)),
                rng.normal(0.0, 0.1, (n_items, self.n_factors)),
                np.zeros(n_items),
            )
        coo = self.history.matrix.tocoo()
        positive = self.history.matrix.tocsr()

        def is_positive(u: np.ndarray, j: np.ndarray) -> np.ndarray:
            return np.asarray(positive[u, j]).ravel() > 0

        bpr_epochs(
            (coo.row.astype(np.int64), coo.col.astype(np.int64)), is_positive, self._factors,
            n_items, self.epochs, self.lr, self.reg, self.batch_size, rng,
        )  # fmt: skip

    def _resize_model(self, n_items: int) -> None:
        if self._factors is not None and self._factors[1].shape[0] < n_items:
            user_f, item_f, bias = self._factors
            pad = n_items - item_f.shape[0]
            new = self.context.rng.normal(0.0, 0.1, (pad, self.n_factors))
            self._factors = (
                user_f,
                np.vstack([item_f, new]),
                np.concatenate([bias, np.zeros(pad)]),
            )

    def _model_scores(self, user_ids: np.ndarray) -> np.ndarray:
        if self._factors is None:
            return np.zeros((user_ids.shape[0], self.context.catalog.n_items))
        user_f, item_f, bias = self._factors
        return rows_matmul(user_f[user_ids], item_f.T) + bias[None, :]
