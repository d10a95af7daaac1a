"""Engagement metrics: how much users click, browse and come back.

Registered here (family ``engagement``): ``ctr``, ``dwell_per_session_s``,
``sessions_per_user``, ``clicks_per_session``, ``session_depth``, ``return_gap_h`` and
``retention``. Definitions with units and directions: ``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.metrics.common import clicked_mask, is_event, ratio, session_count
from experiments.metrics.registry import MetricContext, metric

__all__ = [
    "FAMILY",
    "clicks_per_session",
    "ctr",
    "dwell_per_session_s",
    "page_keys",
    "retention",
    "return_gap_h",
    "return_gaps_s",
    "session_depth",
    "sessions_per_user",
]

FAMILY = "engagement"
SECONDS_PER_HOUR = 3600.0


@metric("ctr", FAMILY, unit="ratio")
def ctr(events: pd.DataFrame, context: MetricContext) -> float:
    """Feed click-through rate: feed clicks / feed impressions."""
    return ratio(is_event(events, "click").sum(), is_event(events, "impression").sum())


@metric("dwell_per_session_s", FAMILY)
def dwell_per_session_s(events: pd.DataFrame, context: MetricContext) -> float:
    """Seconds of dwell on clicked items (feed and search) per session in the episode."""
    clicked = is_event(events, "click") | is_event(events, "search_click")
    dwell_s = events.loc[clicked, "dwell_s"].astype(np.float64)
    return ratio(float(np.nansum(dwell_s.to_numpy())), session_count(events))


@metric("sessions_per_user", FAMILY, unit="sessions")
def sessions_per_user(events: pd.DataFrame, context: MetricContext) -> float:
    """Sessions in the episode / users in the population (inactive users included)."""
    return ratio(session_count(events), context.n_users)


def page_keys(events: pd.DataFrame) -> pd.DataFrame:
    """One row per served feed page: its ``session_id``, ``user_id`` and ``time_s``.

    A page is the set of IMPRESSION rows of one session stamped with one time (the
    simulator stamps a slate's impressions with the time it was served).
    """
    shown = events.loc[is_event(events, "impression"), ["session_id", "user_id", "time_s"]]
    return shown.drop_duplicates(["session_id", "time_s"])


@metric("clicks_per_session", FAMILY, unit="clicks")
def clicks_per_session(events: pd.DataFrame, context: MetricContext) -> float:
    """Clicks (feed + search) per session in the episode."""
    return ratio(clicked_mask(events).sum(), session_count(events))


@metric("session_depth", FAMILY, unit="pages")
def session_depth(events: pd.DataFrame, context: MetricContext) -> float:
    """Feed pages served per session: distinct (session, impression time) / sessions."""
    return ratio(len(page_keys(events)), session_count(events))


def return_gaps_s(events: pd.DataFrame, last_end_s: np.ndarray | None) -> pd.DataFrame:
    """Gaps between a user's sessions that *start* in the episode and their previous end.

    The previous session may lie in an earlier episode (``last_end_s``); a user's first
    session ever has no gap.

    Args:
        events: One episode's log.
        last_end_s: Shape ``(n_users,)`` last session end before the episode
            (``NaN``: none), or ``None``.

    Returns:
        Columns ``user_id, gap_s``.
    """
    keep = is_event(events, "session_start") | is_event(events, "session_end")
    rows = events.loc[keep, ["user_id", "time_s", "event"]].copy()
    rows["start"] = (rows["event"] == "session_start").to_numpy(dtype=bool)
    rows = rows.sort_values(["user_id", "time_s", "start"], kind="stable")
    if rows.empty:
        return pd.DataFrame({"user_id": np.zeros(0, np.int64), "gap_s": np.zeros(0)})
    users = rows["user_id"].to_numpy(dtype=np.int64)
    times = rows["time_s"].to_numpy(dtype=np.float64)
    start = rows["start"].to_numpy(dtype=bool)
    prev_end = np.full(len(rows), np.nan)
    same_user = np.r_[False, users[1:] == users[:-1]]
    after_end = np.r_[False, ~start[:-1]]
    inner = same_user & after_end
    prev_end[inner] = np.r_[np.nan, times[:-1]][inner]
    first = ~same_user
    if last_end_s is not None:
        prev_end[first] = np.asarray(last_end_s, np.float64)[users[first]]
    gap = times - prev_end
    ok = start & np.isfinite(gap)
    return pd.DataFrame({"user_id": users[ok], "gap_s": np.maximum(gap[ok], 0.0)})


@metric("return_gap_h", FAMILY)
def return_gap_h(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean hours from a user's previous session end to each session start in the episode."""
    history = context.history
    gaps = return_gaps_s(events, None if history is None else history.last_session_end_s)
    if gaps.empty:
        return float("nan")
    return float(gaps["gap_s"].mean() / SECONDS_PER_HOUR)


@metric("retention", FAMILY, unit="ratio")
def retention(events: pd.DataFrame, context: MetricContext) -> float:
    """Share of users active in episode e − 1 who are active again in e (NaN at e = 0)."""
    history = context.history
    if history is None or history.previous_active is None:
        return float("nan")
    active = np.unique(events["user_id"].to_numpy(dtype=np.int64))
    return ratio(np.isin(history.previous_active, active).sum(), len(history.previous_active))
