"""A weighted blend of the tuned classical models (transitions, kNN, EASE, popularity).

Each component is built with the setting the bench chose for its own row on validation
(same seed), fitted on the same prefixes, and its scores are scaled per user to a maximum
of 1 (``s / max(s)`` over the items; a row whose maximum is not positive is left as is).
The blend is ``sum_c w_c * s_c``; the weights are score-time settings tried on the
validation item (the first component's weight is fixed at 1).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from experiments.replay.protocol import Recommender, TrainData

__all__ = ["BLEND_COMPONENTS", "WEIGHT_GRID", "Blend", "scale_rows"]

#: Rows blended, in order (the first one has weight 1).
BLEND_COMPONENTS = ("transition", "cooc-knn", "ease", "popularity")
#: Weights tried for every component after the first.
WEIGHT_GRID: dict[str, tuple[float, ...]] = {
    "cooc-knn": (0.0, 0.5, 1.0, 2.0),
    "ease": (0.0, 0.5, 1.0, 2.0),
    "popularity": (0.0, 0.02),
}


def scale_rows(scores: np.ndarray) -> np.ndarray:
    """Scale each row to a maximum of 1 (rows with a non-positive maximum unchanged)."""
    peak = np.max(np.where(np.isfinite(scores), scores, -np.inf), axis=1, keepdims=True)
    peak = np.where(peak > 0, peak, 1.0)
    return (scores / peak).astype(np.float32)


class Blend:
    """Weighted sum of per-user-scaled component scores.

    Args:
        components: Row name → ``(build, fit setting, score setting)`` where ``build``
            makes the component from its fit setting.
        weights: Weight of every component (default: first 1, others 0).
    """

    deterministic = True
    name = "blend"

    def __init__(
        self,
        components: dict[str, tuple[Callable[[dict], Recommender], dict, dict]],
        weights: dict[str, float] | None = None,
    ) -> None:
        self.components = components
        names = list(components)
        self.weights = weights or {n: float(i == 0) for i, n in enumerate(names)}
        self._models: dict[str, Recommender] = {}

    def score_grid(self) -> list[dict[str, Any]]:
        """Every weight combination of :data:`WEIGHT_GRID` (first component fixed at 1)."""
        names = list(self.components)
        axes = [WEIGHT_GRID.get(n, (0.0, 0.5, 1.0)) for n in names[1:]]
        return [
            {"weights": {names[0]: 1.0, **dict(zip(names[1:], combo, strict=True))}}
            for combo in itertools.product(*axes)
        ]

    def set_score_params(self, weights: dict[str, float]) -> None:
        """Switch the blend weights."""
        self.weights = dict(weights)

    def fit(self, data: TrainData, seed: int) -> None:
        """Fit every component with its chosen setting."""
        self._models = {}
        for name, (build, fit_setting, score_setting) in self.components.items():
            model = build(fit_setting)
            model.fit(data, seed)
            if score_setting:
                model.set_score_params(**score_setting)  # type: ignore[attr-defined]
            self._models[name] = model

    def _component_scores(self, histories: list[np.ndarray]) -> dict[str, np.ndarray]:
        if not self._models:
            raise RuntimeError("fit() first")
        return {name: scale_rows(m.score(histories)) for name, m in self._models.items()}

    @staticmethod
    def _combine(parts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
        out = np.zeros_like(next(iter(parts.values())))
        for name, w in weights.items():
            if w:
                out += np.float32(w) * parts[name]
        return out

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 blended scores."""
        return self._combine(self._component_scores(histories), self.weights)

    def score_settings(
        self, histories: list[np.ndarray], settings: Sequence[dict[str, Any]]
    ) -> Iterator[np.ndarray]:
        """Every weight setting from one scoring of each component."""
        parts = self._component_scores(histories)
        for s in settings:
            yield self._combine(parts, s.get("weights", self.weights))
