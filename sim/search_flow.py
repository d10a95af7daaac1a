"""The search side of the responder: queries, cascade examination, suggestions.

Mixed into :class:`sim.responder.Responder`; every method works on a whole batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.choice import affinity_pairs, choice_probabilities, sample_choice, sigmoid
from sim.emitter import END, FEED, SEARCH, Emitter, readonly
from sim.events import EventType, Provenance
from sim.search import search_terms
from sim.types import SearchBatch, SuggestBatch
from sim.validation import validate_search, validate_suggestions

if TYPE_CHECKING:
    from sim.catalog import Catalog
    from sim.config import WorldConfig
    from sim.population import Population
    from sim.queries import Draw

__all__ = ["SearchFlowMixin", "search_click_probabilities"]


class SearchFlowMixin:
    """Search and suggestion behaviour (needs the attributes of ``Responder``)."""

    def _issue_queries(
        self,
        em: Emitter,
        rows: np.ndarray,
        users: np.ndarray,
        sess: np.ndarray,
        t: np.ndarray,
        topic: np.ndarray,
        item: np.ndarray,
        seq: int,
        draw: Draw,
    ) -> np.ndarray:
        """Write a query per user for the given intents and log QUERY events.

        The rows' random numbers come from ``draw``, their behaviour draws of the
        request being served.

        Returns:
            Shape ``(n,)`` times at which the queries are submitted (after typing).
        """
        pop = self.pop
        texts = self.writer.write(topic, item, draw)
        n_words = np.array([len(q.split()) for q in texts], dtype=np.float64)
        t_query = t + self.cfg.intent.typing_s_per_word * n_words
        qids = self._new_query_ids(users)
        em.add(rows, seq + 5, event=int(EventType.QUERY), time_s=t_query, user_id=users,
               session_id=sess, query_id=qids, text=self.log.add_texts(texts))  # fmt: skip
        pop.intent_topic[users] = topic
        pop.intent_item[users] = item
        pop.pending_query_id[users] = qids
        pop.pending_query.update(zip(users.tolist(), texts, strict=True))
        pop.queries[users] += 1
        return t_query

    def _new_query_ids(self, users: np.ndarray) -> np.ndarray:
        """Ids of the users' next queries, ``user + n_users * k`` (their ``k``-th query)."""
        pop = self.pop
        qids = users.astype(np.int64) + pop.n_users * pop.query_count[users]
        pop.query_count[users] += 1
        return qids

    def search(
        self, users: np.ndarray, t0: np.ndarray, now_s: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run each user's pending query, let the policy re-rank, examine in cascade.

        Rank 0 is examined; rank ``r + 1 < cascade_depth`` is examined if rank ``r`` was
        examined, not clicked, and the user went on (``cascade_continue_prob``). An
        examined result is clicked with probability
        ``sigmoid(w_rel * rel + w_q * quality + eps_ui - threshold)`` (at least
        ``known_item_click_prob`` for the known item), ``rel`` the cosine between the
        result's topics and the intent (the topic's unit vector or the known item's
        topics), ``eps_ui`` the user-item term of
        :meth:`~sim.population.Population.user_item_utility` (idiosyncratic taste minus
        the repeat penalty; 0 by default). The first click ends the cascade.

        Returns:
            ``(action, resume_s)``, shapes ``(n,)``.
        """
        cfg, pop, cat, ic = self.cfg, self.pop, self.catalog, self.cfg.intent
        n = users.shape[0]
        texts = [pop.pending_query.pop(u) for u in users.tolist()]
        qids = pop.pending_query_id[users].copy()
        sess = pop.session_id[users].copy()
        k = ic.results_k
        cand, scores = self.index.search(texts, k)
        batch = SearchBatch(
            user_ids=readonly(users.astype(np.int32)),
            query_ids=readonly(qids),
            queries=texts,
            candidates=readonly(cand),
            scores=readonly(scores),
            time_s=now_s,
            episode=self.episode,
        )
        ranked = validate_search(self.policy_name, batch, self.policy.rank_search(batch))
        depth = min(ic.cascade_depth, k)
        shown = ranked[:, :depth]
        valid = shown >= 0
        topic = pop.intent_topic[users]
        target = pop.intent_item[users]
        p = search_click_probabilities(cfg, cat, pop, users, shown)
        req = self._next_requests(users)
        draws = self.rng.draws
        # Cascade: rank 0 is examined; rank r+1 only if rank r was examined, not
        # clicked, and the user went on (probability cascade_continue_prob).
        go_on = draws.uniform("search/continue", users, req, depth) < ic.cascade_continue_prob
        reached = np.ones((n, depth), dtype=bool)
        reached[:, 1:] = np.cumprod(go_on[:, :-1], axis=1).astype(bool)
        reached &= valid
        hit = reached & (draws.uniform("search/click", users, req, depth) < p)
        z_dwell = draws.normal("search/dwell", users, req)
        has = hit.any(axis=1)
        first = np.argmax(hit, axis=1)
        n_examined = reached.sum(axis=1)
        scan = cfg.feed.scan_s_per_item

        em = Emitter()
        rs, ps = np.nonzero(valid)
        em.add(rs, ps, event=int(EventType.SEARCH_IMPRESSION), time_s=t0[rs], user_id=users[rs],
               session_id=sess[rs], item_id=shown[rs, ps], position=ps, query_id=qids[rs],
               origin=int(Provenance.SEARCH))  # fmt: skip
        rows_c = np.flatnonzero(has)
        pos_c = first[rows_c]
        items_c = shown[rows_c, pos_c]
        users_c = users[rows_c]
        aff_c = self._affinity_rows(users_c, items_c)
        dwell_c = self._dwell(aff_c, cat.quality[items_c], z_dwell[rows_c])
        em.add(rows_c, depth + 1, event=int(EventType.SEARCH_CLICK),
               time_s=t0[rows_c] + scan * (pos_c + 1), user_id=users_c, session_id=sess[rows_c],
               item_id=items_c, position=pos_c, dwell_s=dwell_c, query_id=qids[rows_c],
               origin=int(Provenance.SEARCH))  # fmt: skip
        pop.decay_satiation(users_c, t0[rows_c], cfg.satiation.half_life_days)
        self._consume(users_c, items_c, aff_c)
        pop.search_clicks[users_c] += 1

        t_end = t0 + scan * n_examined
        t_end[rows_c] = t0[rows_c] + scan * (pos_c + 1) + dwell_c
        u_reform = draws.uniform("session/reformulate", users, req)
        u_cont = draws.uniform("session/continue", users, req)
        reform = ~has & (pop.reformulations_left[users] > 0) & (u_reform < ic.reformulate_prob)
        abandon = ~has & ~reform
        rows_a = np.flatnonzero(abandon)
        em.add(rows_a, depth + 2, event=int(EventType.QUERY_ABANDON), time_s=t_end[rows_a],
               user_id=users[rows_a], session_id=sess[rows_a], query_id=qids[rows_a])  # fmt: skip
        p_cont = np.where(has, cfg.sessions.continue_after_click, pop.patience[users])
        cont = (u_cont < p_cont) & (pop.feed_pages[users] < cfg.sessions.max_pages)
        action = np.where(reform, SEARCH, np.where(cont, FEED, END))
        resume = t_end.copy()
        rows_r = np.flatnonzero(reform)
        if rows_r.size:
            ur = users[rows_r]
            pop.reformulations_left[ur] -= 1
            resume[rows_r] = self._issue_queries(
                em, rows_r, ur, sess[rows_r], t_end[rows_r], topic[rows_r], target[rows_r], depth,
                self.rng.bound(ur, req[rows_r]),
            )  # fmt: skip
        rows_e = np.flatnonzero(action == END)
        self._end_sessions(em, rows_e, users[rows_e], sess[rows_e], t_end[rows_e], depth + 3)
        em.write(self.log)
        return action, resume

    def _affinity_rows(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Affinity (``choice.affinity``) of one (user, item) pair per row, shape ``(n,)``."""
        cat, ch = self.catalog, self.cfg.choice
        interests = self.pop.interests[users]
        if ch.affinity != "cosine":
            return affinity_pairs(
                interests, cat.topics[items], cat.topic_norm[items], ch.affinity,
                ch.affinity_temperature,
            )  # fmt: skip
        dot = np.einsum("nk,nk->n", interests, cat.topics[items])
        den = np.linalg.norm(interests, axis=1) * cat.topic_norm[items]
        return dot / np.maximum(den, 1e-12)

    def _word_topics(self, query: str) -> list[int]:
        """Topic of each word of ``query`` (-1 for generic or unknown words), cached."""
        cache = self.__dict__.setdefault("_word_topic_cache", {})
        topics = cache.get(query)
        if topics is None:
            vocab = self.catalog.vocab
            topics = [
                int(vocab.word_topic[vocab.index[w]]) if w in vocab.index else -1
                for w in search_terms(query)
            ]
            if len(cache) < 100_000:
                cache[query] = topics
        return topics

    def _suggest(
        self,
        em: Emitter,
        users: np.ndarray,
        sess: np.ndarray,
        t0: np.ndarray,
        now_s: float,
        action: np.ndarray,
        resume: np.ndarray,
        req: np.ndarray,
    ) -> None:
        """Show suggested queries; a user clicks at most one (MNL with a no-click option).

        Suggestion ``i`` has utility ``base + w * m_i`` (no click: 0), with ``m_i`` the
        mean over its words of the user's interest in each word's topic (0 for generic
        or unknown words). A click issues the query, whose intent topic is the query
        words' topic the user likes most. Updates ``action`` and ``resume`` in place.
        """
        cfg, pop, sg = self.cfg, self.pop, self.cfg.suggestions
        n = users.shape[0]
        batch = SuggestBatch(
            user_ids=readonly(users.astype(np.int32)),
            session_ids=readonly(sess.view()),
            time_s=now_s,
            episode=self.episode,
            n_suggestions=sg.n_suggestions,
        )
        suggestions = validate_suggestions(
            self.policy_name, n, sg.n_suggestions, self.policy.suggest_queries(batch)
        )
        counts = np.array([len(s) for s in suggestions], dtype=np.int64)
        if counts.sum() == 0:
            return
        flat = [q for s in suggestions for q in s]
        rows = np.repeat(np.arange(n), counts)
        slot = np.arange(flat.__len__()) - np.repeat(np.cumsum(counts) - counts, counts)
        text_idx = self.log.add_texts(flat)
        em.add(rows, 1 + slot, event=int(EventType.SUGGESTION_SHOWN), time_s=t0[rows],
               user_id=users[rows], session_id=sess[rows], position=slot,
               text=text_idx)  # fmt: skip
        # Match of each suggestion: mean interest in its words' topics.
        # Word topics once per distinct text (a policy shows the same few to many users).
        codes_of: dict[str, int] = {}
        code = np.fromiter(
            (codes_of.setdefault(q, len(codes_of)) for q in flat), np.int64, len(flat)
        )
        distinct = [self._word_topics(q) for q in codes_of]
        lens_d = np.array([len(w) for w in distinct], dtype=np.int64)
        topics_d = np.array([t for w in distinct for t in w], dtype=np.int64)
        lens = lens_d[code]
        n_words = np.maximum(lens, 1).astype(np.float64)
        wq = np.repeat(np.arange(len(flat)), lens)
        within = np.arange(wq.shape[0]) - np.repeat(np.cumsum(lens) - lens, lens)
        wt = topics_d[np.repeat((np.cumsum(lens_d) - lens_d)[code], lens) + within]
        interest = np.where(wt >= 0, pop.interests[users[rows[wq]], np.maximum(wt, 0)], 0.0)
        match = np.bincount(wq, weights=interest, minlength=len(flat)) / n_words
        # The intent a click would create: the query's word topic the user likes most
        # (ties: the lowest topic), or the user's favourite topic for a query without one.
        topic_of = _best_word_topic(wq, wt, interest, len(flat))
        none = topic_of < 0
        topic_of[none] = np.argmax(pop.interests[users[rows[none]]], axis=1)
        width = int(counts.max())
        util = np.full((n, width), -np.inf)
        util[rows, slot] = sg.base_logit + sg.match_weight * match
        if sg.result_quality_weight > 0:
            quality = self._expected_result_quality(flat, users[rows], topic_of)
            util[rows, slot] += sg.result_quality_weight * quality
        shown = np.isfinite(util)
        probs = choice_probabilities(np.where(shown, util, 0.0), shown, 0.0)
        choice = sample_choice(probs, self.rng.draws.uniform("suggest/choice", users, req))
        rows_c = np.flatnonzero(choice >= 0)
        if rows_c.size == 0:
            return
        slot_c = choice[rows_c]
        flat_c = (np.cumsum(counts) - counts)[rows_c] + slot_c
        users_c = users[rows_c]
        texts = [flat[i] for i in flat_c.tolist()]
        t_click = t0[rows_c] + cfg.feed.scan_s_per_item * (slot_c + 1)
        qids = self._new_query_ids(users_c)
        idx_c = text_idx[flat_c]
        em.add(rows_c, 100, event=int(EventType.SUGGESTION_CLICK), time_s=t_click,
               user_id=users_c, session_id=sess[rows_c], position=slot_c, query_id=qids,
               text=idx_c)  # fmt: skip
        em.add(rows_c, 101, event=int(EventType.QUERY), time_s=t_click, user_id=users_c,
               session_id=sess[rows_c], query_id=qids, text=idx_c)  # fmt: skip
        topic = topic_of[flat_c].astype(np.int32)
        pop.intent_topic[users_c] = topic
        pop.intent_item[users_c] = -1
        pop.pending_query_id[users_c] = qids
        pop.pending_query.update(zip(users_c.tolist(), texts, strict=True))
        pop.queries[users_c] += 1
        action[rows_c] = SEARCH
        resume[rows_c] = t_click

    def _expected_result_quality(
        self, texts: list[str], users: np.ndarray, topic: np.ndarray
    ) -> np.ndarray:
        """Mean click probability of each query's first ``preview_k`` engine results.

        For suggestion ``j`` shown to ``users[j]``: the mean over the engine's first
        ``suggestions.preview_k`` results (BM25 order, whatever the policy would do with
        them) of the probability that the user clicks the result if examined, for the
        topic intent ``topic[j]`` the click would create (fewer results count as
        probability 0). Results are cached per query text until the catalogue changes.

        Args:
            texts: ``m`` suggestion texts.
            users: Shape ``(m,)`` the user each is shown to.
            topic: Shape ``(m,)`` intent topics.

        Returns:
            Shape ``(m,)`` float64 in ``[0, 1]``.
        """
        k = self.cfg.suggestions.preview_k
        cache = self.__dict__.setdefault("_preview_cache", {})
        if cache.get("version") != self.catalog.version:
            cache.clear()
            cache["version"] = self.catalog.version
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            found, _ = self.index.search(missing, k)
            cache.update(zip(missing, np.asarray(found, dtype=np.int64), strict=True))
        shown = np.stack([cache[t] for t in texts])
        no_item = np.full(len(texts), -1, dtype=np.int64)
        p = _click_probabilities(
            self.cfg, self.catalog, self.pop, users, shown, topic.astype(np.int64), no_item
        )
        return p.sum(axis=1) / k


