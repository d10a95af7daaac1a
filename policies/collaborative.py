"""Collaborative-filtering baselines learned from logged clicks: ``itemknn`` and ``mf``.

Both keep an :class:`~policies.history.InteractionHistory`, retrain after every
episode, serve the best-scoring available items the user has not clicked yet, and
fall back to recent popularity for users without history. With ``retrain=False`` the
model is fitted only after the first ``fit_episodes`` episodes and then frozen ("trained
once", the contrast of Chaney et al. 2018); the click history used to exclude seen
items and the popularity prior keep updating.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from policies.base import Policy, PolicyContext
from policies.history import InteractionHistory
from policies.ranking import top_k_slates
from policies.registry import register_policy
from sim.events import Provenance
from sim.rowwise import rows_matmul
from sim.types import CatalogView, FeedBatch, FeedResponse

__all__ = ["HistoryPolicy", "ItemKNNPolicy", "MatrixFactorisationPolicy", "implicit_als"]


class HistoryPolicy(Policy):
    """Shared plumbing of score-based policies: history, popularity prior, masking, slates."""

    #: Weight of the popularity prior added to the model score (breaks cold-start ties).
    popularity_weight = 1e-3
    #: Provenance declared for every served item.
    origin: Provenance = Provenance.RETRIEVAL

    def __init__(
        self,
        decay: float = 0.9,
        exclude_seen: bool = True,
        retrain: bool = True,
        fit_episodes: int = 1,
    ) -> None:
        if fit_episodes < 1:
            raise ValueError(f"fit_episodes must be >= 1, got {fit_episodes}")
        self.decay = float(decay)
        self.exclude_seen = bool(exclude_seen)
        self.retrain = bool(retrain)
        self.fit_episodes = int(fit_episodes)
        self._fits = 0
        self.sources = (self.origin,)

    def bind(self, context: PolicyContext) -> None:  # noqa: D102
        super().bind(context)
        self.history = InteractionHistory(context.n_users, context.catalog.n_items, self.decay)
        self._popularity = np.zeros(context.catalog.n_items)

    def on_catalog_change(self, catalog: CatalogView) -> None:  # noqa: D102
        super().on_catalog_change(catalog)
        self.history.resize(catalog.n_items)
        self._popularity = np.pad(self._popularity, (0, catalog.n_items - self._popularity.size))
        self._resize_model(catalog.n_items)

    def _resize_model(self, n_items: int) -> None:
        """Grow model parameters to ``n_items`` (override when the model has any)."""

    def _model_scores(self, user_ids: np.ndarray) -> np.ndarray:
        """Shape ``(n, n_items)`` model scores for the users (override)."""
        raise NotImplementedError

    def recommend(self, batch: FeedBatch) -> FeedResponse:  # noqa: D102
        scores = self._model_scores(batch.user_ids)
        pop = self._popularity / max(self._popularity.max(), 1.0)
        scores = scores + self.popularity_weight * pop[None, :]
        scores[:, ~self.context.catalog.available] = -np.inf
        if self.exclude_seen:
            seen = self.history.seen_mask(batch.user_ids).tocoo()
            servable = np.isfinite(scores).sum(axis=1) - np.bincount(seen.row, minlength=len(batch))
            keep = servable[seen.row] >= batch.slate_size  # never starve a row
            scores[seen.row[keep], seen.col[keep]] = -np.inf
        slates = top_k_slates(scores, batch.slate_size, batch.page)
        origin = np.full(slates.shape, int(self.origin), dtype=np.int8)
        return FeedResponse(slates=slates, origin=origin)

    def update(self, events: pd.DataFrame) -> None:  # noqa: D102
        self.history.add_episode(events)
        self._popularity = np.asarray(self.history.matrix.sum(axis=0)).ravel()
        if self.retrain or self._fits < self.fit_episodes:
            self._fit()
            self._fits += 1

    def _fit(self) -> None:
        """Retrain the model on ``self.history`` (override)."""


@register_policy("itemknn")
class ItemKNNPolicy(HistoryPolicy):
    """Item co-occurrence kNN: score(u, i) = Σ_j x_uj · sim(j, i) over the top-k neighbours.

    ``sim`` is the cosine similarity of item columns of the decayed click matrix,
    with the diagonal removed and only each item's ``n_neighbours`` largest kept.

    Args:
        n_neighbours: Neighbours kept per item (>= 1).
        decay: Per-episode decay of past clicks, in ``(0, 1]``.
        exclude_seen: Do not re-serve items the user already clicked.
        retrain: Refit after every episode; false: fit after the first
            ``fit_episodes`` episodes only, then keep the model frozen.
        fit_episodes: Episodes fitted on before freezing when ``retrain`` is false.
    """

    def __init__(
        self,
        n_neighbours: int = 50,
        decay: float = 0.9,
        exclude_seen: bool = True,
        retrain: bool = True,
        fit_episodes: int = 1,
    ):
        super().__init__(decay, exclude_seen, retrain, fit_episodes)
        if n_neighbours < 1:
            raise ValueError(f"n_neighbours must be >= 1, got {n_neighbours}")
        self.n_neighbours = int(n_neighbours)
        self._similarity: sp.csr_matrix | None = None

    def _fit(self) -> None:
        self._similarity = item_cosine_topk(self.history.matrix, self.n_neighbours)

    def _resize_model(self, n_items: int) -> None:
        if self._similarity is not None:
            self._similarity.resize((n_items, n_items))

    def _model_scores(self, user_ids: np.ndarray) -> np.ndarray:
        n_items = self.context.catalog.n_items
        if self._similarity is None:
            return np.zeros((user_ids.shape[0], n_items))
        return np.asarray((self.history.matrix[user_ids] @ self._similarity).todense())


def item_cosine_topk(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Top-``k`` cosine similarities between the item columns of ``matrix``.

    Args:
        matrix: Shape ``(n_users, n_items)`` non-negative interaction weights.
        k: Neighbours kept per item (row of the result).

    Returns:
        Shape ``(n_items, n_items)`` CSR; row ``j`` holds ``sim(j, ·)``, zero diagonal.
    """
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normed = matrix @ sp.diags(inv)
    sim = (normed.T @ normed).tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    rows, cols, vals = [], [], []
    for j in range(sim.shape[0]):
        start, end = sim.indptr[j], sim.indptr[j + 1]
        if end == start:
            continue
        row_vals = sim.data[start:end]
        keep = np.argsort(-row_vals, kind="stable")[:k]
        rows.append(np.full(keep.shape[0], j))
        cols.append(sim.indices[start:end][keep])
        vals.append(row_vals[keep])
    if not rows:
        return sp.csr_matrix(sim.shape)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=sim.shape
    )


