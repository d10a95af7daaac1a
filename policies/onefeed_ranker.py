"""The ranking stage of the OneFeed policy: a click model learnt from logged feedback.

Every candidate item of a user has a few ranking features (see :data:`FEATURES`): the
user's title-profile cosine, the item's recent clicks and examined click rate, the
OneFeed model's state-item score, the SID log-probability of beam items, whether the
item came from search expansion, and the aligned cosine of the item's SID with the
user's generated queries (the SID–query alignment at work). The ranker scores a
candidate by a weighted sum of its features. The weights start at hand-set values
and, once enough feedback has been logged, are refitted after every episode by an
L2-regularised logistic regression of *click versus skip* over the examined feed
impressions of the last few episodes, the features being those the policy saw when
it served the item. The model and its ranking stage thus learn from the same implicit
feedback, and a feature that does not predict clicks (for example an undertrained
model score) loses its weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from policies.log_view import names

__all__ = ["FEATURES", "LearnedRanker", "fit_logistic", "linear_score", "served_feature_rows"]

#: Ranking features, in the column order of every feature array.
FEATURES: tuple[str, ...] = (
    "profile",
    "popularity",
    "quality",
    "model",
    "sid",
    "expansion",
    "intent",
)


def served_feature_rows(
    events: pd.DataFrame, served_items: np.ndarray, served_features: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the examined feed impressions of one episode.

    Args:
        events: The episode's log (``event``, ``user_id``, ``item_id`` columns).
        served_items: Shape ``(n_users, L)`` each user's served list (``-1`` padded).
        served_features: Shape ``(n_users, L, n_features)`` the features the policy
            saw for those items when it prepared the list.

    Returns:
        ``(x, y)``: shape ``(n, n_features)`` features and ``(n,)`` 0/1 clicks of every
        examined (clicked or skipped) feed item that was on its user's list with
        finite features.
    """
    kind = names(events["event"])
    feed = np.flatnonzero(np.isin(kind, ["click", "skip"]))
    users = events["user_id"].to_numpy(np.int64)[feed]
    items = events["item_id"].to_numpy(np.int64)[feed]
    ok = (users >= 0) & (users < served_items.shape[0])
    users, items, clicked = users[ok], items[ok], kind[feed][ok] == "click"
    n_feat = served_features.shape[2]
    if users.size == 0:
        return np.zeros((0, n_feat)), np.zeros(0)
    # Where each item is on its user's list: binary search in the sorted
    # (user, item) keys of the lists (each item is on a list at most once).
    n_rows, width = served_items.shape
    span = int(max(served_items.max(initial=0), items.max(initial=0))) + 2
    keys = (np.arange(n_rows, dtype=np.int64)[:, None] * span + served_items + 1).ravel()
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    query = users * span + items + 1
    at = np.clip(np.searchsorted(sorted_keys, query), 0, sorted_keys.size - 1)
    found = (sorted_keys[at] == query) & (items >= 0)
    col = order[at] % width
    x = served_features[users[found], col[found]].astype(np.float64)
    known = np.isfinite(x).all(axis=1)  # filler added after ranking has no features
    return x[known], clicked[found][known].astype(np.float64)


def linear_score(weights: np.ndarray, features: list[np.ndarray]) -> np.ndarray:
    """``sum_f weights[f] * features[f]`` over arrays of any common shape (zero weights skipped)."""
    out = np.zeros_like(features[0], dtype=np.float64)
    for w, f in zip(weights, features, strict=True):
        if w:
            out += w * f
    return out


def fit_logistic(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, start: np.ndarray, l2: float
) -> np.ndarray:
    """Weighted, L2-penalised logistic regression ``P(y = 1) = sigmoid(b + w · x)``.

    Minimises ``-sum_i a_i [y_i log p_i + (1 - y_i) log(1 - p_i)] / sum_i a_i + l2 |w|²``
    (``a`` the example weights; the intercept is not penalised) with L-BFGS from
    ``start``.

    Args:
        x: Shape ``(n, F)`` features.
        y: Shape ``(n,)`` labels in ``[0, 1]``.
        weight: Shape ``(n,)`` non-negative example weights.
        start: Shape ``(F + 1,)`` initial ``(b, w)``.
        l2: Penalty per unit of total weight.

    Returns:
        Shape ``(F + 1,)`` fitted ``(b, w)``.
    """
    total = max(float(weight.sum()), 1e-12)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        b, w = theta[0], theta[1:]
        z = b + x @ w
        nll = -(weight * (y * log_expit(z) + (1 - y) * log_expit(-z))).sum() / total
        r = weight * (expit(z) - y) / total
        grad = np.concatenate([[r.sum()], x.T @ r + 2 * l2 * w])
        return nll + l2 * float(w @ w), grad

    return minimize(loss, start, jac=True, method="L-BFGS-B").x


@dataclass
class LearnedRanker:
    """Linear ranking score whose weights are refitted on click/skip feedback.

    Args:
        weights: Shape ``(n_features,)`` initial weights (used until the first fit).
        l2: L2 penalty on the weights (not on the intercept), per example.
        memory_episodes: Episodes of feedback kept for the fit.
        min_clicks: Clicks needed in memory before the first fit.
    """

    weights: np.ndarray
    l2: float = 1e-3
    memory_episodes: int = 3
    min_clicks: int = 100
    intercept: float = 0.0
    n_fits: int = 0
    _memory: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64).copy()

    def score(self, features: list[np.ndarray]) -> np.ndarray:
        """Weighted sum of feature arrays of any common shape (one per feature)."""
        return linear_score(self.weights, features)

    def observe(self, x: np.ndarray, y: np.ndarray) -> None:
        """Remember one episode's examined impressions (older episodes are dropped)."""
        self._memory.append((x, y))
        del self._memory[: -self.memory_episodes]

    def fit(self) -> bool:
        """Refit the weights on the remembered feedback; ``False`` if too little of it.

        Maximises the L2-penalised log-likelihood of a logistic click model
        ``P(click) = sigmoid(b + w · x)`` with L-BFGS, warm-started from the current
        weights.
        """
        if not self._memory:
            return False
        x = np.concatenate([m[0] for m in self._memory])
        y = np.concatenate([m[1] for m in self._memory])
        if y.sum() < self.min_clicks or (1 - y).sum() < self.min_clicks:
            return False
        start = np.concatenate([[self.intercept], self.weights])
        theta = fit_logistic(x, y, np.ones_like(y), start, self.l2)
        self.intercept, self.weights = float(theta[0]), theta[1:].copy()
        self.n_fits += 1
        return True
