"""OneFeed's search page: features of the results, re-ranking, predicted query success.

:class:`SearchPage` owns what the policy learns about search (click text and click
rates, :class:`~policies.onefeed_search.SearchClickStats`; the cascade click model,
:class:`~policies.onefeed_search.CascadeRanker`; the features of the results it
ranked this episode) and reads the rest of the policy's state through
:class:`SearchInputs`, built by the policy when it is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from policies.onefeed_logs import ContentProfiles, UserHistories
from policies.onefeed_search import (
    SearchClickStats,
    SearchFeatureMemory,
    cascade_success,
    clicked_result_lists,
    reciprocal_rank_of_clicks,
    search_ranker,
)
from policies.ranking import standardise_rows
from sim.types import SearchBatch

__all__ = ["SearchInputs", "SearchPage"]

#: Score offset that moves consumed items behind every other search result.
SEEN_PENALTY = 1e6


@dataclass(frozen=True)
class SearchInputs:
    """The policy state the search page reads (no copies: views of the policy's arrays).

    Attributes:
        content: Users' title profiles and the word-group space.
        histories: Users' behaviour sequences and consumed items.
        item_vecs: Shape ``(n_model_items, d)`` the model's item vectors.
        states: Shape ``(n_users, d)`` the model's user states.
        sid_aligned: Shape ``(n_model_items, d_a)`` unit SID embeddings, aligned space.
        text_vectors: Query texts to unit embeddings in the aligned space.
        popularity: Shape ``(n_items,)`` z-scored log recent clicks.
        quality: Shape ``(n_items,)`` z-scored examined click-rate logit.
        search_rate: Shape ``(n_items,)`` z-scored search click-rate logit.
    """

    content: ContentProfiles
    histories: UserHistories
    item_vecs: np.ndarray
    states: np.ndarray
    sid_aligned: np.ndarray
    text_vectors: Callable[[list[str]], np.ndarray]
    popularity: np.ndarray
    quality: np.ndarray
    search_rate: np.ndarray


class SearchPage:
    """Re-ranks search results and learns from the search log.

    Args:
        n_items: Catalogue size.
        rate_prior: Pseudo-examinations of the search click-rate prior.
        memory_episodes: Episodes of search feedback the click model is fitted on.
        results_k: Engine results per query when predicting a query's success.
    """

    def __init__(
        self, n_items: int, rate_prior: float, memory_episodes: int, results_k: int
    ) -> None:
        self.stats = SearchClickStats(n_items, rate_prior)
        self.ranker = search_ranker(memory_episodes)
        self.results_k = int(results_k)
        self._memory = SearchFeatureMemory()
        #: Results a user sees per query, as the logs show (grows when more are seen).
        self.depth = 1

    def rank(self, batch: SearchBatch, inputs: SearchInputs) -> np.ndarray:
        """Re-order ``batch.candidates``: click-model score, consumed items last."""
        cand = batch.candidates.astype(np.int64)
        users = batch.user_ids.astype(np.int64)
        features, consumed = self.features(list(batch.queries), batch.scores, cand, users, inputs)
        self._memory.remember(batch.query_ids, cand, np.stack(features, axis=2))
        score = np.where(cand >= 0, self.ranker.score(features), -np.inf)
        # Consumed items go last (after every other result), as the feed never serves
        # them again: re-finding is possible, re-consuming is rare.
        score[consumed & (cand >= 0)] -= SEEN_PENALTY
        order = np.argsort(-score, axis=1, kind="stable")
        return np.take_along_axis(batch.candidates, order, axis=1)

    def predict_success(
        self, users: np.ndarray, texts: list[str], search: object, inputs: SearchInputs
    ) -> np.ndarray:
        """Probability that ``users[j]`` clicks a result of ``texts[j]``, shape ``(n,)``.

        Each distinct query goes through the search engine once; its results are ranked
        for the user as :meth:`rank` would, and the click model (click probabilities and
        continuation probability) gives the chance of a click,
        :func:`~policies.onefeed_search.cascade_success` over the displayed depth seen
        in the logs.

        Args:
            users: Shape ``(n,)`` user ids.
            texts: ``n`` query strings.
            search: The world's search engine (:class:`sim.types.SearchIndex`).
            inputs: The policy state.
        """
        distinct = sorted(set(texts))
        if not distinct:
            return np.zeros(0)
        where = {t: i for i, t in enumerate(distinct)}
        found, scores = search.search(distinct, self.results_k)  # type: ignore[attr-defined]
        rows = np.array([where[t] for t in texts], dtype=np.int64)
        out = np.empty(len(texts))
        ranker = self.ranker
        for start in range(0, len(texts), 2048):
            part = slice(start, start + 2048)
            cand = found[rows[part]].astype(np.int64)
            features, consumed = self.features(
                texts[part], scores[rows[part]], cand, users[part], inputs
            )
            score = ranker.score(features)
            click = expit(ranker.intercept + score)
            valid = cand >= 0
            click = np.where(valid & ~consumed, click, 0.0)
            key = np.where(valid, score - SEEN_PENALTY * consumed, -np.inf)
            order = np.argsort(-key, axis=1, kind="stable")[:, : self.depth]
            out[part] = cascade_success(
                np.take_along_axis(click, order, 1),
                np.take_along_axis(valid, order, 1),
                ranker.continue_prob,
            )
        return out

    def features(
        self,
        queries: list[str],
        scores: np.ndarray,
        cand: np.ndarray,
        users: np.ndarray,
        inputs: SearchInputs,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """The :data:`~policies.onefeed_search.SEARCH_FEATURES` of search results.

        Args:
            queries: ``n`` query strings.
            scores: Shape ``(n, k)`` engine scores.
            cand: Shape ``(n, k)`` result item ids (``-1`` padded).
            users: Shape ``(n,)`` the users searching.
            inputs: The policy state.

        Returns:
            ``(features, consumed)``: one ``(n, k)`` array per feature, and which results
            the user already consumed.
        """
        histories, content = inputs.histories, inputs.content
        consumed, seen = histories.membership(users, cand)
        skipped = (seen & ~consumed).astype(np.float64)
        valid = cand >= 0

        def gather(values: np.ndarray) -> np.ndarray:
            """Per-item ``values`` at the candidates (0 for padding and unknown items)."""
            ok = valid & (cand < values.shape[0])
            return np.where(ok, values[np.clip(cand, 0, values.shape[0] - 1)], 0.0)

        def in_space(item_vecs: np.ndarray, vecs: np.ndarray) -> np.ndarray:
            """Row-wise dot products of ``vecs`` (n, d) with the candidates' item vectors."""
            ok = valid & (cand < item_vecs.shape[0])
            emb = item_vecs[np.clip(cand, 0, item_vecs.shape[0] - 1)]
            return np.where(ok, np.einsum("nd,nkd->nk", vecs, emb), np.nan)

        # Text embeddings once per distinct query text (many rows share one).
        index: dict[str, int] = {}
        row_text = np.fromiter(
            (index.setdefault(q, len(index)) for q in queries), np.int64, count=len(queries)
        )
        distinct = list(index)
        qvec = np.zeros((len(distinct), content.dim))
        if distinct:
            qvec = np.stack([content.query_vector(q) for q in distinct])
        qvec /= np.maximum(np.linalg.norm(qvec, axis=1, keepdims=True), 1e-12)
        aligned = inputs.text_vectors(distinct)[row_text]
        features = [
            np.nan_to_num(standardise_rows(np.where(valid, scores, np.nan))),
            np.nan_to_num(in_space(content.item_emb, qvec[row_text])),
            np.nan_to_num(in_space(inputs.sid_aligned, aligned)),
            self.stats.click_text(queries, cand),
            np.nan_to_num(in_space(content.item_emb, content.unit_profiles(users))),
            np.nan_to_num(standardise_rows(in_space(inputs.item_vecs, inputs.states[users]))),
            gather(inputs.popularity),
            gather(inputs.quality),
            gather(inputs.search_rate),
            skipped,
        ]
        return features, consumed

    def learn(self, events: pd.DataFrame, decay: float, fit_ranker: bool) -> None:
        """Take in one episode's search log (a frozen policy calls :meth:`forget` instead).

        Args:
            events: The episode's log slice.
            decay: Per-episode decay of the click statistics.
            fit_ranker: Refit the click model on the results ranked this episode.
        """
        if fit_ranker:
            displayed = self._memory.displayed(events)
            if displayed.valid.size:
                self.depth = max(self.depth, displayed.valid.shape[1])
            self.ranker.observe(displayed)
            self.ranker.fit()
        self._memory.clear()
        self.stats.add_episode(events, decay)

    def forget(self) -> None:
        """Drop the features remembered this episode without learning from them."""
        self._memory.clear()

    def remembered(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The features of the results ranked this episode (a replica's serving state)."""
        return list(self._memory.parts)

    def adopt(self, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        """Remember ``parts`` (from :meth:`remembered` of replicas) as if ranked here."""
        self._memory.parts = list(parts)

    @staticmethod
    def alignment_mrr(
        events: pd.DataFrame,
        sid_aligned: np.ndarray,
        text_vectors: Callable[[list[str]], np.ndarray],
    ) -> tuple[float, float] | None:
        """Held-out quality of the SID–query alignment on one episode's search clicks.

        Returns:
            ``(mrr, chance_mrr)``: the mean reciprocal rank of each clicked result among
            its query's displayed results sorted by aligned query–SID cosine, and its
            expectation under a random order; ``None`` without clicked queries.
        """
        texts, items, click_pos = clicked_result_lists(events)
        if not texts:
            return None
        known = (items >= 0) & (items < sid_aligned.shape[0])
        vecs = sid_aligned[np.clip(items, 0, sid_aligned.shape[0] - 1)]
        cosine = np.einsum("nd,nkd->nk", text_vectors(texts), vecs)
        score = np.where(known, cosine, -2.0)
        n_shown = (items >= 0).sum(axis=1)
        chance = np.mean([np.mean(1.0 / np.arange(1, k + 1)) for k in n_shown.tolist()])
        return reciprocal_rank_of_clicks(score, items, click_pos), float(chance)
