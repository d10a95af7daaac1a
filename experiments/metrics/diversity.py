"""What the served slates hold for users: diversity, calibration and welfare.

Registered here (family ``feedback_loop``): ``intra_list_diversity``, ``calibration_kl``
and ``welfare``. Metrics needing latent item topics or ground truth return ``NaN`` when
the context lacks them. The versions relative to the ``oracle`` run are computed from
two runs' values by :func:`relative_to_reference`. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from experiments.metrics.common import (
    clicked_mask,
    group_sum,
    kl_divergence_nats,
    normalise_rows,
)
from experiments.metrics.exposure import feed_impressions
from experiments.metrics.registry import MetricContext, metric
from sim.choice import affinity_pairs

__all__ = [
    "CALIBRATION_ALPHA",
    "FAMILY",
    "calibration_kl",
    "calibration_per_user",
    "intra_list_diversity",
    "relative_to_reference",
    "slate_diversity",
    "welfare",
    "welfare_per_click",
]

FAMILY = "feedback_loop"
#: Smoothing of calibration: the recommended mix is ``(1 − α) q + α p`` (Steck 2018).
CALIBRATION_ALPHA = 0.01


def slate_diversity(events: pd.DataFrame, item_topics: np.ndarray) -> np.ndarray:
    """Intra-list diversity of each served feed slate.

    ILD of a slate of ``n ≥ 2`` items = mean over its ``n (n − 1) / 2`` pairs of
    ``1 − cos(θ_i, θ_j)``. With unit vectors ``u_i`` and ``s = Σ u_i``, the pairwise
    cosines sum to ``(|s|² − n) / 2``, which is how it is computed.

    Args:
        events: One episode's log; a slate is the impressions of one session at one time.
        item_topics: Shape ``(n_items, n_topics)`` latent item topics.

    Returns:
        Shape ``(n_slates,)`` ILD of the slates with at least two items.
    """
    rows = feed_impressions(events)
    if rows.empty:
        return np.zeros(0)
    slate = rows.groupby(["session_id", "time_s"], sort=False).ngroup().to_numpy()
    topics = np.asarray(item_topics, np.float64)
    unit_items = topics / np.maximum(np.linalg.norm(topics, axis=1, keepdims=True), 1e-12)
    unit = unit_items[rows["item_id"].to_numpy(dtype=np.int64)]
    n_slates = int(slate.max()) + 1
    sums = group_sum(slate, unit, n_slates)
    n = np.bincount(slate, minlength=n_slates).astype(np.float64)
    ok = n >= 2
    mean_cos = ((sums[ok] ** 2).sum(axis=1) - n[ok]) / (n[ok] * (n[ok] - 1))
    return 1.0 - mean_cos


@metric("intra_list_diversity", FAMILY, unit="[0, 1]")
def intra_list_diversity(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over feed slates of the mean pairwise 1 − cosine of item topic vectors."""
    if context.item_topics is None:
        return float("nan")
    ild = slate_diversity(events, context.item_topics)
    return float(ild.mean()) if ild.size else float("nan")


def calibration_per_user(
    events: pd.DataFrame,
    user_topic_clicks: np.ndarray,
    item_topics: np.ndarray,
    alpha: float = CALIBRATION_ALPHA,
) -> pd.Series:
    """KL (nats) between each user's historical and recommended topic mixes.

    ``p_u`` = the normalised sum of the topic vectors of the items ``u`` clicked in past
    episodes; ``q_u`` = the same over the items of ``u``'s feed impressions in the
    episode. Calibration ``= KL(p_u ‖ (1 − α) q_u + α p_u)`` (Steck 2018; the
    smoothing keeps it finite). Users without past clicks or without impressions are
    left out.

    Returns:
        KL per user, indexed by ``user_id``.
    """
    rows = feed_impressions(events)
    if rows.empty:
        return pd.Series(dtype=np.float64)
    topics = np.asarray(item_topics, np.float64)[rows["item_id"].to_numpy(dtype=np.int64)]
    users, idx = np.unique(rows["user_id"].to_numpy(dtype=np.int64), return_inverse=True)
    shown = group_sum(idx, topics, users.shape[0])
    past = np.asarray(user_topic_clicks, np.float64)[users]
    ok = past.sum(axis=1) > 0
    p = normalise_rows(past[ok])
    q = normalise_rows(shown[ok])
    kl = kl_divergence_nats(p, (1.0 - alpha) * q + alpha * p)
    return pd.Series(kl, index=pd.Index(users[ok], name="user_id"))


