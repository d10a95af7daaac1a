"""Per-episode metrics: pure functions of one episode's event log (plus ground truth).

Each metric is registered with :func:`metric` and computed by :func:`compute_metrics`
from the episode's log slice (columns of :data:`sim.events.EVENT_SCHEMA`) and a
:class:`MetricContext` (population size, available items and, for drift metrics, the
simulator's ground-truth snapshots, which policies never see). A metric whose
denominator is zero returns ``NaN``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from experiments.metric_common import share_of_queries_with
from experiments.metric_history import MetricHistory

__all__ = [
    "MetricContext",
    "available_metrics",
    "compute_metrics",
    "metric",
    "metric_doc",
    "tidy_metrics",
]

MetricFn = Callable[[pd.DataFrame, "MetricContext"], float]
_REGISTRY: dict[str, MetricFn] = {}


@dataclass(frozen=True)
class MetricContext:
    """What a metric may know besides the log.

    Attributes:
        episode: Index of the episode being measured.
        n_users: Population size (users ``0 .. n_users - 1``), active or not.
        n_items_available: Items that could be served at the end of the episode.
        interests_initial: Shape ``(n_users, n_topics)`` interests before episode 0,
            rows are topic distributions; ``None`` if not recorded.
        interests: Shape ``(n_users, n_topics)`` interests at the end of the episode;
            ``None`` if not recorded.
        interests_previous: Shape ``(n_users, n_topics)`` interests at the start of the
            episode (the previous snapshot; the initial one for episode 0).
        drift_endogenous: Shape ``(n_users, n_topics)`` cumulative consumption-driven
            change of the interests at the end of the episode.
        drift_exogenous: Same for the exogenous random walk.
        item_topics: Shape ``(n_items, n_topics)`` latent item topics (ground truth).
        item_quality: Shape ``(n_items,)`` latent item quality (ground truth).
        utility_weights: ``(affinity_weight, quality_weight)`` of the choice model.
        history: Summaries of the past episodes
            (:class:`experiments.metric_history.MetricHistory`).
    """

    episode: int
    n_users: int
    n_items_available: int
    interests_initial: np.ndarray | None = None
    interests: np.ndarray | None = None
    interests_previous: np.ndarray | None = None
    drift_endogenous: np.ndarray | None = None
    drift_exogenous: np.ndarray | None = None
    item_topics: np.ndarray | None = None
    item_quality: np.ndarray | None = None
    utility_weights: tuple[float, float] | None = None
    history: MetricHistory | None = None


def metric(name: str) -> Callable[[MetricFn], MetricFn]:
    """Register ``fn(events, context) -> float`` as metric ``name``.

    Raises:
        ValueError: If ``name`` is already registered.
    """

    def decorate(fn: MetricFn) -> MetricFn:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return decorate


def available_metrics() -> list[str]:
    """Sorted names of every registered metric."""
    return sorted(_REGISTRY)


def metric_doc(name: str) -> str:
    """First line of a metric's docstring (its one-line definition)."""
    doc = _REGISTRY[name].__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")


def _is(events: pd.DataFrame, name: str) -> pd.Series:
    # Compares a categorical column without converting 10^5 rows to strings.
    return (events["event"] == name).to_numpy(dtype=bool, na_value=False)


def _n_sessions(events: pd.DataFrame) -> int:
    return int(events["session_id"].nunique())


@metric("ctr")
def ctr(events: pd.DataFrame, context: MetricContext) -> float:
    """Feed click-through rate: feed clicks / feed impressions."""
    return _ratio(_is(events, "click").sum(), _is(events, "impression").sum())


@metric("dwell_per_session_s")
def dwell_per_session_s(events: pd.DataFrame, context: MetricContext) -> float:
    """Seconds of dwell on clicked items (feed and search) per session in the episode."""
    clicked = _is(events, "click") | _is(events, "search_click")
    dwell_s = events.loc[clicked, "dwell_s"].astype(np.float64)
    return _ratio(float(np.nansum(dwell_s.to_numpy())), _n_sessions(events))