def implicit_als(
    matrix: sp.csr_matrix,
    n_factors: int,
    alpha: float,
    reg: float,
    n_iters: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008).

    Minimises Σ_ui c_ui (p_ui − x_u·y_i)² + reg (‖X‖² + ‖Y‖²) with preference
    ``p_ui = 1[r_ui > 0]`` and confidence ``c_ui = 1 + alpha · r_ui``, by exact
    alternating least-squares solves.

    Args:
        matrix: Shape ``(n_users, n_items)`` non-negative interaction weights ``r``.
        n_factors: Latent dimension ``d``.
        alpha: Confidence slope (>= 0).
        reg: L2 regularisation (> 0).
        n_iters: Alternating sweeps.
        rng: Stream for the initial factors.

    Returns:
        ``(user_factors, item_factors)`` of shapes ``(n_users, d)`` and ``(n_items, d)``.
    """
    n_users, n_items = matrix.shape
    users = rng.normal(0.0, 0.01, (n_users, n_factors))
    items = rng.normal(0.0, 0.01, (n_items, n_factors))
    by_user = matrix.tocsr()
    by_item = matrix.T.tocsr()
    for _ in range(n_iters):
        users = _als_half_step(by_user, items, alpha, reg)
        items = _als_half_step(by_item, users, alpha, reg)
    return users, items


def _als_half_step(rows: sp.csr_matrix, fixed: np.ndarray, alpha: float, reg: float) -> np.ndarray:
    """Solve every row's factors given the other side's ``fixed`` factors."""
    d = fixed.shape[1]
    gram = fixed.T @ fixed + reg * np.eye(d)
    out = np.zeros((rows.shape[0], d))
    for r in range(rows.shape[0]):
        start, end = rows.indptr[r], rows.indptr[r + 1]
        if end == start:
            continue
        idx = rows.indices[start:end]
        conf = alpha * rows.data[start:end]  # c - 1
        y = fixed[idx]
        a = gram + (y.T * conf) @ y
        b = y.T @ (1.0 + conf)
        out[r] = np.linalg.solve(a, b)
    return out


@register_policy("mf")
class MatrixFactorisationPolicy(HistoryPolicy):
    """Implicit-feedback matrix factorisation (ALS), retrained after every episode.

    Args:
        n_factors: Latent dimension (>= 1).
        alpha: Confidence slope of clicks (>= 0).
        reg: L2 regularisation (> 0).
        n_iters: ALS sweeps per retraining (>= 1).
        decay: Per-episode decay of past clicks, in ``(0, 1]``.
        exclude_seen: Do not re-serve items the user already clicked.
        retrain: Refit after every episode; false: fit after the first
            ``fit_episodes`` episodes only, then keep the factors frozen.
        fit_episodes: Episodes fitted on before freezing when ``retrain`` is false.
    """

    def __init__(
        self,
        n_factors: int = 32,
        alpha: float = 10.0,
        reg: float = 0.1,
        n_iters: int = 8,
        decay: float = 0.9,
        exclude_seen: bool = True,
        retrain: bool = True,
        fit_episodes: int = 1,
    ) -> None:
        super().__init__(decay, exclude_seen, retrain, fit_episodes)
        if n_factors < 1 or n_iters < 1 or alpha < 0 or reg <= 0:
            raise ValueError("mf needs n_factors >= 1, n_iters >= 1, alpha >= 0 and reg > 0")
        self.n_factors, self.alpha, self.reg, self.n_iters = n_factors, alpha, reg, n_iters
        self._users: np.ndarray | None = None
        self._items: np.ndarray | None = None

    def _fit(self) -> None:
        self._users, self._items = implicit_als(
            self.history.matrix,
            self.n_factors,
            self.alpha,
            self.reg,
            self.n_iters,
            self.context.rng,
        )

    def _resize_model(self, n_items: int) -> None:
        if self._items is not None and self._items.shape[0] < n_items:
            pad = n_items - self._items.shape[0]
            self._items = np.vstack([self._items, np.zeros((pad, self._items.shape[1]))])

    def _model_scores(self, user_ids: np.ndarray) -> np.ndarray:
        if self._users is None or self._items is None:
            return np.zeros((user_ids.shape[0], self.context.catalog.n_items))
        return rows_matmul(self._users[user_ids], self._items.T)
