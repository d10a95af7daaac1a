"""The contract between the replay bench and the models it measures.

A dataset is a list of chronological item sequences (item ids ``0 .. n_items-1``).
The bench splits every sequence leave-one-out: the last item is the test target,
the second-to-last the validation target. A model is fitted on training prefixes and
asked for full-ranking scores over all items; the bench masks the user's history
items and computes Recall@K / NDCG@K over every user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Recommender", "ReplayDataset", "TrainData"]


@dataclass(frozen=True)
class ReplayDataset:
    """A sequential implicit-feedback dataset with optional item text.

    Attributes:
        name: Dataset name, e.g. ``"beauty"``.
        n_items: Number of items; ids are ``0 .. n_items - 1``.
        sequences: One int64 array per user, in chronological order.
        item_text: Optional searchable text per item (titles, or titles and genres).
        item_attributes: Optional attribute ids per item (brand, categories, genres).
    """

    name: str
    n_items: int
    sequences: list[np.ndarray]
    item_text: list[str] | None = None
    item_attributes: list[np.ndarray] | None = None


@dataclass(frozen=True)
class TrainData:
    """What a model is fitted on.

    Attributes:
        dataset: The dataset (for ``n_items``, text and attributes only; models must
            not read ``dataset.sequences``, which include held-out items).
        sequences: Training prefix of every user (same order as the dataset).
        stage: ``"valid"`` (prefixes end before the validation item) or ``"test"``
            (prefixes end before the test item).
        extra: Free-form extras (e.g. feedback for offline self-enhancement rounds).
    """

    dataset: ReplayDataset
    sequences: list[np.ndarray]
    stage: str
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Recommender(Protocol):
    """A model the bench can fit and rank with."""

    name: str

    def fit(self, data: TrainData, seed: int) -> None:
        """Fit on ``data.sequences`` (deterministic for ``seed``)."""
        ...

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        """Scores over all items for each history.

        Args:
            histories: ``b`` int64 arrays, each a user's items so far.

        Returns:
            Shape ``(b, n_items)`` float32; higher is better; ``-inf`` for items the
            model did not retrieve. The bench masks history items itself.
        """
        ...