@metric("calibration_kl", FAMILY, unit="nats")
def calibration_kl(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over users of KL(past clicked topic mix ‖ smoothed recommended topic mix), nats."""
    history = context.history
    if context.item_topics is None or history is None or history.user_topic_clicks is None:
        return float("nan")
    kl = calibration_per_user(events, history.user_topic_clicks, context.item_topics)
    return float(kl.mean()) if len(kl) else float("nan")


def welfare_per_click(events: pd.DataFrame, context: MetricContext) -> pd.DataFrame | None:
    """True utility of every consumed item, without the satiation term.

    ``v = affinity_weight · a(I_u, θ_i) + quality_weight · q_i`` with ``a`` the world's
    affinity (``choice.affinity``: the tempered dot product of world model v2, or the
    cosine) and ``I_u`` the interests at the start of the episode (satiation at click
    time is not recorded).

    Returns:
        Columns ``user_id, utility`` (one row per click), or ``None`` without truth.
    """
    c = context
    if (
        c.interests_previous is None
        or c.item_topics is None
        or c.item_quality is None
        or c.utility_weights is None
    ):
        return None
    clicked = clicked_mask(events)
    users = events.loc[clicked, "user_id"].to_numpy(dtype=np.int64)
    items = events.loc[clicked, "item_id"].to_numpy(dtype=np.int64)
    keep = items >= 0
    users, items = users[keep], items[keep]
    interests = np.asarray(c.interests_previous, np.float64)[users]
    topics = np.asarray(c.item_topics, np.float64)[items]
    mode, temperature = c.affinity
    aff = affinity_pairs(interests, topics, np.linalg.norm(topics, axis=1), mode, temperature)
    w_aff, w_q = c.utility_weights
    utility = w_aff * aff + w_q * np.asarray(c.item_quality, np.float64)[items]
    return pd.DataFrame({"user_id": users, "utility": utility})


@metric("welfare", FAMILY, unit="utility")
def welfare(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean true utility (affinity + quality terms) of the consumed items."""
    per_click = welfare_per_click(events, context)
    if per_click is None or per_click.empty:
        return float("nan")
    return float(per_click["utility"].mean())


def relative_to_reference(
    table: pd.DataFrame,
    metrics: Sequence[str] = ("homogenisation_jaccard", "welfare"),
    reference: str = "oracle",
) -> pd.DataFrame:
    """Each policy's value divided by the reference policy's, paired by seed and episode.

    Used at compare / report time (the reference is another run). For homogenisation,
    a value above 1 means more homogeneous than under the reference; for welfare,
    the share of the reference's welfare reached.

    Args:
        table: Tidy ``policy, seed, episode, metric, value`` (e.g. ``per_run.parquet``).
        metrics: The metrics to relate.
        reference: The reference policy.

    Returns:
        Tidy rows named ``<metric>_rel_<reference>`` for every non-reference policy;
        empty (same columns) when the reference is absent.
    """
    columns = ["policy", "seed", "episode", "metric", "value"]
    rows = table[table["metric"].isin(list(metrics))]
    ref = rows[rows["policy"] == reference]
    if ref.empty:
        return pd.DataFrame(columns=columns)
    merged = rows[rows["policy"] != reference].merge(
        ref[["seed", "episode", "metric", "value"]],
        on=["seed", "episode", "metric"],
        suffixes=("", "_ref"),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(merged["value_ref"] != 0, merged["value"] / merged["value_ref"], np.nan)
    out = merged[["policy", "seed", "episode"]].copy()
    out["metric"] = merged["metric"] + f"_rel_{reference}"
    out["value"] = value.astype(np.float64)
    return out[columns].reset_index(drop=True)
