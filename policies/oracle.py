"""``oracle``: ranks by the users' true utilities — an upper bound, never a real policy.

It is the only policy that sees ground truth. A scenario must enable it explicitly,
and every report labels it as an upper bound.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from policies.base import Policy
from policies.ranking import top_k_slates
from policies.registry import register_policy
from sim.events import Provenance
from sim.ground_truth import GroundTruthView
from sim.search import search_terms
from sim.types import CatalogView, FeedBatch, FeedResponse, SearchBatch, SuggestBatch

__all__ = ["OraclePolicy"]


@register_policy("oracle")
class OraclePolicy(Policy):
    """Serves each user the available items of highest true utility (upper bound).

    Search results are ranked by the true probability that the searching user clicks
    them for their current (latent) intent. Suggested queries are the title
    words whose items the user likes most (highest mean true utility of the available
    items whose title contains the word; words in fewer than ``min_word_items``
    available titles are never suggested), one word per query.

    Args:
        min_word_items: Least number of available titles of a suggested word (so
            that its search fills the cascade: ``intent.cascade_depth`` is 10).
    """

    #: The application hands ground truth only to policies that declare this.
    needs_ground_truth = True
    #: Reports label this policy as an upper bound.
    is_upper_bound = True
    sources = (Provenance.RETRIEVAL,)

    def __init__(self, min_word_items: int = 10) -> None:
        if min_word_items < 1:
            raise ValueError("oracle: min_word_items must be >= 1")
        self._truth: GroundTruthView | None = None
        self.min_word_items = min_word_items
        self._words: tuple[list[str], sp.csr_matrix] | None = None

    def on_catalog_change(self, catalog: CatalogView) -> None:  # noqa: D102
        super().on_catalog_change(catalog)
        self._words = None

    def _title_words(self) -> tuple[list[str], sp.csr_matrix]:
        """Distinct title words and the ``(n_items, n_words)`` 0/1 incidence matrix."""
        if self._words is None:
            toks = [sorted(set(search_terms(t))) for t in self.context.catalog.titles]
            words = sorted({w for ts in toks for w in ts})
            index = {w: j for j, w in enumerate(words)}
            rows = np.repeat(np.arange(len(toks)), [len(ts) for ts in toks])
            cols = np.array([index[w] for ts in toks for w in ts], dtype=np.int64)
            shape = (len(toks), len(words))
            self._words = (words, sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=shape))
        return self._words

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

    def suggest_queries(self, batch: SuggestBatch) -> list[list[str]]:  # noqa: D102
        if len(batch) == 0:
            return []
        words, incidence = self._title_words()
        available = self.context.catalog.available.astype(np.float64)
        in_titles = incidence.T @ available  # available titles per word
        utilities = np.where(available > 0, self._utilities(batch.user_ids, batch.time_s), 0.0)
        mean = (incidence.T @ utilities.T).T / np.maximum(in_titles, 1.0)[None, :]
        mean[:, in_titles < self.min_word_items] = -np.inf
        best = np.argsort(-mean, axis=1, kind="stable")[:, : batch.n_suggestions]
        usable = np.take_along_axis(mean, best, axis=1) > -np.inf
        return [[words[int(j)] for j in row[ok]] for row, ok in zip(best, usable, strict=True)]

    def rank_search(self, batch: SearchBatch) -> np.ndarray:  # noqa: D102
        if len(batch) == 0:
            return batch.candidates
        if self._truth is None:
            self._utilities(batch.user_ids, batch.time_s)  # raises the explanatory error
        assert self._truth is not None
        cand = batch.candidates
        p = self._truth.search_click_probabilities(batch.user_ids, cand)
        score = np.where(cand >= 0, p, -np.inf)
        order = np.argsort(-score, axis=1, kind="stable")
        return np.take_along_axis(cand, order, axis=1)
