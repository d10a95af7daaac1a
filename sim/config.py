"""Validated, frozen configuration of the simulated world.

``WorldConfig`` is the root. Every field has a default, a description stating its
meaning and unit, and range bounds; a scenario YAML's ``world:`` section maps onto it
(``experiments.scenario.models`` does the loading, ``sim`` never reads files). The behaviour each
field controls is written as an equation in ``docs/user_model.md``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "V1_DEFAULTS",
    "CalibrationTolerances",
    "CatalogConfig",
    "ChoiceConfig",
    "DataSourceConfig",
    "DriftConfig",
    "DwellConfig",
    "FeedConfig",
    "IntentConfig",
    "SatiationConfig",
    "ServingConfig",
    "SessionConfig",
    "SuggestionConfig",
    "UserConfig",
    "WorldConfig",
]

#: The latest world model version, the default of ``WorldConfig.model_version``.
LATEST_MODEL_VERSION = 2

#: Defaults of world model version 1 that differ from version 2's (the field defaults).
#: With ``model_version: 1`` every key listed here that a scenario does not set takes
#: its version-1 value, which reproduces the version-1 behaviour exactly (event logs
#: included); keys set explicitly always win, so a v2 world can switch back one
#: change at a time, and a v1 world can take one v2 change.
V1_DEFAULTS: dict[str, dict[str, Any]] = {
    "catalog": {
        "quality_distribution": "normal",
        "off_topic_share": 0.0,
        "title_synonym_prob": 0.0,
        "brand_vocab_size": 0,
        "brand_prob": 0.0,
    },
    "choice": {"affinity": "cosine", "affinity_weight": 4.0},
    "drift": {"rule": "convex"},
    "suggestions": {"result_quality_weight": 0.0},
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CatalogConfig(_Frozen):
    """The synthetic catalogue: items, topics, quality, titles, new-item arrivals."""

    n_items: int = Field(
        5000, ge=1, le=10_000_000, description="Number of items at the start of the run (items)."
    )
    n_topics: int = Field(20, ge=1, le=1000, description="Number of latent topics (topics).")
    topic_concentration: float = Field(
        0.1,
        gt=0,
        le=100,
        description="Dirichlet concentration of an item's topic vector (dimensionless); "
        "small values make items about one or two topics.",
    )
    quality_distribution: Literal["normal", "lognormal"] = Field(
        "lognormal",
        description="Distribution of item quality (appeal): `normal`, or `lognormal`, a "
        "right-skewed, heavy-tailed draw standardised to the same mean and standard "
        "deviation (a few blockbusters, many middling items) (v1 default `normal`).",
    )
    quality_log_sd: float = Field(
        0.5,
        gt=0,
        le=3,
        description="Shape of the `lognormal` quality: standard deviation of its log "
        "(log units); larger is heavier-tailed (skewness 1.75 at 0.5, 6.2 at 1.0).",
    )
    quality_mean: float = Field(
        0.0, ge=-10, le=10, description="Mean of item quality (utility units)."
    )
    quality_sd: float = Field(
        1.0, ge=0, le=10, description="Standard deviation of item quality (utility units)."
    )
    title_len_min: int = Field(
        3, ge=1, le=50, description="Minimum number of words in a title (words)."
    )
    title_len_max: int = Field(
        8, ge=1, le=50, description="Maximum number of words in a title (words)."
    )
    words_per_topic: int = Field(
        40, ge=2, le=10_000, description="Size of each topic's own vocabulary (words)."
    )
    generic_vocab_size: int = Field(
        60,
        ge=1,
        le=100_000,
        description="Size of the shared generic vocabulary used by every topic (words).",
    )
    generic_word_share: float = Field(
        0.3,
        ge=0,
        lt=1,
        description="Probability that a title word is a generic word rather than a topic "
        "word (probability).",
    )
    word_zipf_exponent: float = Field(
        1.0,
        ge=0,
        le=5,
        description="Zipf exponent of word frequencies within a vocabulary (dimensionless); "
        "0 means uniform.",
    )
    off_topic_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Probability that a topic word of a title comes from a uniformly drawn "
        "topic instead of the item's topic vector: off-topic words (probability) "
        "(v1 default 0).",
    )
    title_synonym_prob: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Probability that a topic word is written in a title as its synonym "
        "(the word users may also type), so one concept has two surface forms "
        "(probability) (v1 default 0: synonyms never occur in titles).",
    )
    brand_vocab_size: int = Field(
        150,
        ge=0,
        le=100_000,
        description="Number of brand-like words: names unrelated to topics, each item "
        "belonging to one brand drawn Zipf-wise (words) (v1 default 0).",
    )
    brand_prob: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Probability that a title starts with its item's brand word "
        "(probability) (v1 default 0).",
    )
    new_items_rate_per_day: float = Field(
        0.0,
        ge=0,
        le=1_000_000,
        description="Poisson rate of new items arriving during the run (items per day).",
    )
    release_interval_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 365,
        description="New items are released in drops at this interval; an item becomes "
        "available at the drop after its creation (hours).",
    )


class UserConfig(_Frozen):
    """The population: interests, activity, search propensity, patience."""

    n_users: int = Field(1000, ge=1, le=100_000_000, description="Number of users (users).")
    interest_concentration: float = Field(
        0.3,
        gt=0,
        le=100,
        description="Dirichlet concentration of a user's interest vector over topics "
        "(dimensionless); small values make narrow interests.",
    )
    session_rate_median_per_day: float = Field(
        2.0,
        gt=0,
        le=1000,
        description="Median of the users' baseline session rate, a log-normal draw "
        "(sessions per day).",
    )
    session_rate_log_sd: float = Field(
        0.7,
        ge=0,
        le=5,
        description="Standard deviation of the log session rate across users (log units).",
    )
    search_propensity_a: float = Field(
        1.0, gt=0, le=1000, description="Beta a of the per-page search propensity (dimensionless)."
    )
    search_propensity_b: float = Field(
        50.0,
        gt=0,
        le=1000,
        description="Beta b of the per-page search propensity (dimensionless); "
        "mean propensity is a / (a + b).",
    )
    patience_a: float = Field(
        6.0,
        gt=0,
        le=1000,
        description="Beta a of patience, the probability of continuing to another page "
        "after a page without a click (dimensionless).",
    )
    patience_b: float = Field(3.0, gt=0, le=1000, description="Beta b of patience (dimensionless).")
    new_user_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of users who are new: they join during the run, their first "
        "session delayed by a uniform time in [0, new_user_arrival_days] (fraction); the "
        "rest are present from the start.",
    )
    new_user_arrival_days: float = Field(
        0.0,
        ge=0,
        le=3650,
        description="New users join uniformly over this many days from the start of the "
        "run (days); 0 with a positive share means they join at once.",
    )


class SessionConfig(_Frozen):
    """Session continuation and retention (how satisfaction changes the return gap)."""

    continue_after_click: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Probability of continuing to another page after a page with a click "
        "(probability); without a click the user's patience applies.",
    )
    max_pages: int = Field(
        20, ge=1, le=10_000, description="Hard cap on feed pages per session (pages)."
    )
    retention_gain: float = Field(
        2.0,
        ge=0,
        le=50,
        description="How strongly the session rate responds to satisfaction: the rate is "
        "multiplied by exp(gain * (satisfaction - reference)) (per unit satisfaction).",
    )
    satisfaction_reference: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Satisfaction (share of pages and queries with a click) at which the "
        "next gap has the baseline rate (fraction).",
    )
    min_gap_s: float = Field(
        60.0, ge=0, le=86_400, description="Minimum gap between two sessions (seconds)."
    )


class FeedConfig(_Frozen):
    """Feed pages: slate size and position bias."""

    slate_size: int = Field(10, ge=1, le=1000, description="Items per feed slate (items).")
    position_bias_exponent: float = Field(
        1.0,
        ge=0,
        le=10,
        description="Examination probability of position p (0-based) is (1 + p)^-exponent "
        "(dimensionless); 0 means every item is examined.",
    )
    scan_s_per_item: float = Field(
        1.5, ge=0, le=600, description="Time to examine one item of a slate (seconds)."
    )


class ChoiceConfig(_Frozen):
    """Multinomial-logit choice among examined items with an explicit no-click option."""

    no_click_logit: float = Field(
        3.0, ge=0, le=50, description="Utility of the no-click option (utility units)."
    )
    affinity: Literal["cosine", "dot"] = Field(
        "dot",
        description="User-item affinity: `dot`, the tempered dot product of interests and "
        "item topics relative to the user's favourite topic (the dominant topic wins), "
        "or `cosine` of the two vectors (a user prefers items whose topic mix resembles "
        "their own) (v1 default `cosine`).",
    )
    affinity_temperature: float = Field(
        1.0,
        gt=0,
        le=100,
        description="Temperature of the `dot` affinity: interests are tempered to "
        "I^(1/T) / sum(I^(1/T)) before the dot product; below 1 sharpens the preference "
        "for the dominant topic, 1 is the plain dot product (dimensionless).",
    )
    affinity_weight: float = Field(
        6.0,
        ge=0,
        le=100,
        description="Weight of user-item affinity (in [0, 1], see `affinity`) in the "
        "utility (utility units per unit affinity) (v1 default 4; the `dot` affinity "
        "spreads less over items than the cosine, so v2 weighs it more).",
    )
    quality_weight: float = Field(
        0.5, ge=0, le=100, description="Weight of item quality in the utility (dimensionless)."
    )
    satiation_weight: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Weight of satiation with the item's topics, subtracted from the "
        "utility (utility units per unit satiation).",
    )
    idiosyncratic_sd: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Standard deviation of each user's idiosyncratic taste for each item, "
        "a normal draw fixed for the run and added to the utility; 0 turns it off "
        "(utility units).",
    )
    conformity_weight: float = Field(
        0.0,
        ge=0,
        le=100,
        description="Weight of an item's observed popularity in the utility: "
        "w * log(1 + n_i), n_i the item's clicks by all users up to the end of the "
        "previous episode, decayed by `conformity_decay` per episode (as a displayed view "
        "count); 0 turns conformity off (utility units per log click).",
    )
    conformity_decay: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Per-episode decay of the observed click counts of the conformity "
        "term (fraction kept per episode).",
    )
    repeat_penalty: float = Field(
        3.0,
        ge=0,
        le=100,
        description="Utility subtracted from an item the user has already consumed (feed or "
        "search click); 0 lets users re-consume freely, a large value makes every item a "
        "one-time consumption (utility units).",
    )


class DwellConfig(_Frozen):
    """Dwell time after a click: log-normal, growing with affinity."""

    base_s: float = Field(
        20.0, gt=0, le=86_400, description="Median dwell at zero affinity and quality (seconds)."
    )
    affinity_gain: float = Field(
        1.5,
        ge=0,
        le=20,
        description="Log-dwell increase per unit affinity (log seconds per unit cosine).",
    )
    quality_gain: float = Field(
        0.2, ge=0, le=20, description="Log-dwell increase per unit quality (log seconds)."
    )
    log_sd: float = Field(
        0.5, ge=0, le=5, description="Standard deviation of log dwell (log seconds)."
    )
    max_s: float = Field(
        3600.0, gt=0, le=86_400, description="Dwell is clipped at this value (seconds)."
    )


class SatiationConfig(_Frozen):
    """Per-topic satiation: rises with consumption, decays exponentially."""

    increment: float = Field(
        0.3,
        ge=0,
        le=100,
        description="Satiation added to each topic per consumed item, times the item's "
        "topic weight (satiation units per click).",
    )
    half_life_days: float = Field(
        0.25, gt=0, le=3650, description="Half-life of satiation recovery (days)."
    )


class DriftConfig(_Frozen):
    """Interest drift: endogenous (towards consumption) plus an exogenous random walk."""

    rule: Literal["convex", "reinforcing"] = Field(
        "reinforcing",
        description="Endogenous drift rule per consumed item: `reinforcing` (RecSim-style: "
        "the log-interests move by +/- rate * topics, upwards with probability equal to "
        "the affinity, so liked topics grow and disliked ones shrink and consumption can "
        "sharpen interests) or `convex` (interests move a fraction `rate` towards the "
        "item's topic vector) (v1 default `convex`).",
    )
    endogenous_rate: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Endogenous drift step per click: the fraction moved towards the item "
        "(`convex`) or the log-interest step per unit topic weight (`reinforcing`) "
        "(fraction or log units per click).",
    )
    exogenous_sd_per_day: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Standard deviation of the exogenous multiplicative random walk: of "
        "the change of each log-interest, per square-root day (log units per sqrt(day)).",
    )
    min_interest: float = Field(
        1e-4,
        gt=0,
        lt=0.01,
        description="Floor applied to interest components before renormalising after a "
        "random-walk step, against underflow (interest units).",
    )


class IntentConfig(_Frozen):
    """Explicit intents, noisy queries, cascade examination, reformulation."""

    enabled: bool = Field(
        True,
        description="Whether users form explicit intents and search at all; false turns "
        "typed search off (suggested queries are set by `suggestions.n_suggestions`).",
    )
    disappointment_gain: float = Field(
        2.0,
        ge=0,
        le=100,
        description="Intent probability per page is propensity * (1 + gain * d), d the "
        "session's share of feed pages without a click (dimensionless).",
    )
    known_item_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Probability that an intent is a specific known item rather than a "
        "topic (probability).",
    )
    query_len_mean: float = Field(
        2.5, ge=1, le=20, description="Mean number of words of a query, 1 + Poisson (words)."
    )
    query_len_max: int = Field(6, ge=1, le=50, description="Maximum words in a query (words).")
    word_dropout: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="Probability that an intended word is left out of the query "
        "(probability); at least one word is kept.",
    )
    generic_word_prob: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Probability that a query word is a generic word (probability).",
    )
    mismatch_prob: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Probability that a query word suffers vocabulary mismatch: a synonym "
        "absent from every title, or a word of another topic (probability).",
    )
    synonym_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of mismatched words that are synonyms (the rest come from a "
        "wrong topic) (fraction).",
    )
    cascade_continue_prob: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Probability of examining the next search result after examining one "
        "without clicking it (probability).",
    )
    cascade_depth: int = Field(
        10, ge=1, le=1000, description="Maximum results examined per query, top-down (results)."
    )
    results_k: int = Field(
        20, ge=1, le=10_000, description="Results retrieved by the engine per query (results)."
    )
    relevance_weight: float = Field(
        4.0,
        ge=0,
        le=100,
        description="Search click logit per unit relevance, relevance being the cosine of "
        "the result's topics and the intent (utility units).",
    )
    relevance_threshold: float = Field(
        5.0,
        ge=0,
        le=100,
        description="Search click logit offset: P(click) = sigmoid(weight * relevance + "
        "quality_weight * quality - threshold) (utility units).",
    )
    known_item_click_prob: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Probability of clicking the known item when it is examined (probability).",
    )
    reformulate_prob: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Probability of reformulating after a query without a click, rather "
        "than abandoning (probability).",
    )
    max_reformulations: int = Field(
        2, ge=0, le=20, description="Maximum reformulations per intent (queries)."
    )
    typing_s_per_word: float = Field(
        2.0, ge=0, le=600, description="Time to type one query word (seconds)."
    )


class SuggestionConfig(_Frozen):
    """Suggested queries shown at session start and how users click them."""

    n_suggestions: int = Field(
        3, ge=0, le=100, description="Maximum suggested queries per session start (queries)."
    )
    base_logit: float = Field(
        -4.0,
        ge=-50,
        le=50,
        description="Click utility of a suggestion matching nothing the user likes "
        "(utility units); the no-click option has utility 0.",
    )
    match_weight: float = Field(
        6.0,
        ge=0,
        le=100,
        description="Click utility per unit match, match being the mean over the query's "
        "words of the user's interest in each word's topic (utility units).",
    )
    result_quality_weight: float = Field(
        4.0,
        ge=0,
        le=100,
        description="Click utility per unit expected result quality: the mean probability "
        "that the user would click each of the engine's first `preview_k` results of the "
        "query for the intent the click would create (utility units) (v1 default 0: "
        "suggestion clicks ignore the results).",
    )
    preview_k: int = Field(
        5,
        ge=1,
        le=100,
        description="Engine results whose quality the user anticipates for a suggestion (results).",
    )


class ServingConfig(_Frozen):
    """The serving batcher: how requests are grouped into policy calls."""

    batch_window_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="Requests arriving in one window of this fixed grid are served together "
        "at its end (simulated seconds; 0: every arrival time at once).",
    )
    max_batch_size: int = Field(
        4096,
        ge=1,
        le=1_000_000,
        description="Most requests in one policy call; a window's requests of one kind are "
        "served in several calls when there are more (requests).",
    )


class CalibrationTolerances(_Frozen):
    """Largest distance between the real and the simulated log for each statistic.

    The calibration report (``onefeed calibrate``) computes each statistic on the real
    log and on a log simulated under the neutral policy, and says whether the distance is
    within its tolerance.
    """

    item_popularity_lorenz: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Largest vertical gap between the item-popularity Lorenz curves "
        "(share of consumption held by the least consumed share of items; a KS-type "
        "distance, fraction).",
    )
    item_popularity_gini: float = Field(
        0.03, ge=0, le=1, description="Absolute difference of the item-popularity Gini."
    )
    user_activity: float = Field(
        0.1,
        ge=0,
        le=1,
        description="KS distance of the users' activity (consumed items per user over "
        "the horizon, the real log's volume being matched), both logs filtered to the real "
        "log's core: users with at least the real log's smallest count.",
    )
    topic_shares: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Jensen-Shannon divergence (base 2) of the topic shares of consumption.",
    )
    repeat_consumption_rate: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Absolute difference of the share of consumptions that repeat an item "
        "the user consumed before.",
    )
    top_topic_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="KS distance of the users' share of consumption in their own "
        "`top_topics` most consumed topics (users with at least 5 consumptions).",
    )


class DataSourceConfig(_Frozen):
    """A world calibrated to a real log: real items and titles, fitted users and appeal.

    The catalogue is the dataset's items (real titles, topics from genres or categories,
    or from a factorisation of the interaction matrix); users' interests, activity and
    the items' appeal are fitted so that the log simulated under a neutral policy
    reproduces the real log's aggregate shape (``docs/user_model.md``, "Calibrated
    worlds"). ``catalog.n_items`` and ``catalog.n_topics`` follow the data (and
    ``users.n_users`` too with ``users: real``).
    """

    dataset: str = Field(
        description="Dataset name, as for `onefeed replay`: `ml-100k`, `beauty`, or "
        "`s3rec:NAME`; files are found in `--data-dir`, `$ONEFEED_DATA` or `../shared/data`."
    )
    users: Literal["real", "sampled"] = Field(
        "real",
        description="`real`: one simulated user per real user; `sampled`: "
        "`users.n_users` users, any number, drawn from the fitted users.",
    )
    topics: Literal["attributes", "factorisation"] = Field(
        "attributes",
        description="Where item topics come from: `attributes` (MovieLens genres; Amazon "
        "Beauty categories two levels below the root, rarer ones merged into their "
        "parent; other S3-Rec files: their `n_factors` most frequent attributes) or "
        "`factorisation` (a non-negative factorisation of the item-user interaction "
        "matrix into `n_factors` topics).",
    )
    n_factors: int = Field(20, ge=2, le=200, description="Topics of the `factorisation` (topics).")
    horizon_days: float = Field(
        14.0,
        gt=0,
        le=3650,
        description="Simulated days over which users make, in expectation, as many "
        "consumptions as in the real log (the session rates are scaled to it) (days).",
    )
    top_topics: int = Field(
        2, ge=1, le=50, description="Topics counted by the `top_topic_share` statistic (topics)."
    )
    fit_seed: int = Field(
        0, ge=0, description="Seed of the fit: its pilot simulations and samples."
    )
    warm_start: bool = Field(
        False,
        description="Update the policy on the real training interactions (each user's "
        "sequence without its last two items) before the first simulated episode.",
    )
    tolerances: CalibrationTolerances = Field(
        default_factory=CalibrationTolerances,
        description="Largest accepted real-versus-simulated distance per statistic.",
    )


class WorldConfig(_Frozen):
    """Root configuration of the simulated world.

    ``model_version`` selects the defaults of the world model (see :data:`V1_DEFAULTS`);
    every version-dependent key can still be set on its own.
    """

    model_version: Literal[1, 2] = Field(
        LATEST_MODEL_VERSION,
        description="World model version whose defaults apply to keys not set: 2 (dot "
        "affinity, reinforcing drift, heavy-tailed appeal, noisy multi-topic titles, "
        "suggestion clicks that anticipate results) or 1 (the behaviour before them, "
        "reproduced exactly).",
    )
    catalog: CatalogConfig = Field(default_factory=CatalogConfig, description="Catalogue.")
    users: UserConfig = Field(default_factory=UserConfig, description="Population.")
    sessions: SessionConfig = Field(
        default_factory=SessionConfig, description="Session continuation and retention."
    )
    feed: FeedConfig = Field(default_factory=FeedConfig, description="Feed pages.")
    choice: ChoiceConfig = Field(default_factory=ChoiceConfig, description="Click choice model.")
    dwell: DwellConfig = Field(default_factory=DwellConfig, description="Dwell time.")
    satiation: SatiationConfig = Field(
        default_factory=SatiationConfig, description="Per-topic satiation."
    )
    drift: DriftConfig = Field(default_factory=DriftConfig, description="Interest drift.")
    intent: IntentConfig = Field(
        default_factory=IntentConfig, description="Explicit intents and search behaviour."
    )
    suggestions: SuggestionConfig = Field(
        default_factory=SuggestionConfig, description="Suggested queries."
    )
    serving: ServingConfig = Field(default_factory=ServingConfig, description="Serving batcher.")
    episode_length_days: float = Field(
        1.0, gt=0, le=365, description="Length of one episode (days)."
    )
    from_data: DataSourceConfig | None = Field(
        None,
        description="Calibrate the world to a real log (real catalogue, fitted users); "
        "absent: a synthetic world.",
    )

    @model_validator(mode="before")
    @classmethod
    def _version_defaults(cls, data: Any) -> Any:
        """Fill the keys a version-1 world does not set with their v1 defaults."""
        if not isinstance(data, dict) or data.get("model_version", LATEST_MODEL_VERSION) != 1:
            return data
        data = dict(data)
        for section, defaults in V1_DEFAULTS.items():
            given = data.get(section, {})
            if isinstance(given, BaseModel):
                explicit = given.model_dump(include=given.model_fields_set)
                data[section] = type(given).model_validate({**defaults, **explicit})
            elif isinstance(given, dict):
                data[section] = {**defaults, **given}
        return data

    @model_validator(mode="after")
    def _check_cross_fields(self) -> WorldConfig:
        cat = self.catalog
        if cat.title_len_min > cat.title_len_max:
            raise ValueError(
                f"catalog.title_len_min ({cat.title_len_min}) must be <= "
                f"catalog.title_len_max ({cat.title_len_max})"
            )
        if self.feed.slate_size > cat.n_items:
            raise ValueError(
                f"feed.slate_size ({self.feed.slate_size}) must be <= catalog.n_items "
                f"({cat.n_items})"
            )
        if self.intent.cascade_depth > self.intent.results_k:
            raise ValueError(
                f"intent.cascade_depth ({self.intent.cascade_depth}) must be <= "
                f"intent.results_k ({self.intent.results_k})"
            )
        return self
