"""Which queries OneFeed suggests to a user and uses for search-based expansion.

Candidates per user: the words nearest the user's title profile (paired with a close
word of the same word group into two-word queries), the query head's best queries,
and recent successful queries of everyone. Each candidate is scored by its match with
the profile plus ``query_align_weight`` times its SID–query alignment score (the
query's text embedding against the SID embeddings of the user's engaged items, in the
space the alignment objective trains) plus ``query_success_weight`` times its expected
success — whether the query retrieves what this user then clicks: its results, ranked
as the policy would, under the policy's search click model — and the best distinct
ones are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from onefeed import OneFeedModel
from policies.onefeed_lists import first_occurrences
from policies.onefeed_logs import ContentProfiles
from policies.ranking import standardise_rows, user_chunks

__all__ = ["Candidates", "QueryChooser"]


@dataclass(frozen=True)
class Candidates:
    """Every user's candidate queries as ids into one table of distinct texts.

    Attributes:
        texts: The distinct candidate texts (id ``j`` is ``texts[j]``).
        ids: Shape ``(n_users, width)`` each user's candidates in order, ``-1`` padded.
        counts: Shape ``(n_users,)`` candidates per user.
    """

    texts: list[str]
    ids: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class QueryChooser:
    """Query selection for one prepared episode.

    Attributes:
        model: The fitted OneFeed model; ``None`` for the policy without a generative
            model (no query-head candidates, no alignment score).
        content: The users' title profiles and the word space.
        good_queries: Recent typed queries that led to a search click, with weights.
        word_outcomes: Per word, decayed ``[queries, successful queries]`` of the
            logged queries containing it (typed or suggested).
        encode: Text to model-vocabulary word ids.
        options: The policy options (:class:`~policies.onefeed_config.OneFeedPolicyConfig`).
        predict_success: ``(users, texts) -> P(click)`` of issuing each query for each
            user, from the policy's search click model; ``None`` (before that model is
            fitted) falls back to the per-word success rates of the logs.
    """

    model: OneFeedModel | None
    content: ContentProfiles
    good_queries: dict[str, float]
    word_outcomes: dict[str, list[float]]
    encode: Callable[[str], np.ndarray]
    options: Any
    predict_success: Callable[[np.ndarray, list[str]], np.ndarray] | None = None

    def choose(self, histories: list) -> list[list[str]]:
        """Each user's ``n_queries`` suggested / expansion queries.

        Candidates: the words nearest the user's title profile, the query head's
        queries (its ``n_model_queries`` best first words), and recent successful
        queries of everyone. Each is scored by its profile match plus
        ``query_align_weight`` times the SID-query alignment score (the query's text
        embedding against the SID embeddings of the user's engaged items, both in the
        aligned space) plus ``query_success_weight`` times its expected success
        (:meth:`expected_success`), each z-scored per user; the best distinct ones are
        kept. Candidate texts are handled as ids into one table of distinct texts, so
        each text is embedded once.
        """
        model, opts = self.model, self.options
        n_users = len(histories)
        cands = self._candidates(histories)
        texts, ids, counts = cands.texts, cands.ids, cands.counts
        width = ids.shape[1]
        profiles = self.content.unit_profiles()
        qvec = np.stack([self.content.query_vector(q) for q in texts] or [np.zeros(1)])
        match = np.full((n_users, width), np.nan)
        for u in range(n_users):
            match[u, : counts[u]] = qvec[ids[u, : counts[u]]] @ profiles[u]
        aligned = (
            self._aligned_scores(histories, cands)
            if model is not None
            else np.full((n_users, width), np.nan)
        )
        expected = self._expected_success(cands)
        score = (
            np.nan_to_num(standardise_rows(match), nan=-np.inf)
            + opts.query_align_weight * np.nan_to_num(standardise_rows(aligned))
            + opts.query_success_weight * np.nan_to_num(standardise_rows(expected))
        )
        order = np.argsort(-score, axis=1, kind="stable")[:, : opts.n_queries]
        picked = np.where(order < counts[:, None], np.take_along_axis(ids, order, 1), -1)
        return [[texts[j] for j in row if j >= 0] for row in picked.tolist()]

    def _candidates(self, histories: list) -> Candidates:
        """Every user's distinct candidate queries, in order (see :meth:`choose`)."""
        model, opts = self.model, self.options
        n_users = len(histories)
        word_ids, _ = self.content.top_words(opts.n_word_candidates)
        model_q: list[list[str]] = [[] for _ in range(n_users)]
        if model is not None:  # a chunk at a time: the query head scores the whole vocabulary
            model_q = [
                q
                for chunk in user_chunks(n_users)
                for q in model.generate_queries([histories[u] for u in chunk], opts.n_model_queries)
            ]
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
        second = np.where(close, np.take_along_axis(word_ids, partner, 1), -1)
        table: dict[str, int] = {}
        # Profile-word queries: one text per distinct (word, partner word) pair.
        pair = word_ids.astype(np.int64) * (len(words) + 1) + (second + 1)
        distinct, inverse = np.unique(pair, return_inverse=True)
        pair_text = np.array(
            [
                table.setdefault(
                    words[int(p // (len(words) + 1))]
                    + (f" {words[int(p % (len(words) + 1)) - 1]}" if p % (len(words) + 1) else ""),
                    len(table),
                )
                for p in distinct.tolist()
            ],
            dtype=np.int64,
        )
        own = pair_text[inverse.reshape(pair.shape)]
        n_model = max((len(r) for r in model_q), default=0)
        from_model = np.full((n_users, n_model), -1, dtype=np.int64)
        for u, row in enumerate(model_q):
            for j, q in enumerate(row):
                if q:
                    from_model[u, j] = table.setdefault(q, len(table))
        from_log = np.array([table.setdefault(q, len(table)) for q in popular], dtype=np.int64)
        all_ids = np.concatenate(
            [own, from_model, np.broadcast_to(from_log, (n_users, from_log.shape[0]))], axis=1
        )
        keep = first_occurrences(all_ids, all_ids >= 0)
        counts = keep.sum(axis=1)
        width = int(counts.max(initial=0))
        ids = np.full((n_users, width), -1, dtype=np.int64)
        r, c = np.nonzero(keep)
        ids[r, (np.cumsum(keep, axis=1) - 1)[r, c]] = all_ids[r, c]
        return Candidates(list(table), ids, counts)

    def _expected_success(self, cands: Candidates) -> np.ndarray:
        """Shape ``(n_users, width)`` logit of each candidate query's expected success.

        From :attr:`predict_success` (this user's click chance on the query's results as
        the policy would rank them) when available, else :meth:`success_logit`.
        """
        ids, texts = cands.ids, cands.texts
        expected = np.full(ids.shape, np.nan)
        valid = ids >= 0
        if self.predict_success is None:
            p0 = self.overall_success_rate()
            logit = np.array([self.success_logit(q, p0=p0) for q in texts] or [0.0])
            expected[valid] = logit[ids[valid]]
            return expected
        users, slot = np.nonzero(valid)
        p = self.predict_success(users, [texts[j] for j in ids[users, slot].tolist()])
        p = np.clip(p, 1e-4, 1 - 1e-4)
        expected[users, slot] = np.log(p / (1.0 - p))
        return expected

    def overall_success_rate(self) -> float:
        """``p0 = (successful + 1) / (queries + 2)`` over the logged queries' words."""
        total = np.array(list(self.word_outcomes.values()) or [[0.0, 0.0]]).sum(axis=0)
        return float((total[1] + 1.0) / (total[0] + 2.0))

    def success_logit(
        self, text: str, prior_queries: float = 5.0, p0: float | None = None
    ) -> float:
        """Expected success of a query: mean smoothed success logit of its words.

        A word's rate is ``(s + a p0) / (n + a)`` over the logged queries containing it
        (``a = prior_queries``, ``p0`` the overall success rate,
        :meth:`overall_success_rate`, computed here unless given); unseen words get ``p0``.
        """
        if p0 is None:
            p0 = self.overall_success_rate()
        logits = []
        for word in dict.fromkeys(text.split()):
            n, k = self.word_outcomes.get(word, (0.0, 0.0))
            rate = (k + prior_queries * p0) / (n + prior_queries)
            logits.append(np.log(rate / (1.0 - rate)))
        return float(np.mean(logits)) if logits else float(np.log(p0 / (1.0 - p0)))

    def sid_vectors(self) -> np.ndarray:
        """Shape ``(n_items, d)`` unit SID embeddings of the items in the aligned space."""
        assert self.model is not None
        p, codes = self.model.params, self.model.sids.codes
        sid = sum(p[f"enc.C{lvl}"][codes[:, lvl]] for lvl in range(codes.shape[1])) @ p["aln.Ps"]
        return sid / np.maximum(np.linalg.norm(sid, axis=1, keepdims=True), 1e-8)

    def text_vectors(self, texts: list[str]) -> np.ndarray:
        """Shape ``(len(texts), d)`` unit query-text embeddings in the aligned space.

        Without a model: shape ``(len(texts), 1)`` zeros (no aligned space).
        """
        if self.model is None:
            return np.zeros((len(texts), 1))
        p = self.model.params
        out = np.zeros((len(texts), p["aln.Pt"].shape[1]))
        for j, q in enumerate(texts):
            ids = self.encode(q)
            if ids.size:
                out[j] = p["qry.Wemb"][ids].mean(axis=0) @ p["aln.Pt"]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)

    def intent_item_scores(self, queries: list[list[str]]) -> np.ndarray:
        """Shape ``(n_users, n_items)`` aligned cosine of each user's queries and each SID.

        A user's intent vector is the normalised mean of their chosen queries' aligned
        text embeddings (zero without queries); every item is scored by the cosine of
        its aligned SID embedding with it. Only the SID–query alignment objective makes
        this informative: without it the two projections are unrelated.
        """
        sid = self.sid_vectors()
        texts = sorted({q for row in queries for q in row})
        vec = self.text_vectors(texts)
        where = {q: j for j, q in enumerate(texts)}
        intent = np.zeros((len(queries), sid.shape[1]))
        for u, row in enumerate(queries):
            if row:
                intent[u] = vec[[where[q] for q in row]].mean(axis=0)
        intent /= np.maximum(np.linalg.norm(intent, axis=1, keepdims=True), 1e-8)
        return intent @ sid.T

    def _aligned_scores(self, histories: list, cands: Candidates) -> np.ndarray:
        """Cosine, in the alignment space, of each candidate query and the user's SIDs."""
        sid = self.sid_vectors()
        user = np.zeros((len(histories), sid.shape[1]))
        for u, h in enumerate(histories):
            pos = h.positive_items()
            pos = pos[pos < sid.shape[0]]
            if pos.size:
                user[u] = sid[pos].sum(axis=0)
        user /= np.maximum(np.linalg.norm(user, axis=1, keepdims=True), 1e-8)
        text_vec = self.text_vectors(cands.texts)
        ids, counts = cands.ids, cands.counts
        out = np.full(ids.shape, np.nan)
        for u in range(len(histories)):
            if counts[u]:
                out[u, : counts[u]] = text_vec[ids[u, : counts[u]]] @ user[u]
        return out
