"""The OneFeed policy in the closed loop, and its registered ablations.

Per episode (the policy sees feedback only between episodes):

1. ``update(log)``: fold the episode into every user's behaviour sequence; the first
   time, fit the model (semantic IDs, encoder, both heads, alignment) on what has been
   logged; afterwards run a self-enhancement round on the feedback to the model's own
   outputs (warm start), and every ``rebuild_sids_every`` episodes rebuild the semantic
   IDs by refitting, logging the SID stability across the rebuild.
2. Prepare, for every user, a ranked candidate list: constrained SID beam search
   ∪ items retrieved by the user's generated queries through the world's search engine
   (search-based candidate expansion), scored by the model's ranking stage; the
   generated queries double as suggested searches.
3. ``recommend``: serve each request the next ``slate_size`` items of its user's list
   (a per-user cursor, so successive pages and sessions move down the list).
4. ``rank_search``: re-rank the engine's candidates with the shared user state.

Ablations: ``onefeed-no-query`` (SID head only: no expansion, no suggestions),
``onefeed-no-align`` (alignment loss off), ``onefeed-frozen`` (fitted once on the
first logged episode(s), never updated; it still reads users' new behaviour).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from onefeed import OneFeedConfig, OneFeedModel
from onefeed.encoder import item_vectors
from onefeed.losses import log_softmax
from onefeed.ranking import transition_feature
from policies.base import Policy, PolicyContext
from policies.onefeed_health import HealthTracker
from policies.onefeed_logs import ServedLists, UserHistories, feedback_log
from policies.registry import register_policy
from sim.events import Provenance
from sim.types import CatalogView, FeedBatch, FeedResponse, SearchBatch, SuggestBatch

__all__ = ["OneFeedPolicy", "OneFeedPolicyConfig"]

_GENERATED = ("retrieval", "search_expansion")


@dataclass(frozen=True)
class OneFeedPolicyConfig:
    """Options of the OneFeed policy (scenario ``policy.params``).

    Attributes:
        use_queries: Generate queries for candidate expansion and suggestions.
        self_enhance: Retrain on the feedback after every episode (False: frozen).
        rebuild_sids_every: Refit (new semantic IDs) every N episodes; 0 = never.
        min_fit_clicks: Positive events needed before the first fit.
        n_queries: Generated queries per user.
        expansion_per_query: Search results kept per generated query.
        beam: SID candidates per user.
        list_len: Length of each user's prepared list (then it wraps around).
        history_len: Behaviour events kept per user.
        long_dwell_s: Clicks with at least this dwell count as long dwell.
        fit_epochs: Epochs of the first fit.
        enhance_epochs: Epochs of each self-enhancement round.
        search_model_weight: Weight of the model score against the BM25 score in
            ``rank_search`` (both standardised per query).
        model: Overrides of :class:`onefeed.OneFeedConfig` fields.
    """

    use_queries: bool = True
    self_enhance: bool = True
    rebuild_sids_every: int = 0
    min_fit_clicks: int = 50
    n_queries: int = 2
    expansion_per_query: int = 10
    beam: int = 40
    list_len: int = 200
    history_len: int = 50
    long_dwell_s: float = 60.0
    fit_epochs: int = 6
    enhance_epochs: int = 2
    search_model_weight: float = 0.5
    model: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = {
            "rebuild_sids_every": self.rebuild_sids_every >= 0,
            "min_fit_clicks": self.min_fit_clicks >= 1,
            "n_queries": self.n_queries >= 1,
            "expansion_per_query": self.expansion_per_query >= 1,
            "beam": self.beam >= 1,
            "list_len": self.list_len >= 1,
            "history_len": self.history_len >= 1,
            "fit_epochs": self.fit_epochs >= 1,
            "enhance_epochs": self.enhance_epochs >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"onefeed policy: out-of-range option(s): {', '.join(bad)}")
        known = {f.name for f in fields(OneFeedConfig)}
        unknown = sorted(set(self.model) - known)
        if unknown:
            raise ValueError(f"onefeed policy: unknown model option(s): {', '.join(unknown)}")


#: Model sizes for simulated catalogues (thousands of items, sparse feedback): smaller
#: than the replay bench's, so that a retraining round takes seconds.
SIM_MODEL_DEFAULTS: dict[str, Any] = {
    "levels": 3,
    "dim": 32,
    "hidden": 64,
    "text_dim": 32,
    "collab_dim": 16,
    "max_len": 20,
}


def auto_codebook_size(n_items: int, levels: int) -> int:
    """Smallest power of two ``K`` with ``K**levels >= 2 * n_items`` (4 .. 256).

    The residual quantiser then has room for every item without collapsing the last
    levels (a 256-entry codebook over 2,000 items leaves most codes unused).
    """
    size = 4
    while size < 256 and size**levels < 2 * n_items:
        size *= 2
    return size


class OneFeedPolicy(Policy):
    """OneFeed serving the feed and the search page (see the module docstring).

    Args:
        **options: Fields of :class:`OneFeedPolicyConfig`.
    """

    #: Defaults of this registered variant (ablations override them).
    variant: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        merged = {**self.variant, **options}
        model_opts = {**self.variant.get("model", {}), **options.get("model", {})}
        self.options = OneFeedPolicyConfig(**{**merged, "model": model_opts})
        self.model: OneFeedModel | None = None
        self.health = HealthTracker()
        self._episodes_seen = 0
        self._served: ServedLists | None = None

    # ------------------------------------------------------------------ binding
    def bind(self, context: PolicyContext) -> None:  # noqa: D102
        super().bind(context)
        opts = self.options
        self.histories = UserHistories(context.n_users, opts.history_len, 4)
        self._clicks = np.zeros(context.catalog.n_items)
        self._tiebreak = context.rng.random(context.catalog.n_items)
        self._cursor = np.zeros(context.n_users, dtype=np.int64)
        self._fallback_lists()

    def on_catalog_change(self, catalog: CatalogView) -> None:  # noqa: D102
        super().on_catalog_change(catalog)
        extra = catalog.n_items - self._clicks.shape[0]
        if extra > 0:
            self._clicks = np.pad(self._clicks, (0, extra))
            self._tiebreak = np.concatenate([self._tiebreak, self.context.rng.random(extra)])
        if self._served is not None:
            s = self._served
            self._served = self._finalise(
                s.items, s.origin, s.query_of_item, s.queries, s.histories
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
        items, to exactly ``min(list_len, n_available)`` entries per user.
        """
        popular = self._popular()
        length = min(self.options.list_len, popular.shape[0])
        available = self.context.catalog.available
        n_users = self.context.n_users
        out_items = np.empty((n_users, length), dtype=np.int64)
        out_origin = np.full((n_users, length), int(Provenance.UNKNOWN), dtype=np.int8)
        out_query = np.full((n_users, length), -1, dtype=np.int64)
        for user in range(n_users):
            row = items[user]
            ok = (row >= 0) & (row < available.shape[0])
            ok[ok] &= available[row[ok]]
            ok &= ~np.isin(row, histories[user].items)
            cols = np.flatnonzero(ok)
            _, first = np.unique(row[cols], return_index=True)
            cols = cols[np.sort(first)][:length]
            n_model = cols.shape[0]
            out_items[user, :n_model] = row[cols]
            out_origin[user, :n_model] = origin[user, cols]
            out_query[user, :n_model] = query_of[user, cols]
            if n_model < length:
                fill = popular[~np.isin(popular, row[cols])][: length - n_model]
                if fill.shape[0] < length - n_model:  # the user saw nearly everything
                    fill = popular[~np.isin(popular, row[cols], assume_unique=True)]
                out_items[user, n_model:] = fill[: length - n_model]
        return ServedLists(out_items, out_origin, out_query, queries, histories)

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
        if self.model is None or len(batch) == 0:
            return batch.candidates
        cand = batch.candidates
        known = (cand >= 0) & (cand < self._item_vecs.shape[0])
        states = self._states[batch.user_ids.astype(np.int64)]
        vecs = self._item_vecs[np.clip(cand, 0, self._item_vecs.shape[0] - 1)]
        model = np.einsum("nd,nkd->nk", states, vecs)
        bm25 = np.where(cand >= 0, batch.scores, np.nan)
        model = np.where(known, model, np.nan)
        score = _standardise(bm25) + self.options.search_model_weight * np.nan_to_num(
            _standardise(model)
        )
        score = np.where(cand >= 0, score, -np.inf)
        order = np.argsort(-score, axis=1, kind="stable")
        return np.take_along_axis(cand, order, axis=1)

    # ----------------------------------------------------------------- learning
    def update(self, events: pd.DataFrame) -> None:  # noqa: D102
        opts = self.options
        kind = events["event"].astype(str)
        clicked = events.loc[kind.isin(["click", "search_click"]), "item_id"].to_numpy()
        np.add.at(self._clicks, clicked[(clicked >= 0) & (clicked < self._clicks.size)], 1.0)
        encode = None if self.model is None else self.model.vocab.encode
        feedback = None
        if self.model is not None and self._served is not None and opts.self_enhance:
            feedback = feedback_log(
                events, self._served, encode, self.model.config.max_query_words,
                opts.long_dwell_s, _GENERATED,
            )  # fmt: skip
        self.histories.add_episode(events, encode, opts.long_dwell_s)
        self._episodes_seen += 1
        sequences = self.histories.sequences
        if self.model is None:
            if sum(len(s.positive_items()) for s in sequences) >= opts.min_fit_clicks:
                self._fit(sequences, stage="fit")
        elif opts.rebuild_sids_every and self._episodes_seen % opts.rebuild_sids_every == 0:
            if opts.self_enhance:
                old_codes = self.model.sids.codes.copy()
                self._fit(sequences, stage="rebuild")
                self.health.record_rebuild(old_codes, self.model.sids.codes)
        elif feedback is not None:
            active = [s for s in sequences if len(s.positive_items())]
            self.model.self_enhance(feedback, replay=active, epochs=opts.enhance_epochs)
            self.health.record_labels(feedback, self.model.sids.codes)
        self._cursor[:] = 0
        if self.model is None:
            self._fallback_lists()
        else:
            self._prepare_lists()

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
        """Candidate generation, expansion and ranking for every user (vectorised)."""
        model, opts = self.model, self.options
        assert model is not None
        n_users, n_model_items = self.context.n_users, model.n_items
        histories = list(self.histories.sequences)
        self._item_vecs = item_vectors(model.params, model.sids.codes)
        self._states = model.user_states(histories)
        lp_all = log_softmax(self._states @ self._item_vecs.T + model.params["rank.bias"])
        sid_items, feats = model.candidate_features(histories, opts.beam, exclude_history=True)
        n_exp = opts.n_queries * opts.expansion_per_query if opts.use_queries else 0
        queries: list[list[str]] = [[] for _ in range(n_users)]
        exp_items = np.full((n_users, n_exp), -1, dtype=np.int64)
        exp_query = np.full((n_users, n_exp), -1, dtype=np.int64)
        if opts.use_queries:
            queries = [
                [q for q in row if q] for row in model.generate_queries(histories, opts.n_queries)
            ]
            flat = [q for row in queries for q in row]
            owner = np.repeat(np.arange(n_users), [len(row) for row in queries])
            index_in_row = np.concatenate([np.arange(len(row)) for row in queries] or [np.zeros(0)])
            if flat:
                found, _ = self.context.search.search(flat, opts.expansion_per_query)
                for r, (user, qi) in enumerate(
                    zip(owner.tolist(), index_in_row.tolist(), strict=True)
                ):
                    cols = slice(
                        int(qi) * opts.expansion_per_query, (int(qi) + 1) * opts.expansion_per_query
                    )
                    exp_items[user, cols] = found[r]
                    exp_query[user, cols] = int(qi)
        # Ranking stage over the union: SID candidates keep their blended score; an
        # expansion item the beam did not generate gets the beam's lowest SID
        # log-probability (its own is at most that) with its own rank/transition features.
        items = np.concatenate([sid_items, exp_items], axis=1)
        in_model = (items >= 0) & (items < n_model_items)
        ci = np.clip(items, 0, n_model_items - 1)
        rank_f = np.where(in_model, np.take_along_axis(lp_all, ci, axis=1), lp_all.min())
        trans_f = transition_feature(
            model.trans, [s.positive_items() for s in histories], ci, model.config.trans_decay
        )
        sid_floor = np.where(sid_items >= 0, feats["sid"], np.inf).min(axis=1, keepdims=True)
        sid_floor = np.where(np.isfinite(sid_floor), sid_floor, 0.0)
        sid_f = np.concatenate([feats["sid"], np.broadcast_to(sid_floor, exp_items.shape)], axis=1)
        score = model.blend(items, {"sid": sid_f, "rank": rank_f, "trans": trans_f})
        origin_code = np.concatenate([
            np.full(sid_items.shape, int(Provenance.RETRIEVAL), np.int8),
            np.full(exp_items.shape, int(Provenance.SEARCH_EXPANSION), np.int8),
        ], axis=1)  # fmt: skip
        query_of = np.concatenate([np.full(sid_items.shape, -1, np.int64), exp_query], axis=1)
        order = np.argsort(-np.where(items >= 0, score, -np.inf), axis=1, kind="stable")
        take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
        self._served = self._finalise(
            take(items), take(origin_code), take(query_of), queries, histories
        )
        self.health.record_queries(queries)

    def health_metrics(self) -> dict[str, float]:
        """Generative-model health after the last update (recorded by the run loop)."""
        return self.health.snapshot()


def _standardise(x: np.ndarray) -> np.ndarray:
    """Per-row z-scores over the finite entries (NaN stays NaN; no spread gives 0)."""
    ok = np.isfinite(x)
    count = np.maximum(ok.sum(axis=1, keepdims=True), 1)
    filled = np.where(ok, x, 0.0)
    mean = filled.sum(axis=1, keepdims=True) / count
    var = (np.where(ok, x - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count
    sd = np.sqrt(var)
    return np.where(ok, (filled - mean) / np.where(sd > 0, sd, 1.0), np.nan)


def _variant(name: str, **defaults: Any) -> type[OneFeedPolicy]:
    cls = type(name.title().replace("-", ""), (OneFeedPolicy,), {"variant": defaults})
    cls.__doc__ = f"OneFeed ablation {name!r}: defaults {defaults}."
    return register_policy(name)(cls)


register_policy("onefeed")(OneFeedPolicy)
OneFeedNoQuery = _variant("onefeed-no-query", use_queries=False, model={"query_weight": 0.0})
OneFeedNoAlign = _variant("onefeed-no-align", model={"align_weight": 0.0})
OneFeedFrozen = _variant("onefeed-frozen", self_enhance=False)
