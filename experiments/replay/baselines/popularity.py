"""Popularity baselines.

``popularity`` counts items over the training prefixes only (the honest baseline).
``popularity-all`` counts over *all* interactions of the dataset, held-out validation and
test items included — a deliberate leak that reproduces the published "Popularity" row and
so checks the split and the masking (on Beauty it must land on R@10 0.0152, N@10 0.0068).
"""

from __future__ import annotations

import numpy as np

from experiments.replay.baselines.common import item_counts
from experiments.replay.protocol import TrainData

__all__ = ["Popularity"]


class Popularity:
    """Rank every user's unseen items by global interaction count.

    Args:
        use_all: Count over all interactions (held-out ones included) instead of the
            training prefixes.
    """

    deterministic = True

    def __init__(self, use_all: bool = False) -> None:
        self.use_all = use_all
        self.name = "popularity-all" if use_all else "popularity"
        self._scores: np.ndarray | None = None

    @staticmethod
    def param_grid() -> list[dict]:
        """No hyper-parameters."""
        return [{}]

    def fit(self, data: TrainData, seed: int) -> None:
        """Count interactions (``seed`` unused: deterministic)."""
        seqs = data.dataset.sequences if self.use_all else data.sequences
        self._scores = item_counts(seqs, data.dataset.n_items).astype(np.float32)

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Shape ``(b, n_items)``: the same count vector for every user."""
        if self._scores is None:
            raise RuntimeError("fit() first")
        return np.broadcast_to(self._scores, (len(histories), len(self._scores))).copy()
