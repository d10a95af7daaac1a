"""Feedback-loop metrics: drift of interests, homogenisation, concentration, calibration.

Registered here: ``interest_drift_js_bits``, ``interest_drift_endogenous``,
``interest_drift_exogenous``, ``homogenisation_jaccard``, ``homogenisation_overlap``,
``click_gini``, ``intra_list_diversity``, ``calibration_kl``, ``novelty_bits``,
``rec_popularity_rel`` and ``welfare`` (``interest_drift``, ``interest_entropy_nats``,
``catalog_coverage`` and ``impression_gini`` live in :mod:`experiments.metrics`; the
cumulative Ginis in :mod:`experiments.metric_popularity`). Metrics needing latent item
topics or ground truth return ``NaN`` when the context lacks them. The versions
relative to the ``oracle`` run are computed from two runs' values by
:func:`relative_to_reference`. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from experiments.metric_common import (
    clicked_mask,
    gini,
    group_sum,
    is_event,
    js_divergence_bits,
    kl_divergence_nats,
    normalise_rows,
    ratio,
)
from experiments.metrics import MetricContext, metric
from sim.rng import stable_key

__all__ = [
    "CALIBRATION_ALPHA",
    "HOMOGENISATION_EXACT_MAX_USERS",
    "HOMOGENISATION_PAIRS",
    "calibration_per_user",
    "drift_split_per_user",
    "homogenisation_rng",
    "mean_pairwise_jaccard",
    "relative_to_reference",
    "slate_diversity",
    "welfare_per_click",
]

#: Smoothing of calibration: the recommended mix is ``(1 − α) q + α p`` (Steck 2018).
CALIBRATION_ALPHA = 0.01
#: Up to this many consuming users, homogenisation averages over every pair exactly.
HOMOGENISATION_EXACT_MAX_USERS = 1000
#: Otherwise it averages over this many uniformly sampled distinct pairs.
HOMOGENISATION_PAIRS = 20_000


# ------------------------------------------------------------------ interest drift
def drift_split_per_user(
    endogenous: np.ndarray, exogenous: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each user's total-variation drift into policy-induced and exogenous parts.

    With ``d = endogenous + exogenous`` (the change of the interests since the start),
    ``TV = ½ Σ_k |d_k| = ½ Σ_k sign(d_k) endogenous_k + ½ Σ_k sign(d_k) exogenous_k``:
    each part is the component's projection on the direction of the total change, so
    the parts sum to the total exactly (a part is negative when it pulls back).

    Args:
        endogenous: Shape ``(n_users, n_topics)`` cumulative consumption-driven change.
        exogenous: Shape ``(n_users, n_topics)`` cumulative exogenous change.

    Returns:
        ``(total, endogenous_part, exogenous_part)``, each shape ``(n_users,)``.
    """
    endo = np.asarray(endogenous, np.float64)
    exo = np.asarray(exogenous, np.float64)
    sign = np.sign(endo + exo)
    endo_part = 0.5 * (sign * endo).sum(axis=1)
    exo_part = 0.5 * (sign * exo).sum(axis=1)
    return endo_part + exo_part, endo_part, exo_part