@metric("sessions_per_user")
def sessions_per_user(events: pd.DataFrame, context: MetricContext) -> float:
    """Sessions in the episode / users in the population (inactive users included)."""
    return _ratio(_n_sessions(events), context.n_users)


@metric("search_share")
def search_share(events: pd.DataFrame, context: MetricContext) -> float:
    """Share of sessions with at least one query: sessions with a query / sessions."""
    with_query = events.loc[_is(events, "query"), "session_id"].nunique()
    return _ratio(with_query, _n_sessions(events))


@metric("query_success_rate")
def query_success_rate(events: pd.DataFrame, context: MetricContext) -> float:
    """Queries followed by a search click with the same query_id / queries."""
    return share_of_queries_with(events, "query", "search_click")


@metric("catalog_coverage")
def catalog_coverage(events: pd.DataFrame, context: MetricContext) -> float:
    """Distinct items shown in the feed (impressions) / items available."""
    items = events.loc[_is(events, "impression"), "item_id"]
    return _ratio(items[items >= 0].nunique(), context.n_items_available)


@metric("impression_gini")
def impression_gini(events: pd.DataFrame, context: MetricContext) -> float:
    """Gini coefficient of feed impressions over available items (0 even, →1 concentrated).

    Items never shown count as zeros; the Gini of sorted counts ``x_1 ≤ … ≤ x_n`` is
    ``Σ (2i − n − 1) x_i / (n Σ x_i)``.
    """
    items = events.loc[_is(events, "impression"), "item_id"].to_numpy()
    items = items[items >= 0]
    n = max(context.n_items_available, int(np.unique(items).shape[0]))
    if n == 0 or items.shape[0] == 0:
        return float("nan")
    counts = np.zeros(n, dtype=np.float64)
    _, per_item = np.unique(items, return_counts=True)
    counts[: per_item.shape[0]] = per_item
    counts.sort()
    i = np.arange(1, n + 1, dtype=np.float64)
    return float(((2 * i - n - 1) * counts).sum() / (n * counts.sum()))


@metric("interest_drift")
def interest_drift(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over users of the total-variation distance of interests from the initial ones.

    TV(p, q) = ½ Σ_topics |p − q|, in [0, 1], from the ground-truth snapshots.
    """
    if context.interests is None or context.interests_initial is None:
        return float("nan")
    now = np.asarray(context.interests, dtype=np.float64)
    start = np.asarray(context.interests_initial, dtype=np.float64)
    return float((0.5 * np.abs(now - start).sum(axis=1)).mean())


@metric("interest_entropy_nats")
def interest_entropy_nats(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over users of the Shannon entropy (nats) of their interest distribution."""
    if context.interests is None:
        return float("nan")
    p = np.asarray(context.interests, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return float(terms.sum(axis=1).mean())


def compute_metrics(
    events: pd.DataFrame, context: MetricContext, names: Iterable[str] | None = None
) -> dict[str, float]:
    """Compute the named metrics (all registered ones by default) for one episode.

    Args:
        events: One episode's log (columns of ``sim.events.EVENT_SCHEMA``).
        context: Population, catalogue and ground-truth context.
        names: Metric names; ``None`` means every registered metric.

    Returns:
        ``{metric name: value}`` in the order of ``names``.
    """
    selected = available_metrics() if names is None else list(names)
    return {name: float(_REGISTRY[name](events, context)) for name in selected}


def tidy_metrics(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Stack per-episode ``{"episode": e, metric: value, ...}`` dicts into a tidy table.

    Returns:
        Columns ``episode`` (int32), ``metric`` (str), ``value`` (float64), sorted by
        episode then metric.
    """
    records = [
        (int(row["episode"]), name, float(value))
        for row in rows
        for name, value in row.items()
        if name != "episode"
    ]
    table = pd.DataFrame(records, columns=["episode", "metric", "value"])
    table["episode"] = table["episode"].astype(np.int32)
    table["value"] = table["value"].astype(np.float64)
    return table.sort_values(["episode", "metric"], kind="stable").reset_index(drop=True)


# The metric families register themselves on import; they need the registry above.
from experiments import (  # noqa: E402, F401
    metric_engagement,
    metric_feedback,
    metric_popularity,
    metric_search,
)
