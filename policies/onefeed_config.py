"""Options of the OneFeed policy (scenario ``policy.params``) and its model sizes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from onefeed import OneFeedConfig

__all__ = ["SIM_MODEL_DEFAULTS", "OneFeedPolicyConfig", "auto_codebook_size"]


@dataclass(frozen=True)
class OneFeedPolicyConfig:
    """Options of the OneFeed policy (scenario ``policy.params``).

    Attributes:
        use_model: Use the generative model at all: SID beam candidates, its ranking
            features (state-item score, SID log-probability, aligned intent), the query
            head's queries and the aligned features of the search page. False keeps the
            rest of the serving stack (content and popular candidates, expansion by
            profile-word queries, the learnt rankers, the statistics) without it.
        use_queries: Generate queries for candidate expansion and suggestions.
        self_enhance: Retrain the model on the feedback to its own outputs after every
            episode (False: the model stays as first fitted).
        freeze_scaffolding: After the first fit, also stop learning everything around
            the model: the feed and search rankers, the item, search and query
            statistics (with ``self_enhance`` False: the fully frozen policy).
        rebuild_sids_every: Refit (new semantic IDs) every N episodes; 0 = never.
        min_fit_clicks: Positive events needed before the first fit.
        n_queries: Generated queries per user (suggestions and expansion).
        n_model_queries: Query-head candidates per user (distinct first words).
        n_word_candidates: Profile-word query candidates per user.
        query_align_weight: Weight of the SID-query alignment score of a candidate.
        query_success_weight: Weight of a candidate's expected success (logged
            success rate of queries with its words).
        pair_min_cosine: Two profile words form one query above this group cosine.
        expansion_per_query: Search results kept per generated query.
        beam: SID candidates per user.
        content_candidates: Profile-nearest items added to the candidates.
        popular_candidates: Most popular items added to the candidates.
        list_len: Length of each user's prepared list (then it wraps around).
        history_len: Behaviour events kept per user.
        long_dwell_s: Clicks with at least this dwell count as long dwell.
        fit_epochs: Epochs of the first fit.
        enhance_epochs: Epochs of each self-enhancement round.
        enhance_budget: Approximate feedback examples per self-enhancement round.
        negatives_per_user: Skipped items kept per user in a round.
        replay_users: Sampled users whose sequences are replayed in a round.
        content_weight: Ranking weight of the title-profile cosine.
        pop_weight: Ranking weight of the item prior.
        model_weight: Ranking weight of the model's state-item score.
        sid_weight: Ranking weight of the SID log-probability of beam items.
        expansion_weight: Ranking bonus of search-expansion items.
        intent_weight: Ranking weight of the aligned cosine between an item's SID and
            the user's generated queries.
        pop_decay: Per-episode decay of the item statistics.
        quality_weight: Weight of the examined click-rate logit in the item prior.
        rate_prior: Pseudo-examinations of the click-rate prior.
        learn_ranker: Refit the feed and search ranking weights on click/skip feedback
            every episode (:class:`~policies.onefeed_ranker.LearnedRanker`); the
            ``*_weight`` ranking options above are then only the feed's starting point.
        ranker_memory: Episodes of examined impressions the ranker is fitted on.
        search_results_k: Engine results per query when the policy predicts a query's
            success (candidate suggestions and expansion queries).
        model: Overrides of :class:`onefeed.OneFeedConfig` fields.
    """

    use_model: bool = True
    use_queries: bool = True
    self_enhance: bool = True
    freeze_scaffolding: bool = False
    rebuild_sids_every: int = 0
    min_fit_clicks: int = 50
    n_queries: int = 3
    n_model_queries: int = 4
    n_word_candidates: int = 6
    query_align_weight: float = 0.5
    query_success_weight: float = 3.0
    pair_min_cosine: float = 0.8
    expansion_per_query: int = 10
    beam: int = 40
    content_candidates: int = 150
    popular_candidates: int = 50
    list_len: int = 200
    history_len: int = 50
    long_dwell_s: float = 60.0
    fit_epochs: int = 3
    enhance_epochs: int = 1
    enhance_budget: int = 1500
    negatives_per_user: int = 3
    replay_users: int = 150
    content_weight: float = 3.0
    pop_weight: float = 0.4
    model_weight: float = 0.3
    sid_weight: float = 0.1
    expansion_weight: float = 0.3
    intent_weight: float = 0.3
    pop_decay: float = 0.7
    quality_weight: float = 0.5
    rate_prior: float = 10.0
    learn_ranker: bool = True
    ranker_memory: int = 3
    search_results_k: int = 20
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
            "n_model_queries": self.n_model_queries >= 1,
            "n_word_candidates": self.n_word_candidates >= 0,
            "content_candidates": self.content_candidates >= 1,
            "popular_candidates": self.popular_candidates >= 0,
            "enhance_budget": self.enhance_budget >= 1,
            "negatives_per_user": self.negatives_per_user >= 0,
            "replay_users": self.replay_users >= 0,
            "pop_decay": 0.0 <= self.pop_decay <= 1.0,
            "ranker_memory": self.ranker_memory >= 1,
            "search_results_k": self.search_results_k >= 1,
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