@metric("interest_drift_js_bits")
def interest_drift_js_bits(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over users of the Jensen–Shannon divergence (bits) of interests from the initial."""
    if context.interests is None or context.interests_initial is None:
        return float("nan")
    return float(js_divergence_bits(context.interests, context.interests_initial).mean())


def _split(context: MetricContext) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    if context.drift_endogenous is None or context.drift_exogenous is None:
        return None
    return drift_split_per_user(context.drift_endogenous, context.drift_exogenous)


@metric("interest_drift_endogenous")
def interest_drift_endogenous(events: pd.DataFrame, context: MetricContext) -> float:
    """Policy-induced part of the mean TV drift (projection of drift_endogenous)."""
    split = _split(context)
    return float("nan") if split is None else float(split[1].mean())


@metric("interest_drift_exogenous")
def interest_drift_exogenous(events: pd.DataFrame, context: MetricContext) -> float:
    """Exogenous part of the mean TV drift; endogenous + exogenous = total TV drift."""
    split = _split(context)
    return float("nan") if split is None else float(split[2].mean())


# ------------------------------------------------------------------ homogenisation
def homogenisation_rng(episode: int) -> np.random.Generator:
    """The named generator of the pair sample: stream ``metrics/homogenisation``, episode."""
    entropy = [int(episode), *stable_key("metrics/homogenisation")]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def mean_pairwise_jaccard(
    users: np.ndarray,
    items: np.ndarray,
    rng: np.random.Generator | None = None,
    *,
    exact_max_users: int = HOMOGENISATION_EXACT_MAX_USERS,
    n_pairs: int = HOMOGENISATION_PAIRS,
) -> float:
    """Mean Jaccard similarity ``|A ∩ B| / |A ∪ B|`` of users' consumed-item sets.

    Estimator: over the ``m`` users with a non-empty set, the mean over all
    ``m (m − 1) / 2`` pairs when ``m ≤ exact_max_users``; otherwise the mean over
    ``n_pairs`` pairs drawn uniformly with replacement among distinct pairs from
    ``rng`` (unbiased for the all-pairs mean). Example: ``{1, 2}`` and ``{2, 3}`` give
    ``1 / 3``.

    Args:
        users: Shape ``(n,)`` user of each consumption.
        items: Shape ``(n,)`` item of each consumption (repeats allowed).
        rng: Generator of the pair sample (needed only when sampling).
        exact_max_users: Largest ``m`` averaged exactly.
        n_pairs: Pairs sampled otherwise.

    Returns:
        The mean in [0, 1]; ``NaN`` with fewer than two users.
    """
    users = np.asarray(users, np.int64)
    items = np.asarray(items, np.int64)
    if users.size == 0:
        return float("nan")
    u_ids, u_idx = np.unique(users, return_inverse=True)
    i_ids, i_idx = np.unique(items, return_inverse=True)
    m = u_ids.shape[0]
    if m < 2:
        return float("nan")
    mat = sparse.csr_matrix((np.ones(users.shape[0]), (u_idx, i_idx)), shape=(m, i_ids.shape[0]))
    mat.sum_duplicates()
    mat.data[:] = 1.0  # repeated consumptions were summed: make the sets binary
    sizes = np.asarray(mat.sum(axis=1)).ravel()
    if m <= exact_max_users:
        inter = (mat @ mat.T).toarray()
        iu, ju = np.triu_indices(m, k=1)
        shared = inter[iu, ju]
    else:
        if rng is None:
            raise ValueError("rng is needed to sample pairs")
        iu = rng.integers(0, m, size=n_pairs)
        ju = (iu + rng.integers(1, m, size=n_pairs)) % m
        shared = np.asarray(mat[iu].multiply(mat[ju]).sum(axis=1)).ravel()
    union = sizes[iu] + sizes[ju] - shared
    return float((shared / union).mean())


@metric("homogenisation_jaccard")
def homogenisation_jaccard(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean Jaccard similarity of the episode's consumed-item sets over user pairs."""
    clicked = clicked_mask(events)
    users = events.loc[clicked, "user_id"].to_numpy(dtype=np.int64)
    items = events.loc[clicked, "item_id"].to_numpy(dtype=np.int64)
    keep = items >= 0
    return mean_pairwise_jaccard(users[keep], items[keep], homogenisation_rng(context.episode))


def mean_pairwise_overlap(users: np.ndarray, items: np.ndarray) -> float:
    """Mean over pairs of distinct users of ``p_u · p_v`` (consumption overlap).

    ``p_u`` is user ``u``'s consumption shares over items (repeats count). Over the
    ``m`` users who consumed something, the mean over all ``m (m − 1) / 2`` pairs is
    ``(|Σ_u p_u|² − Σ_u |p_u|²) / (m (m − 1))``, exact in ``O(consumptions)``. It is the
    probability that a random consumption of one user and a random consumption of
    another are the same item; if each user's consumptions are independent draws from
    their own distribution ``π_u``, its expectation is ``π_u · π_v`` whatever the number
    of consumptions, unlike a Jaccard index, which grows with the sets' sizes. Example:
    ``{1, 2}``, ``{2, 3}``, ``{3}`` give pair products ``1/4, 0, 1/2``: mean ``1/4``.

    Args:
        users: Shape ``(n,)`` user of each consumption.
        items: Shape ``(n,)`` item of each consumption.

    Returns:
        The mean in [0, 1]; ``NaN`` with fewer than two users.
    """
    users = np.asarray(users, np.int64)
    items = np.asarray(items, np.int64)
    if users.size == 0:
        return float("nan")
    u_ids, u_idx = np.unique(users, return_inverse=True)
    m = u_ids.shape[0]
    if m < 2:
        return float("nan")
    pairs, counts = np.unique(np.stack([u_idx, items]), axis=1, return_counts=True)
    shares = counts / np.bincount(u_idx, minlength=m)[pairs[0]]
    _, item_idx = np.unique(pairs[1], return_inverse=True)
    total = np.bincount(item_idx, weights=shares)
    return float(((total**2).sum() - (shares**2).sum()) / (m * (m - 1)))


@metric("homogenisation_overlap")
def homogenisation_overlap(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over user pairs of the chance that a consumption of each is the same item."""
    clicked = clicked_mask(events)
    users = events.loc[clicked, "user_id"].to_numpy(dtype=np.int64)
    items = events.loc[clicked, "item_id"].to_numpy(dtype=np.int64)
    keep = items >= 0
    return mean_pairwise_overlap(users[keep], items[keep])


# ------------------------------------------------------------------ concentration
@metric("click_gini")
def click_gini(events: pd.DataFrame, context: MetricContext) -> float:
    """Gini coefficient of clicks (feed + search) over available items (consumption)."""
    items = events.loc[clicked_mask(events), "item_id"].to_numpy(dtype=np.int64)
    items = items[items >= 0]
    if items.size == 0:
        return float("nan")
    _, per_item = np.unique(items, return_counts=True)
    counts = np.zeros(max(context.n_items_available, per_item.shape[0]))
    counts[: per_item.shape[0]] = per_item
    return gini(counts)


# ------------------------------------------------------------------ slates
def _feed_impressions(events: pd.DataFrame) -> pd.DataFrame:
    rows = events.loc[
        is_event(events, "impression"), ["user_id", "session_id", "time_s", "item_id"]
    ]
    return rows[rows["item_id"].to_numpy() >= 0]


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
    rows = _feed_impressions(events)
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


@metric("intra_list_diversity")
def intra_list_diversity(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over feed slates of the mean pairwise 1 − cosine of item topic vectors."""
    if context.item_topics is None:
        return float("nan")
    ild = slate_diversity(events, context.item_topics)
    return float(ild.mean()) if ild.size else float("nan")


# ------------------------------------------------------------------ calibration
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
    rows = _feed_impressions(events)
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


@metric("calibration_kl")
def calibration_kl(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over users of KL(past clicked topic mix ‖ smoothed recommended topic mix), nats."""
    history = context.history
    if context.item_topics is None or history is None or history.user_topic_clicks is None:
        return float("nan")
    kl = calibration_per_user(events, history.user_topic_clicks, context.item_topics)
    return float(kl.mean()) if len(kl) else float("nan")


# ------------------------------------------------------------------ popularity
def _past_popularity(events: pd.DataFrame, context: MetricContext) -> tuple[np.ndarray, np.ndarray]:
    items = _feed_impressions(events)["item_id"].to_numpy(dtype=np.int64)
    n = max(context.n_items_available, int(items.max()) + 1 if items.size else 0)
    if context.history is not None:
        n = max(n, context.history.item_clicks.shape[0])
        counts = context.history.item_popularity(n)
    else:
        counts = np.zeros(n, dtype=np.int64)
    return items, counts.astype(np.float64)


@metric("novelty_bits")
def novelty_bits(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over feed impressions of −log2 of the item's smoothed past click share."""
    items, counts = _past_popularity(events, context)
    if items.size == 0:
        return float("nan")
    share = (counts + 1.0) / (counts.sum() + counts.shape[0])
    return float(-np.log2(share[items]).mean())


@metric("rec_popularity_rel")
def rec_popularity_rel(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean past clicks of feed-impressed items / mean past clicks per item (1 = average)."""
    items, counts = _past_popularity(events, context)
    if items.size == 0:
        return float("nan")
    return ratio(counts[items].mean(), counts.mean())


# ------------------------------------------------------------------ welfare
def welfare_per_click(events: pd.DataFrame, context: MetricContext) -> pd.DataFrame | None:
    """True utility of every consumed item, without the satiation term.

    ``v = affinity_weight · cos(I_u, θ_i) + quality_weight · q_i`` with ``I_u`` the
    interests at the start of the episode (satiation at click time is not recorded).

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
    norms = np.linalg.norm(interests, axis=1) * np.linalg.norm(topics, axis=1)
    cos = (interests * topics).sum(axis=1) / np.maximum(norms, 1e-12)
    w_aff, w_q = c.utility_weights
    utility = w_aff * cos + w_q * np.asarray(c.item_quality, np.float64)[items]
    return pd.DataFrame({"user_id": users, "utility": utility})


@metric("welfare")
def welfare(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean true utility (affinity + quality terms) of the consumed items."""
    per_click = welfare_per_click(events, context)
    if per_click is None or per_click.empty:
        return float("nan")
    return float(per_click["utility"].mean())


# ------------------------------------------------------------------ relative to a reference
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
