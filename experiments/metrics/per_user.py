"""Per-user metric values and breakdowns by observed user group.

:func:`per_user_metrics` recomputes, from a run directory's files only, one value per
(user, episode, metric) for the metrics that are defined per user. :func:`breakdown`
averages them within user groups defined from the log (never from latent traits):

* ``activity_tercile`` — sessions over the whole run;
* ``search_tercile`` — observed search propensity: the share of the user's sessions
  with a query over the whole run (users without a session are left out).

Terciles split the users sorted by (value, user id) into three near-equal parts
``low``, ``mid``, ``high`` (ties broken by user id, so the split is deterministic).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.metrics.common import clicked_mask, is_event, js_divergence_bits, tv_distance
from experiments.metrics.diversity import calibration_per_user, welfare_per_click
from experiments.metrics.drift import drift_split_per_user
from experiments.metrics.engagement import page_keys
from experiments.metrics.registry import MetricContext
from experiments.metrics.tracker import iter_episode_contexts

__all__ = [
    "GROUPINGS",
    "PER_USER_COLUMNS",
    "breakdown",
    "per_user_episode",
    "per_user_metrics",
    "user_groups",
]

PER_USER_COLUMNS = ["user_id", "episode", "metric", "value"]
GROUPINGS = ("activity_tercile", "search_tercile")
TERCILES = ("low", "mid", "high")


def _count_by_user(events: pd.DataFrame, mask: np.ndarray, unique: str | None = None) -> pd.Series:
    rows = events.loc[mask]
    if unique is None:
        return rows.groupby("user_id").size()
    return rows.groupby("user_id")[unique].nunique()


def per_user_episode(events: pd.DataFrame, context: MetricContext) -> pd.DataFrame:
    """Per-user values of one episode.

    Metrics: ``sessions``, ``searched_sessions`` (sessions with a query),
    ``search_share``, ``clicks_per_session``, ``dwell_per_session_s``, ``ctr``,
    ``session_depth`` (users with a session); ``interest_drift``,
    ``interest_drift_js_bits``, ``interest_drift_endogenous``,
    ``interest_drift_exogenous`` (every user, when truth was recorded);
    ``calibration_kl`` and ``welfare`` (users for whom they are defined).

    Returns:
        Columns ``user_id, episode, metric, value``.
    """
    all_rows = np.ones(len(events), dtype=bool)
    sessions = _count_by_user(events, all_rows, "session_id")
    columns: dict[str, pd.Series] = {"sessions": sessions}
    searched = _count_by_user(events, is_event(events, "query"), "session_id")
    columns["searched_sessions"] = searched.reindex(sessions.index, fill_value=0)
    columns["search_share"] = columns["searched_sessions"] / sessions
    clicks = _count_by_user(events, clicked_mask(events)).reindex(sessions.index, fill_value=0)
    columns["clicks_per_session"] = clicks / sessions
    dwell = events.loc[clicked_mask(events)].groupby("user_id")["dwell_s"].sum()
    columns["dwell_per_session_s"] = dwell.reindex(sessions.index, fill_value=0.0) / sessions
    feed_clicks = _count_by_user(events, is_event(events, "click"))
    shown = _count_by_user(events, is_event(events, "impression"))
    columns["ctr"] = feed_clicks.reindex(shown.index, fill_value=0) / shown
    pages = page_keys(events).groupby("user_id").size()
    columns["session_depth"] = pages.reindex(sessions.index, fill_value=0) / sessions
    if context.interests is not None and context.interests_initial is not None:
        users = pd.RangeIndex(context.n_users, name="user_id")
        columns["interest_drift"] = pd.Series(
            tv_distance(context.interests, context.interests_initial), index=users
        )
        columns["interest_drift_js_bits"] = pd.Series(
            js_divergence_bits(context.interests, context.interests_initial), index=users
        )
        if context.drift_endogenous is not None and context.drift_exogenous is not None:
            _, endo, exo = drift_split_per_user(context.drift_endogenous, context.drift_exogenous)
            columns["interest_drift_endogenous"] = pd.Series(endo, index=users)
            columns["interest_drift_exogenous"] = pd.Series(exo, index=users)
    history = context.history
    if (
        context.item_topics is not None
        and history is not None
        and history.user_topic_clicks is not None
    ):
        columns["calibration_kl"] = calibration_per_user(
            events, history.user_topic_clicks, context.item_topics
        )
    per_click = welfare_per_click(events, context)
    if per_click is not None and not per_click.empty:
        columns["welfare"] = per_click.groupby("user_id")["utility"].mean()
    parts = [
        pd.DataFrame(
            {
                "user_id": series.index.to_numpy(dtype=np.int64),
                "episode": np.int32(context.episode),
                "metric": name,
                "value": series.to_numpy(dtype=np.float64),
            }
        )
        for name, series in columns.items()
        if len(series)
    ]
    if not parts:
        return pd.DataFrame(columns=PER_USER_COLUMNS)
    return pd.concat(parts, ignore_index=True)[PER_USER_COLUMNS]


def per_user_metrics(run_dir: Path) -> pd.DataFrame:
    """Per-user values of every finished episode of a run, from its files only.

    Returns:
        Columns ``user_id, episode, metric, value`` (see :func:`per_user_episode`).
    """
    parts = [per_user_episode(events, ctx) for _, events, ctx in iter_episode_contexts(run_dir)]
    if not parts:
        return pd.DataFrame(columns=PER_USER_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _terciles(values: pd.Series) -> pd.Series:
    order = values.reset_index().sort_values([values.name or 0, "user_id"], kind="stable")
    labels = np.empty(len(order), dtype=object)
    for label, chunk in zip(TERCILES, np.array_split(np.arange(len(order)), 3), strict=True):
        labels[chunk] = label
    return pd.Series(labels, index=order["user_id"].to_numpy(), name="group").sort_index()


def user_groups(per_user: pd.DataFrame, by: str = "activity_tercile") -> pd.Series:
    """Each user's group (``low``, ``mid``, ``high``) under grouping ``by``.

    Raises:
        ValueError: If ``by`` is not one of :data:`GROUPINGS`.
    """
    users = pd.Index(np.unique(per_user["user_id"].to_numpy(dtype=np.int64)), name="user_id")
    totals = per_user.pivot_table(
        index="user_id", columns="metric", values="value", aggfunc="sum"
    ).reindex(users)
    sessions = (totals["sessions"] if "sessions" in totals else pd.Series(0.0, index=users)).fillna(
        0.0
    )
    if by == "activity_tercile":
        return _terciles(sessions.rename("value"))
    if by == "search_tercile":
        searched = totals.get("searched_sessions", pd.Series(0.0, index=users)).fillna(0.0)
        share = (searched / sessions)[sessions > 0]
        return _terciles(share.rename("value"))
    raise ValueError(f"unknown grouping {by!r}; use one of {', '.join(GROUPINGS)}")


def breakdown(per_user: pd.DataFrame, by: str = "activity_tercile") -> pd.DataFrame:
    """Mean of each per-user metric within user groups, per episode.

    Args:
        per_user: Output of :func:`per_user_metrics`.
        by: One of :data:`GROUPINGS`.

    Returns:
        Columns ``group, episode, metric, mean, n_users`` (``n_users`` counts the users
        with a defined value), groups ordered ``low, mid, high``.
    """
    groups = user_groups(per_user, by)
    rows = per_user.assign(group=per_user["user_id"].map(groups)).dropna(subset=["group"])
    rows = rows.dropna(subset=["value"])
    out = rows.groupby(["group", "episode", "metric"])["value"].agg(["mean", "count"]).reset_index()
    out = out.rename(columns={"count": "n_users"})
    out["group"] = pd.Categorical(out["group"], categories=list(TERCILES), ordered=True)
    return out.sort_values(["group", "episode", "metric"], kind="stable").reset_index(drop=True)
