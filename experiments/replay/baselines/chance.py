"""The chance row: i.i.d. uniform scores, the offline twin of the simulator's ``random`` policy.

Every (user, item) score is drawn uniformly from ``[0, 1)`` by a
:class:`numpy.random.Generator` seeded with the fit seed, so the row is reproducible for a
seed and differs between seeds (it is run once per seed). It measures the chance level of
the protocol: the target lands at a uniformly random rank among the user's unseen items,
so ``Recall@K ≈ K / (n_items - |history|)``. The draws are consumed in user order, so the
scores do not depend on how the bench chunks the users.
"""

from __future__ import annotations

import numpy as np

from experiments.replay.protocol import TrainData

__all__ = ["RandomScores"]


class RandomScores:
    """Uniformly random scores for every (user, item), seeded by the fit seed."""

    deterministic = False
    name = "random"

    def __init__(self) -> None:
        self._n_items: int | None = None
        self._rng: np.random.Generator | None = None

    @staticmethod
    def param_grid() -> list[dict]:
        """No hyper-parameters."""
        return [{}]

    def fit(self, data: TrainData, seed: int) -> None:
        """Reset the score stream to ``seed`` (nothing is learned from ``data``)."""
        self._n_items = data.dataset.n_items
        self._rng = np.random.default_rng(seed)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)`` float32 i.i.d. uniform ``[0, 1)`` scores (next draws)."""
        if self._rng is None or self._n_items is None:
            raise RuntimeError("fit() first")
        return self._rng.random((len(histories), self._n_items), dtype=np.float32)