def _best_word_topic(
    word_row: np.ndarray, word_topic: np.ndarray, interest: np.ndarray, n_rows: int
) -> np.ndarray:
    """Per row, the word topic of highest interest (ties: lowest topic); -1 if none.

    Args:
        word_row: Shape ``(w,)`` row of each word.
        word_topic: Shape ``(w,)`` topic of each word (-1: none).
        interest: Shape ``(w,)`` the row's user's interest in the word's topic.
        n_rows: Number of rows.

    Returns:
        Shape ``(n_rows,)`` int64.
    """
    out = np.full(n_rows, -1, dtype=np.int64)
    ok = word_topic >= 0
    r, t, v = word_row[ok], word_topic[ok], interest[ok]
    if r.size:
        order = np.lexsort((t, -v, r))
        first = np.ones(order.size, dtype=bool)
        first[1:] = r[order][1:] != r[order][:-1]
        out[r[order][first]] = t[order][first]
    return out


def search_click_probabilities(
    cfg: WorldConfig, cat: Catalog, pop: Population, users: np.ndarray, shown: np.ndarray
) -> np.ndarray:
    """Probability that each user clicks each result *if examined*, for their intent.

    ``sigmoid(w_rel * rel + w_q * quality + eps_ui - threshold)``, at least
    ``known_item_click_prob`` for the known item; ``rel`` is the cosine between the
    result's topics and the user's current intent (see :meth:`SearchFlow.search`).

    Args:
        cfg: World configuration.
        cat: The catalogue.
        pop: The population (current intents and user-item terms).
        users: Shape ``(n,)`` user ids with a pending search.
        shown: Shape ``(n, s)`` result item ids (``-1`` for none: probability 0).

    Returns:
        Shape ``(n, s)`` float64.
    """
    return _click_probabilities(
        cfg, cat, pop, users, shown, pop.intent_topic[users], pop.intent_item[users]
    )


