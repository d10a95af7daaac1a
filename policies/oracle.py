"""``oracle``: ranks by the users' true utilities — an upper bound, never a real policy.

It is the only policy that sees ground truth. A scenario must enable it explicitly,
and every report labels it as an upper bound.
"""

from __future__ import annotations

import numpy as np

from policies.base import Policy
from policies.ranking import top_k_slates
from policies.registry import register_policy
from sim.events import Provenance
from sim.ground_truth import GroundTruthView
from sim.types import FeedBatch, FeedResponse, SearchBatch

__all__ = ["OraclePolicy"]


@register_policy("oracle")
class OraclePolicy(Policy):
    """Serves each user the available items of highest true utility (upper bound).

    Search results are re-ranked by true utility too. Suggests no queries.
    """

    #: The application hands ground truth only to policies that declare this.
    needs_ground_truth = True
    #: Reports label this policy as an upper bound.
    is_upper_bound = True

    def __init__(self) -> None:
        self._truth: GroundTruthView | None = None

    def attach_ground_truth(self, truth: GroundTruthView) -> None:
        """Give the oracle its window on ground truth (done by the application)."""
        self._truth = truth

    def _utilities(self, user_ids: np.ndarray, time_s: float) -> np.ndarray:
        if self._truth is None:
            raise RuntimeError(
                "the oracle policy has no ground truth: enable it in the scenario "
                "(policies that need ground truth are upper bounds and must be allowed)"
            )
        return self._truth.utilities(user_ids, time_s)

    def recommend(self, batch: FeedBatch) -> FeedResponse:  # noqa: D102
        if len(batch) == 0:
            return FeedResponse(slates=np.zeros((0, batch.slate_size), dtype=np.int64))
        scores = self._utilities(batch.user_ids, batch.time_s)
        scores[:, ~self.context.catalog.available] = -np.inf
        slates = top_k_slates(scores, batch.slate_size, batch.page)
        origin = np.full(slates.shape, int(Provenance.RETRIEVAL), dtype=np.int8)
        return FeedResponse(slates=slates, origin=origin)

    def rank_search(self, batch: SearchBatch) -> np.ndarray:  # noqa: D102
        if len(batch) == 0:
            return batch.candidates
        utilities = self._utilities(batch.user_ids, batch.time_s)
        cand = batch.candidates
        score = np.where(
            cand >= 0, np.take_along_axis(utilities, np.maximum(cand, 0), axis=1), -np.inf
        )
        order = np.argsort(-score, axis=1, kind="stable")
        return np.take_along_axis(cand, order, axis=1)
