"""Search metrics: how users search, and what the policy's generated queries achieve.

Registered here (family ``search``): ``search_share``, ``query_success_rate``,
``reformulation_rate``, ``abandonment_rate``, ``suggestion_ctr``, ``query_hit_rate`` and
``search_expansion_click_share``. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.metrics.common import is_event, ratio, session_count, share_of_queries_with
from experiments.metrics.registry import MetricContext, metric

__all__ = [
    "FAMILY",
    "abandonment_rate",
    "query_hit_rate",
    "query_success_rate",
    "reformulated_queries",
    "reformulation_rate",
    "search_expansion_click_share",
    "search_share",
    "suggestion_ctr",
]


FAMILY = "search"


#: Logged names of the query-expansion provenance (its name before issue 12 too).
EXPANSION_ORIGINS = ("query_expansion", "search_expansion")


@metric("search_share", FAMILY, unit="ratio")
def search_share(events: pd.DataFrame, context: MetricContext) -> float:
    """Share of sessions with at least one query: sessions with a query / sessions."""
    with_query = events.loc[is_event(events, "query"), "session_id"].nunique()
    return ratio(with_query, session_count(events))


@metric("query_success_rate", FAMILY, unit="ratio")
def query_success_rate(events: pd.DataFrame, context: MetricContext) -> float:
    """Queries followed by a search click with the same query_id / queries."""
    return share_of_queries_with(events, "query", "search_click")


def reformulated_queries(events: pd.DataFrame) -> np.ndarray:
    """``query_id`` of every query the user reformulated.

    A query is reformulated when the next row of its session (in time order, append
    order on ties), skipping its own search impressions, is another QUERY — no click,
    no abandonment and no feed page in between.

    Returns:
        Shape ``(n,)`` int64 query ids.
    """
    keep = ~is_event(events, "search_impression")
    rows = events.loc[keep, ["session_id", "time_s", "event", "query_id"]]
    rows = rows.sort_values(["session_id", "time_s"], kind="stable")
    session = rows["session_id"].to_numpy()
    qid = rows["query_id"].to_numpy(dtype=np.int64)
    is_query = is_event(rows, "query")
    nxt_query = np.r_[is_query[1:], False]
    nxt_same = np.r_[session[1:] == session[:-1], False]
    nxt_qid = np.r_[qid[1:], -1]
    return qid[is_query & nxt_query & nxt_same & (nxt_qid != qid)]


@metric("reformulation_rate", FAMILY, unit="ratio")
def reformulation_rate(events: pd.DataFrame, context: MetricContext) -> float:
    """Queries immediately followed by another query in the session / queries."""
    n_queries = events.loc[is_event(events, "query"), "query_id"].nunique()
    return ratio(np.unique(reformulated_queries(events)).shape[0], n_queries)


@metric("abandonment_rate", FAMILY, unit="ratio")
def abandonment_rate(events: pd.DataFrame, context: MetricContext) -> float:
    """Queries with a QUERY_ABANDON row / queries."""
    return share_of_queries_with(events, "query", "query_abandon")


@metric("suggestion_ctr", FAMILY, unit="ratio")
def suggestion_ctr(events: pd.DataFrame, context: MetricContext) -> float:
    """Suggested-query click-through rate: suggestion_click / suggestion_shown rows."""
    return ratio(
        is_event(events, "suggestion_click").sum(), is_event(events, "suggestion_shown").sum()
    )


@metric("query_hit_rate", FAMILY, unit="ratio")
def query_hit_rate(events: pd.DataFrame, context: MetricContext) -> float:
    """Query-Hit: clicked suggestions whose query got a search click (same query_id) / clicked."""
    return share_of_queries_with(events, "suggestion_click", "search_click")


@metric("search_expansion_click_share", FAMILY, unit="ratio")
def search_expansion_click_share(events: pd.DataFrame, context: MetricContext) -> float:
    """Feed clicks on items with origin query_expansion / feed clicks.

    (Logs written before issue 12 name that origin ``search_expansion``; both count.)
    """
    clicks = is_event(events, "click")
    expanded = events["origin"].isin(EXPANSION_ORIGINS).to_numpy(dtype=bool, na_value=False)
    return ratio((clicks & expanded).sum(), clicks.sum())
