"""Which queries OneFeed suggests to a user and uses for search-based expansion.

Candidates per user: the words nearest the user's title profile (paired with a close
word of the same word group into two-word queries), the query head's best queries,
and recent successful queries of everyone. Each candidate is scored by its match with
the profile plus ``query_align_weight`` times its SID–query alignment score (the
query's text embedding against the SID embeddings of the user's engaged items, in the
space the alignment objective trains), and the best distinct ones are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from onefeed import OneFeedModel
from policies.onefeed_logs import ContentProfiles
from policies.ranking import standardise_rows

__all__ = ["QueryChooser"]


@dataclass(frozen=True)
class QueryChooser:
    """Query selection for one prepared episode.

    Attributes:
        model: The fitted OneFeed model.
        content: The users' title profiles and the word space.
        good_queries: Recent typed queries that led to a search click, with weights.
        encode: Text to model-vocabulary word ids.
        options: The policy options (:class:`~policies.onefeed_policy.OneFeedPolicyConfig`).
    """

    model: OneFeedModel
    content: ContentProfiles
    good_queries: dict[str, float]
    encode: Callable[[str], np.ndarray]
    options: Any

    def choose(self, histories: list) -> list[list[str]]:
        """Each user's ``n_queries`` suggested / expansion queries.

        Candidates: the words nearest the user's title profile, the query head's
        queries (its ``n_model_queries`` best first words), and recent successful
        queries of everyone. Each is scored by its profile match plus
        ``query_align_weight`` times the SID-query alignment score (the query's text
        embedding against the SID embeddings of the user's engaged items, both in the
        aligned space); the best distinct ones are kept.
        """
        model, opts = self.model, self.options
        assert model is not None
        n_users = len(histories)
        word_ids, _ = self.content.top_words(opts.n_word_candidates)
        model_q = model.generate_queries(histories, opts.n_model_queries)
        popular = sorted(self.good_queries, key=lambda q: (-self.good_queries[q], q))
        popular = popular[: opts.n_queries]
        words, wv = self.content.words, self.content.word_vecs
        unit = wv / np.maximum(np.linalg.norm(wv, axis=1, keepdims=True), 1e-12)
        # Pair each profile word with its closest other profile word when they belong to
        # the same word group: two words of one topic retrieve more on-topic results.
        sim = np.einsum("ukd,ujd->ukj", unit[word_ids], unit[word_ids])
        sim[:, np.arange(word_ids.shape[1]), np.arange(word_ids.shape[1])] = -1.0
        partner = sim.argmax(axis=2) if word_ids.shape[1] > 1 else np.zeros_like(word_ids)
        close = np.take_along_axis(sim, partner[..., None], 2)[..., 0] > opts.pair_min_cosine
        cands = []
        for u in range(n_users):
            own = [
                words[int(j)] + (f" {words[int(word_ids[u, p])]}" if close[u, k] else "")
                for k, (j, p) in enumerate(zip(word_ids[u], partner[u], strict=True))
            ]
            cands.append(list(dict.fromkeys(own + [q for q in model_q[u] if q] + popular)))
        width = max(len(c) for c in cands)
        profiles = self.content.unit_profiles()
        qvec = {q: self.content.query_vector(q) for q in {q for c in cands for q in c}}
        match = np.full((n_users, width), np.nan)
        for u, c in enumerate(cands):
            match[u, : len(c)] = np.stack([qvec[q] for q in c]) @ profiles[u]
        aligned = self.aligned_scores(histories, cands, width)
        score = np.nan_to_num(standardise_rows(match), nan=-np.inf) + opts.query_align_weight * (
            np.nan_to_num(standardise_rows(aligned))
        )
        order = np.argsort(-score, axis=1, kind="stable")[:, : opts.n_queries]
        return [[cands[u][int(j)] for j in order[u] if j < len(cands[u])] for u in range(n_users)]

    def aligned_scores(self, histories: list, cands: list[list[str]], width: int) -> np.ndarray:
        """Cosine, in the alignment space, of each candidate query and the user's SIDs."""
        model = self.model
        assert model is not None and model.sids is not None
        p, codes = model.params, model.sids.codes
        sid = sum(p[f"enc.C{lvl}"][codes[:, lvl]] for lvl in range(codes.shape[1])) @ p["aln.Ps"]
        sid /= np.maximum(np.linalg.norm(sid, axis=1, keepdims=True), 1e-8)
        user = np.zeros((len(histories), sid.shape[1]))
        for u, h in enumerate(histories):
            pos = h.positive_items()
            pos = pos[pos < sid.shape[0]]
            if pos.size:
                user[u] = sid[pos].sum(axis=0)
        user /= np.maximum(np.linalg.norm(user, axis=1, keepdims=True), 1e-8)
        texts = sorted({q for c in cands for q in c})
        text_vec = np.zeros((len(texts), sid.shape[1]))
        for j, q in enumerate(texts):
            ids = self.encode(q)
            if ids.size:
                text_vec[j] = p["qry.Wemb"][ids].mean(axis=0) @ p["aln.Pt"]
        text_vec /= np.maximum(np.linalg.norm(text_vec, axis=1, keepdims=True), 1e-8)
        where = {q: j for j, q in enumerate(texts)}
        out = np.full((len(histories), width), np.nan)
        for u, c in enumerate(cands):
            if c:
                out[u, : len(c)] = text_vec[[where[q] for q in c]] @ user[u]
        return out
