"""The OneFeed policy in the closed loop, and its registered ablations.

The policy sees only logged feedback, titles and the search engine. Per episode (it
learns between episodes only):

1. ``update(log)``: fold the episode into every user's behaviour sequence and title
   profile (:class:`~policies.onefeed_logs.ContentProfiles`: clicked titles and typed
   queries in a space of topic-like word groups learnt from title co-occurrence), and
   into decayed item statistics (recent clicks; click rate among examined feed items).
   The first time, fit the model (semantic IDs, encoder, both heads, alignment);
   afterwards run one self-enhancement round on the feedback to the model's own
   outputs, *capped* at about ``enhance_budget`` examples (every positive of a random
   subset of users, a few skips each, ignored impressions dropped) plus a replay of
   ``replay_users`` sampled sequences, so a round costs seconds whatever the log size.
   Every ``rebuild_sids_every`` episodes the semantic IDs are rebuilt by refitting.
2. Prepare every user's ranked list (vectorised over users): candidates = constrained
   SID beam search ∪ items found by the user's generated queries through the search
   engine (search-based expansion) ∪ the items nearest the title profile ∪ recent
   popular items. Every item carries the source that produced it (its provenance in
   the log: ``sid_beam``, ``query_expansion``, ``content``, ``popular``; an item found
   by several sources is credited to the first of that order, so the generative
   sources get the items they generated). Ranking stage: a linear click model over the
   profile cosine, the item prior (log recent clicks; logit of the smoothed click rate
   among examined impressions), the model's state-item score, the SID log-probability, an
   expansion flag and the aligned intent cosine (model, SID and intent scores z-scored
   per user; :class:`~policies.onefeed_ranker.LearnedRanker`), starting from the
   ``*_weight`` options and refitted on the examined click/skip feedback after every
   episode (``learn_ranker``). Already-engaged items are excluded; popular items
   fill up.
3. Queries (suggestions and expansion): candidates are the words nearest the user's
   profile (paired with a close word of the same group into two-word queries), the
   query head's ``n_model_queries`` queries and recent successful queries; each is
   scored by profile match plus ``query_align_weight`` × its SID–query alignment score
   (query text embedding against the SID embeddings of the user's engaged items, in the
   aligned space), and the best ``n_queries`` are kept. Distinct per user, so
   ``query_distinct_1`` is no longer ~0.
4. ``recommend``: each request gets the next ``slate_size`` items of its user's list.
5. ``rank_search``: re-rank the engine's candidates by a click model over BM25, the
   query–title cosine, the SID–query aligned cosine, the query-log click text, the
   profile, the model's state-item score, item priors and whether the user skipped the
   item in the feed, refitted after every episode as a cascade click model on the
   logged search results (:mod:`policies.onefeed_search`); consumed items go last.

Ablations, each changing one thing: ``onefeed-no-query`` (SID head only: no expansion,
no suggestions, query loss off), ``onefeed-no-align`` (alignment loss off, so the
aligned query score is uninformative), ``onefeed-frozen-model`` (the generative model
is fitted once and never retrained; the rankers and statistics keep learning),
``onefeed-no-model`` (the same serving stack without the generative model: content and
popular candidates, expansion by profile-word queries, the learnt rankers),
``onefeed-frozen`` (fitted once on the first logged episode(s); model parameters, the
rankers and item statistics never change afterwards; it still reads users' new
behaviour into their states and profiles). The learnt ranker weights are reported
every episode with the health metrics (``ranker_w_<feature>``, ``search_w_<feature>``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from onefeed import BehaviourSequence, FeedbackLog, OneFeedConfig, OneFeedModel
from onefeed.encoder import item_vectors
from onefeed.losses import log_softmax
from onefeed.text import word_tokens
from policies.base import Policy, PolicyContext
from policies.log_view import names
from policies.onefeed_config import SIM_MODEL_DEFAULTS, OneFeedPolicyConfig, auto_codebook_size
from policies.onefeed_feedback import EpisodeFeedback
from policies.onefeed_health import HealthTracker
from policies.onefeed_lists import ExpansionHits, finalise_rows
from policies.onefeed_logs import ContentProfiles, ServedLists, UserHistories
from policies.onefeed_queries import QueryChooser
from policies.onefeed_ranker import FEATURES, LearnedRanker, served_feature_rows
from policies.onefeed_search_page import SearchInputs, SearchPage
from policies.ranking import standardise_rows, user_chunks
from policies.registry import register_policy
from sim.events import Provenance
from sim.types import CatalogView, FeedBatch, FeedResponse, SearchBatch, SuggestBatch

__all__ = ["OneFeedPolicy", "OneFeedPolicyConfig"]

#: Provenance (as logged) of the items the generative model produced: the feedback to
#: them is what self-enhancement trains on.
_GENERATED = ("sid_beam", "query_expansion")
#: Candidate sources in priority order: an item from several sources is credited to
#: the first (a generated item stays generated when the scaffolding also found it).
_SOURCES = (Provenance.SID_BEAM, Provenance.QUERY_EXPANSION, Provenance.CONTENT,
            Provenance.POPULAR)  # fmt: skip
#: Users × items cells of one chunk of list preparation (bounds its float64 arrays).
_CHUNK_CELLS = 1 << 20


class OneFeedPolicy(Policy):
    """OneFeed serving the feed and the search page (see the module docstring).

    Args:
        **options: Fields of :class:`OneFeedPolicyConfig`.
    """

    #: Defaults of this registered variant (ablations override them).
    variant: ClassVar[dict[str, Any]] = {}
    #: Provenance codes this policy declares (validated by the serving layer).
    sources = _SOURCES

    def __init__(self, **options: Any) -> None:
        merged = {**self.variant, **options}
        model_opts = {**self.variant.get("model", {}), **options.get("model", {})}
        self.options = OneFeedPolicyConfig(**{**merged, "model": model_opts})
        self.model: OneFeedModel | None = None
        #: Whether lists are prepared from learnt state (after the first fit, or for
        #: the policy without a model once it has enough feedback).
        self._ready = False
        self.health = HealthTracker()
        self._episodes_seen = 0
        self._served: ServedLists | None = None
        self._served_features: np.ndarray | None = None
        #: What the search page reads, built once per episode (serving calls it per batch).
        self._inputs: SearchInputs | None = None
        opts = self.options
        start = {
            "profile": opts.content_weight,
            "popularity": opts.pop_weight,
            "quality": opts.pop_weight * opts.quality_weight,
            "model": opts.model_weight,
            "sid": opts.sid_weight,
            "expansion": opts.expansion_weight,
            "intent": opts.intent_weight,
        }
        self.ranker = LearnedRanker(
            np.array([start[f] for f in FEATURES]), memory_episodes=opts.ranker_memory
        )

    # ------------------------------------------------------------------ binding
    def bind(self, context: PolicyContext) -> None:  # noqa: D102
        super().bind(context)
        opts = self.options
        self.histories = UserHistories(context.n_users, opts.history_len, 4)
        self._clicks = np.zeros(context.catalog.n_items)
        self._examined = np.zeros(context.catalog.n_items)
        self._feed_clicks = np.zeros(context.catalog.n_items)
        self._tiebreak = context.rng.random(context.catalog.n_items)
        self._cursor = np.zeros(context.n_users, dtype=np.int64)
        self._good_queries: dict[str, float] = {}
        self._word_outcomes: dict[str, list[float]] = {}
        self._train_rng = np.random.default_rng(context.rng.integers(0, 2**63 - 1))
        self.content = ContentProfiles(context.n_users, seed=int(context.rng.integers(0, 2**31)))
        self.content.set_catalog(list(context.catalog.titles))
        self.search = SearchPage(
            context.catalog.n_items, opts.rate_prior, opts.ranker_memory, opts.search_results_k
        )
        self._search_rate = self._zscore_available(self.search.stats.rate_logit())
        self._fallback_lists()

    def on_catalog_change(self, catalog: CatalogView) -> None:  # noqa: D102
        self._inputs = None
        super().on_catalog_change(catalog)
        extra = catalog.n_items - self._clicks.shape[0]
        if extra > 0:
            self._clicks = np.pad(self._clicks, (0, extra))
            self._examined = np.pad(self._examined, (0, extra))
            self._feed_clicks = np.pad(self._feed_clicks, (0, extra))
            self._tiebreak = np.concatenate([self._tiebreak, self.context.rng.random(extra)])
            self.content.extend_catalog(list(catalog.titles))
            self.search.stats.grow(catalog.n_items)
            self._search_rate = self._zscore_available(self.search.stats.rate_logit())
        if self._served is not None:
            s = self._served
            self._served = self._finalise(
                s.items, s.origin, s.query_of_item, s.queries, s.histories
            )
            if self._served_features is not None:
                self._served_features = _carry_features(
                    s.items, self._served_features, self._served.items
                )

    def _popular(self) -> np.ndarray:
        """Available items by logged clicks (ties: a fixed random order)."""
        score = self._clicks + 0.5 * self._tiebreak
        score[~self.context.catalog.available] = -np.inf
        n_avail = int(self.context.catalog.available.sum())
        return np.argsort(-score, kind="stable")[:n_avail]

    def _fallback_lists(self) -> None:
        """Before the first fit: everyone gets the popularity list."""
        n = self.context.n_users
        empty = np.zeros((n, 0), dtype=np.int64)
        self._served_features = None
        self._served = self._finalise(
            empty, empty.astype(np.int8), empty, [[] for _ in range(n)],
            list(self.histories.sequences),
        )  # fmt: skip

    def _finalise(
        self,
        items: np.ndarray,
        origin: np.ndarray,
        query_of: np.ndarray,
        queries: list[list[str]],
        histories: list,
    ) -> ServedLists:
        """Each user's final list: ranked candidates, then popular items as filler.

        Keeps available, unseen, distinct items in rank order, then fills with popular
        items, to exactly ``min(list_len, n_available)`` entries per user
        (:func:`~policies.onefeed_lists.finalise_rows`, a chunk of users at a time).
        """
        popular = self._popular()
        length = min(self.options.list_len, popular.shape[0])
        n_users = self.context.n_users
        out = ServedLists.empty(n_users, length, queries, histories)
        for chunk in user_chunks(n_users):
            self._finalise_chunk(out, chunk, items[chunk], origin[chunk], query_of[chunk], popular)
        return out

    def _finalise_chunk(
        self,
        out: ServedLists,
        chunk: np.ndarray,
        items: np.ndarray,
        origin: np.ndarray,
        query_of: np.ndarray,
        popular: np.ndarray,
    ) -> None:
        """Write the final lists of the users ``chunk`` into ``out`` (see :meth:`_finalise`)."""
        parts = finalise_rows(
            chunk, items, origin, query_of, popular, out.items.shape[1],
            self.context.catalog.available, self.histories,
        )  # fmt: skip
        out.items[chunk], out.origin[chunk], out.query_of_item[chunk] = parts

    # ------------------------------------------------------------------ serving
    def recommend(self, batch: FeedBatch) -> FeedResponse:  # noqa: D102
        assert self._served is not None
        users = batch.user_ids.astype(np.int64)
        length = self._served.items.shape[1]
        picks = (self._cursor[users][:, None] + np.arange(batch.slate_size)[None, :]) % length
        slates = np.take_along_axis(self._served.items[users], picks, axis=1)
        origin = np.take_along_axis(self._served.origin[users], picks, axis=1)
        self._cursor[users] += batch.slate_size
        return FeedResponse(slates=slates, origin=origin)

    def suggest_queries(self, batch: SuggestBatch) -> list[list[str]]:  # noqa: D102
        assert self._served is not None
        if not self.options.use_queries:
            return [[] for _ in range(len(batch))]
        k = batch.n_suggestions
        return [list(self._served.queries[int(u)][:k]) for u in batch.user_ids]

    def rank_search(self, batch: SearchBatch) -> np.ndarray:  # noqa: D102
        if not self._ready or len(batch) == 0:
            return batch.candidates
        return self.search.rank(batch, self._search_inputs())

    def _search_inputs(self) -> SearchInputs:
        """The state the search page reads (only once lists are prepared from learnt state).

        Built on first use after each change of its parts (an update, a catalogue
        change, new user states), then shared by every search batch of the episode.
        Without a model, its item vectors, user states and aligned embeddings are
        zeros (their features are 0 for every result).
        """
        if self._inputs is None:
            popularity, quality = self._item_prior_parts()
            self._inputs = SearchInputs(
                content=self.content, histories=self.histories, item_vecs=self._item_vecs,
                states=self._states, sid_aligned=self._sid_aligned,
                text_vectors=self._query_chooser().text_vectors, popularity=popularity,
                quality=quality, search_rate=self._search_rate,
            )  # fmt: skip
        return self._inputs

    def _predicted_query_success(self, users: np.ndarray, texts: list[str]) -> np.ndarray:
        """:meth:`~policies.onefeed_search_page.SearchPage.predict_success` for the chooser."""
        return self.search.predict_success(users, texts, self.context.search, self._search_inputs())

    def serving_state(self) -> list:
        """The features of the search results ranked since the last update."""
        return self.search.remembered()

    def merge_serving_states(self, states: list) -> None:
        """Adopt the ranked search results of replicas (the order does not matter)."""
        self.search.adopt([part for state in states if state for part in state])

    # ----------------------------------------------------------------- learning
    def update(self, events: pd.DataFrame) -> None:  # noqa: D102
        self._inputs = None
        opts = self.options
        # After the first fit: the model learns only with self-enhancement, the rest
        # (rankers, item/search/query statistics) unless the scaffolding is frozen.
        frozen = self._ready and opts.freeze_scaffolding
        if self.model is not None:
            scores = SearchPage.alignment_mrr(
                events, self._sid_aligned, self._query_chooser().text_vectors
            )
            if scores is not None:
                self.health.record_alignment(*scores)
        if not frozen and opts.learn_ranker and self._served_features is not None:
            assert self._served is not None
            self.ranker.observe(
                *served_feature_rows(events, self._served.items, self._served_features)
            )
            self.ranker.fit()
        if frozen:
            self.search.forget()
        else:
            self.search.learn(events, opts.pop_decay, fit_ranker=opts.learn_ranker)
            self._search_rate = self._zscore_available(self.search.stats.rate_logit())
        if not frozen:  # item statistics are parameters too: a frozen policy keeps them
            kind = names(events["event"])
            clicked = events.loc[np.isin(kind, ["click", "search_click"]), "item_id"].to_numpy()
            self._clicks *= opts.pop_decay
            ok = (clicked >= 0) & (clicked < self._clicks.size)
            np.add.at(self._clicks, clicked[ok], 1.0)
            # Examined feed items (click or skip) and their clicks: a quality estimate.
            # A warm-start log of real consumptions (episode < 0) has no unclicked
            # examinations, so every item would look always clicked: it is not counted.
            examined = np.isin(kind, ["click", "skip"]) & (events["episode"].to_numpy() >= 0)
            feed = events.loc[examined, ["event", "item_id"]]
            item = feed["item_id"].to_numpy(np.int64)
            ok = (item >= 0) & (item < self._clicks.size)
            self._examined *= opts.pop_decay
            self._feed_clicks *= opts.pop_decay
            np.add.at(self._examined, item[ok], 1.0)
            np.add.at(self._feed_clicks, item[ok & (names(feed["event"]) == "click")], 1.0)
            self._remember_queries(events)
        self.content.add_episode(events, opts.long_dwell_s)
        encode = None if self.model is None else self._encode
        feedback = None
        if self.model is not None and self._served is not None and opts.self_enhance:
            feedback = EpisodeFeedback(
                events, self._served, encode, self.model.config.max_query_words,
                opts.long_dwell_s, _GENERATED,
            )  # fmt: skip
        self.histories.add_episode(events, encode, opts.long_dwell_s)
        self._episodes_seen += 1
        sequences = self.histories.sequences
        if not self._ready:
            if sum(len(s.positive_items()) for s in sequences) >= opts.min_fit_clicks:
                if opts.use_model:
                    self._fit(sequences, stage="fit")
                self._ready = True
        elif self.model is None:
            pass  # no generative model to retrain
        elif opts.rebuild_sids_every and self._episodes_seen % opts.rebuild_sids_every == 0:
            if opts.self_enhance:
                old_codes = self.model.sids.codes.copy()
                self._fit(sequences, stage="rebuild")
                self.health.record_rebuild(old_codes, self.model.sids.codes)
        elif feedback is not None:
            feedback, replay = self._training_budget(feedback, self._known_to_model(sequences))
            self.model.self_enhance(feedback, replay=replay, epochs=opts.enhance_epochs, ignore=0.0)
            self.health.record_labels(feedback, self.model.sids.codes)
        self._cursor[:] = 0
        if self._ready:
            self._prepare_lists()
        else:
            self._fallback_lists()
        self.health.record_rankers(self.ranker, self.search.ranker)

    def _encode(self, text: str) -> np.ndarray:
        """Model-vocabulary ids of ``text`` (distinct, in order), with a cached index."""
        assert self.model is not None and self.model.vocab is not None
        if getattr(self, "_vocab_of", None) is not self.model.vocab:
            self._vocab_of, self._word_ids = self.model.vocab, self.model.vocab.index()
        ids = [self._word_ids[w] for w in word_tokens(text or "") if w in self._word_ids]
        return np.array(list(dict.fromkeys(ids)), dtype=np.int64)

    def _remember_queries(self, events: pd.DataFrame) -> None:
        """Recent successful typed queries, and per-word outcomes of every query."""
        kind = names(events["event"])
        ok = events.loc[kind == "search_click", "query_id"].unique()
        texts = events.loc[(kind == "query") & events["query_id"].isin(ok), "query"].dropna()
        for text in texts.tolist():
            self._good_queries[text] = self._good_queries.get(text, 0.0) + 1.0
        decay = self.options.pop_decay
        self._good_queries = {q: c * decay for q, c in self._good_queries.items() if c > 0.2}
        # Outcomes of every logged query (typed or suggested), per word.
        issued = events.loc[kind == "query", ["query_id", "query"]].dropna()
        success = issued["query_id"].isin(ok).to_numpy()
        for text, hit in zip(issued["query"].tolist(), success.tolist(), strict=True):
            for word in dict.fromkeys(str(text).split()):
                stats = self._word_outcomes.setdefault(word, [0.0, 0.0])
                stats[0] += 1.0
                stats[1] += float(hit)
        self._word_outcomes = {
            w: [n * decay, k * decay] for w, (n, k) in self._word_outcomes.items() if n > 0.05
        }

    def _known_to_model(self, sequences: list[BehaviourSequence]) -> list[BehaviourSequence]:
        """``sequences`` with items the model was not fitted on (newer items) as ``-1``.

        The model's item tables cover the catalogue of its last fit; behaviour on later
        items keeps its event type but reads as "no item" until the next rebuild.
        """
        if self.model is None:
            return sequences
        n = self.model.n_items
        return [
            s if not (s.items >= n).any()
            else BehaviourSequence(np.where(s.items >= n, -1, s.items), s.types, s.query_words)
            for s in sequences
        ]  # fmt: skip

    def _training_budget(self, feedback: EpisodeFeedback, sequences: list) -> tuple:
        """Cap a self-enhancement round at about ``enhance_budget`` examples.

        Keeps every positive (clicked / long-dwell item, query credit) of a random
        subset of users, at most ``negatives_per_user`` of their skipped items, and a
        replay of ``replay_users`` random active users' sequences (against forgetting).
        Only the users taken are read from the episode's feedback (their records are
        built on demand), so a round's cost does not grow with the population.
        """
        opts, rng = self.options, self._train_rng
        assert self.model is not None
        n_model = self.model.n_items
        kept, n_rows = [], 0
        for r in rng.permutation(len(feedback)):
            uf = feedback.record(int(r))
            known = uf.shown_items < n_model  # items after the last fit have no SIDs yet
            pos = np.flatnonzero((uf.clicked | uf.long_dwell) & known)
            neg = np.flatnonzero(uf.skipped & ~(uf.clicked | uf.long_dwell) & known)
            neg = neg[: opts.negatives_per_user]
            cols = np.sort(np.concatenate([pos, neg]))
            rows = cols.size + len(uf.query_result_clicks) + len(uf.shown_queries)
            if rows == 0:
                continue
            kept.append(replace(
                uf, shown_items=uf.shown_items[cols], clicked=uf.clicked[cols],
                long_dwell=uf.long_dwell[cols], skipped=uf.skipped[cols],
                query_result_clicks=[(q, i) for q, i in uf.query_result_clicks if i < n_model],
            ))  # fmt: skip
            n_rows += rows
            if n_rows >= opts.enhance_budget:
                break
        active = [s for s in sequences if len(s.positive_items())]
        pick = rng.permutation(len(active))[: opts.replay_users]
        return FeedbackLog(kept), [active[int(i)] for i in np.sort(pick)]

    def _fit(self, sequences: list, stage: str) -> None:
        opts = self.options
        active = [s for s in sequences if len(s.positive_items())]
        model_items = self.context.catalog.n_items
        config = replace(OneFeedConfig(), **{**SIM_MODEL_DEFAULTS, "beam": opts.beam, **opts.model})
        if "codebook_size" not in opts.model:
            config = replace(config, codebook_size=auto_codebook_size(model_items, config.levels))
        model = OneFeedModel(config)
        seed = int(self.context.rng.integers(0, 2**31 - 1))
        model.fit(active, list(self.context.catalog.titles), seed=seed, epochs=opts.fit_epochs)
        self.model = model
        self.health.record_fit(model)

    def _prepare_lists(self) -> None:
        """Candidate generation, expansion and ranking for every user (vectorised).

        Queries are chosen and searched for the whole population at once (one batched
        engine call); scoring, ranking and the final lists go a chunk of users at a
        time (:func:`~policies.ranking.user_chunks`), so no step holds a
        users × items array of the whole population. Without a model (``use_model``
        False) the SID candidates and the model's features (state-item score, SID
        log-probability, aligned intent) are absent (features 0) and queries come from
        the title profiles and the query log only.
        """
        model, opts = self.model, self.options
        n_users, n_items = self.context.n_users, self.context.catalog.n_items
        histories = self._known_to_model(self.histories.sequences)
        if model is not None:
            self._item_vecs = item_vectors(model.params, model.sids.codes)
            self._states = np.zeros((n_users, self._item_vecs.shape[1]), dtype=np.float32)
            for chunk in user_chunks(n_users):
                self._states[chunk] = model.user_states([histories[u] for u in chunk])
            self._sid_aligned = self._query_chooser().sid_vectors()
        else:
            self._item_vecs = np.zeros((n_items, 1))
            self._states = np.zeros((n_users, 1))
            self._sid_aligned = np.zeros((n_items, 1))
        queries: list[list[str]] = [[] for _ in range(n_users)]
        self._inputs = None
        chooser = self._query_chooser()
        if opts.use_queries:
            queries = chooser.choose(histories)
        expansion = ExpansionHits.search(
            queries, self.context.search, opts.expansion_per_query, n_items
        )
        popular = self._popular()
        length = min(opts.list_len, popular.shape[0])
        served = ServedLists.empty(n_users, length, queries, histories)
        self._served_features = np.empty((n_users, length, len(FEATURES)), dtype=np.float32)
        from_content = np.empty((n_users, length), dtype=bool)
        popularity, quality = self._item_prior_parts()
        is_popular = np.zeros(n_items, dtype=bool)
        is_popular[popular[: opts.popular_candidates]] = True
        available = self.context.catalog.available[None, :]
        width = min(n_items, opts.list_len + opts.history_len)
        for chunk in user_chunks(n_users, max(64, _CHUNK_CELLS // max(n_items, 1))):
            c = chunk.shape[0]
            rows = np.arange(c)[:, None]
            affinity = self.content.affinity(chunk)
            source = np.zeros((c, n_items), dtype=np.int8)  # 0: not a candidate
            model_z = np.zeros((c, n_items))
            sid_feature = np.zeros((c, n_items))
            intent = np.zeros((c, n_items))
            if model is not None:
                m = min(n_items, model.n_items)
                hist = [histories[u] for u in chunk]
                sid_items, feats = model.candidate_features(hist, opts.beam, exclude_history=True)
                lp = np.full((c, n_items), np.nan)
                logits = self._states[chunk] @ self._item_vecs.T + model.params["rank.bias"]
                lp[:, :m] = log_softmax(logits)[:, :m]
                model_z = np.nan_to_num(standardise_rows(lp))
                ok = (sid_items >= 0) & (sid_items < n_items)
                sid_rows = np.broadcast_to(rows, sid_items.shape)[ok]
                source[sid_rows, sid_items[ok]] = int(Provenance.SID_BEAM)
                sid_z = np.nan_to_num(standardise_rows(np.where(ok, feats["sid"], np.nan)))
                sid_feature[sid_rows, sid_items[ok]] = sid_z[ok]
                if opts.use_queries:
                    scores = chooser.intent_item_scores([queries[u] for u in chunk])
                    intent[:, :m] = np.nan_to_num(standardise_rows(scores))[:, :m]
            # Lower-priority sources only claim items no earlier source produced.
            k = min(opts.content_candidates, n_items)
            content = np.zeros((c, n_items), dtype=bool)
            content[rows, np.argpartition(-affinity, k - 1, axis=1)[:, :k]] = True
            exp_mask, query_of_item = expansion.dense(chunk, n_items)
            for code, mask in (
                (Provenance.QUERY_EXPANSION, exp_mask),
                (Provenance.CONTENT, content),
                (Provenance.POPULAR, np.broadcast_to(is_popular, (c, n_items))),
            ):
                source[(source == 0) & mask] = int(code)
            features = [
                affinity,
                popularity[None, :],
                quality[None, :],
                model_z,
                sid_feature,
                exp_mask,
                intent,
            ]
            score = np.where((source > 0) & available, self.ranker.score(features), -np.inf)
            top = np.argpartition(-score, width - 1, axis=1)[:, :width]
            top_score = np.take_along_axis(score, top, 1)
            order = np.argsort(-top_score, axis=1, kind="stable")
            top = np.take_along_axis(top, order, 1)
            top = np.where(np.isfinite(np.take_along_axis(top_score, order, 1)), top, -1)
            ci = np.clip(top, 0, None)
            origin = np.where(top >= 0, np.take_along_axis(source, ci, 1), 0).astype(np.int8)
            is_exp = origin == int(Provenance.QUERY_EXPANSION)
            query_of = np.where(is_exp, np.take_along_axis(query_of_item, ci, 1), -1)
            self._finalise_chunk(served, chunk, top, origin, query_of, popular)
            final = np.clip(served.items[chunk], 0, n_items - 1)
            self._served_features[chunk] = np.stack(
                [np.take_along_axis(np.broadcast_to(f, (c, n_items)), final, 1) for f in features],
                axis=2,
            )
            from_content[chunk] = np.take_along_axis(content, final, 1)
        self._served = served
        self.health.record_queries(queries)
        self.health.record_sources(served.origin, from_content)

    def _item_prior_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """Z-scored ``log(1 + recent clicks)`` and click-rate logit, shape ``(n_items,)``."""
        return (
            self._zscore_available(np.log1p(self._clicks)),
            self._zscore_available(self._click_rate_logit()),
        )

    def _click_rate_logit(self) -> np.ndarray:
        """Logit of each item's smoothed click rate among examined feed impressions.

        Zeros while nothing was examined (e.g. after a warm start on real consumptions
        only): there is no click rate to estimate, and a zero prior would give ``-inf``.
        """
        opts = self.options
        if not self._examined.sum() > 0:
            return np.zeros_like(self._examined)
        prior = self._feed_clicks.sum() / max(self._examined.sum(), 1.0)
        rate = (self._feed_clicks + opts.rate_prior * prior) / (self._examined + opts.rate_prior)
        return np.log(rate / (1 - rate + 1e-9))

    def _zscore_available(self, x: np.ndarray) -> np.ndarray:
        """``x`` standardised by its mean and spread over the available items."""
        avail = self.context.catalog.available[: x.shape[0]]
        mean, sd = x[avail].mean(), x[avail].std()
        return (x - mean) / (sd if sd > 0 else 1.0)

    def _query_chooser(self) -> QueryChooser:
        """The query selection of the current model, profiles and query statistics."""
        fitted = self.search.ranker.n_fits > 0
        return QueryChooser(
            self.model, self.content, self._good_queries, self._word_outcomes, self._encode,
            self.options, self._predicted_query_success if fitted else None,
        )  # fmt: skip

    def health_metrics(self) -> dict[str, float]:
        """Generative-model health after the last update (recorded by the run loop)."""
        return self.health.snapshot()


def _carry_features(
    old_items: np.ndarray, old_features: np.ndarray, new_items: np.ndarray
) -> np.ndarray:
    """Re-align served-item features after a list was re-finalised.

    Items still on a user's list keep the features they were ranked with; new filler
    items get NaN features (their feedback is not used to fit the ranker).

    Args:
        old_items: Shape ``(n_users, L0)`` the previous lists.
        old_features: Shape ``(n_users, L0, F)`` their features.
        new_items: Shape ``(n_users, L1)`` the new lists.

    Returns:
        Shape ``(n_users, L1, F)`` float32.
    """
    n_users = old_items.shape[0]
    span = int(max(old_items.max(initial=0), new_items.max(initial=0))) + 2
    rows = np.arange(n_users)[:, None]
    old_keys = (rows * span + old_items + 1).ravel()
    order = np.argsort(old_keys, kind="stable")
    new_keys = (rows * span + new_items + 1).ravel()
    at = np.clip(np.searchsorted(old_keys[order], new_keys), 0, max(old_keys.size - 1, 0))
    out = np.full((*new_items.shape, old_features.shape[2]), np.nan, dtype=np.float32)
    if old_keys.size == 0:
        return out
    hit = (old_keys[order][at] == new_keys) & (new_items.ravel() >= 0)
    flat = old_features.reshape(-1, old_features.shape[2])
    out.reshape(-1, old_features.shape[2])[hit] = flat[order[at[hit]]]
    return out


def _variant(name: str, **defaults: Any) -> type[OneFeedPolicy]:
    # Named as its module attribute below (e.g. OneFeedNoQuery), so that pickle finds
    # the class: checkpoints and the workers of sharded runs carry bound policies.
    cls_name = "OneFeed" + name.removeprefix("onefeed").title().replace("-", "")
    cls = type(cls_name, (OneFeedPolicy,), {"variant": defaults, "__module__": __name__})
    cls.__doc__ = f"OneFeed ablation {name!r}: defaults {defaults}."
    return register_policy(name)(cls)


register_policy("onefeed")(OneFeedPolicy)
OneFeedNoQuery = _variant("onefeed-no-query", use_queries=False, model={"query_weight": 0.0})
OneFeedNoAlign = _variant("onefeed-no-align", model={"align_weight": 0.0})
OneFeedFrozen = _variant("onefeed-frozen", self_enhance=False, freeze_scaffolding=True)
OneFeedFrozenModel = _variant("onefeed-frozen-model", self_enhance=False)
OneFeedNoModel = _variant("onefeed-no-model", use_model=False)
