"""The contract between the replay bench and the models it measures.

A dataset is a list of chronological item sequences (item ids ``0 .. n_items-1``).
The bench splits every sequence leave-one-out: the last item is the test target,
the second-to-last the validation target. A model is fitted on training prefixes and
asked for full-ranking scores over all items; the bench masks the user's history
items and computes Recall@K / NDCG@K over every user.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Recommender", "ReplayDataset", "TrainData", "score_grid_of", "score_settings"]


@dataclass(frozen=True)
class ReplayDataset:
    """A sequential implicit-feedback dataset with optional item text.

    Attributes:
        name: Dataset name, e.g. ``"beauty"``.
        n_items: Number of items; ids are ``0 .. n_items - 1``.
        sequences: One int64 array per user, in chronological order.
        item_text: Optional searchable text per item (titles, or titles and genres).
        item_attributes: Optional attribute ids per item (brand, categories, genres).
        text_source: Where ``item_text`` comes from (empty when there is none), or why
            there is none; printed by the bench.
    """

    name: str
    n_items: int
    sequences: list[np.ndarray]
    item_text: list[str] | None = None
    item_attributes: list[np.ndarray] | None = None
    text_source: str = ""


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


# Optional parts of a model (looked up with getattr, so plain classes need none of them):
#
# * ``param_grid() -> list[dict]`` (static): constructor settings tried on validation, one
#   fit each (default: one empty setting);
# * ``score_grid() -> list[dict]`` (after ``fit``): score-time settings tried on the same
#   fitted model (e.g. a history decay, blend weights), chosen with the fit setting;
# * ``set_score_params(**setting)``: switch to one score-time setting;
# * ``score_settings(histories, settings) -> Iterator[np.ndarray]``: the scores of every
#   setting for one chunk of users, computed from shared work (default: set and score).


def score_grid_of(model: Any) -> list[dict[str, Any]]:
    """The fitted model's score-time settings (``[{}]`` when it has none)."""
    grid = getattr(model, "score_grid", None)
    settings = list(grid()) if callable(grid) else [{}]
    return settings or [{}]


def score_settings(
    model: Any, histories: list[np.ndarray], settings: Sequence[dict[str, Any]]
) -> Iterator[np.ndarray]:
    """Scores of ``histories`` under every score-time setting, one array at a time.

    Uses the model's own ``score_settings`` when it has one (shared work across settings);
    otherwise sets each setting and calls ``score``.
    """
    own = getattr(model, "score_settings", None)
    if callable(own):
        yield from own(histories, settings)
        return
    for setting in settings:
        if setting:
            model.set_score_params(**setting)
        yield model.score(histories)