def _click_probabilities(
    cfg: WorldConfig,
    cat: Catalog,
    pop: Population,
    users: np.ndarray,
    shown: np.ndarray,
    intent_topic: np.ndarray,
    intent_item: np.ndarray,
) -> np.ndarray:
    """:func:`search_click_probabilities` for given intents (``(n,)`` topic and item, -1: none)."""
    ic = cfg.intent
    n = users.shape[0]
    valid = shown >= 0
    safe = np.where(valid, shown, 0)
    theta = cat.topics[safe]
    norm = np.maximum(cat.topic_norm[safe], 1e-12)
    topic = np.maximum(intent_topic, 0)
    target = intent_item
    known = target >= 0
    rel = theta[np.arange(n), :, topic] / norm
    if known.any():
        tv = cat.topics[target[known]]
        rel[known] = np.einsum("nsk,nk->ns", theta[known], tv) / (
            norm[known] * cat.topic_norm[target[known]][:, None]
        )
    logit = ic.relevance_weight * rel + cfg.choice.quality_weight * cat.quality[safe]
    if cfg.choice.conformity_weight > 0:
        logit += cfg.choice.conformity_weight * np.log1p(cat.observed_clicks[safe])
    if pop.has_user_item_terms:
        logit += pop.user_item_utility(users[:, None], safe)
    p = sigmoid(logit - ic.relevance_threshold)
    p = np.where(shown == target[:, None], np.maximum(p, ic.known_item_click_prob), p)
    return np.where(valid, p, 0.0)
