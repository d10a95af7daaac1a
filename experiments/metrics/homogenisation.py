"""Homogenisation: how alike different users' consumption becomes.

Registered here (family ``feedback_loop``): ``homogenisation_jaccard`` (mean pairwise
Jaccard of consumed-item sets; exact up to a size, sampled with a named stream beyond)
and ``homogenisation_overlap`` (a click-volume-free pairwise overlap), each over the
episode's consumption and, ``*_cumulative``, over the users' cumulative consumption
histories up to the episode (as Chaney et al. 2018 measure it). Definitions:
``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from experiments.metrics.common import clicked_mask
from experiments.metrics.registry import MetricContext, metric
from sim.rng import stable_key

__all__ = [
    "FAMILY",
    "HOMOGENISATION_EXACT_MAX_USERS",
    "HOMOGENISATION_PAIRS",
    "homogenisation_jaccard",
    "homogenisation_jaccard_cumulative",
    "homogenisation_overlap",
    "homogenisation_overlap_cumulative",
    "homogenisation_rng",
    "mean_pairwise_jaccard",
    "mean_pairwise_overlap",
]

FAMILY = "feedback_loop"
#: Up to this many consuming users, homogenisation averages over every pair exactly.
HOMOGENISATION_EXACT_MAX_USERS = 1000

#: Otherwise it averages over this many uniformly sampled distinct pairs.
HOMOGENISATION_PAIRS = 20_000


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


@metric("homogenisation_jaccard", FAMILY, unit="[0, 1]")
def homogenisation_jaccard(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean Jaccard similarity of the episode's consumed-item sets over user pairs."""
    clicked = clicked_mask(events)
    users = events.loc[clicked, "user_id"].to_numpy(dtype=np.int64)
    items = events.loc[clicked, "item_id"].to_numpy(dtype=np.int64)
    keep = items >= 0
    return mean_pairwise_jaccard(users[keep], items[keep], homogenisation_rng(context.episode))


def mean_pairwise_overlap(
    users: np.ndarray, items: np.ndarray, counts: np.ndarray | None = None
) -> float:
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
        counts: Shape ``(n,)`` how many consumptions each row stands for (default 1).

    Returns:
        The mean in [0, 1]; ``NaN`` with fewer than two users.
    """
    users = np.asarray(users, np.int64)
    items = np.asarray(items, np.int64)
    weight = np.ones(users.shape[0]) if counts is None else np.asarray(counts, np.float64)
    if users.size == 0:
        return float("nan")
    u_ids, u_idx = np.unique(users, return_inverse=True)
    m = u_ids.shape[0]
    if m < 2:
        return float("nan")
    pairs, inverse = np.unique(np.stack([u_idx, items]), axis=1, return_inverse=True)
    pair_counts = np.bincount(inverse.ravel(), weights=weight, minlength=pairs.shape[1])
    per_user = np.bincount(u_idx, weights=weight, minlength=m)
    shares = pair_counts / per_user[pairs[0]]
    _, item_idx = np.unique(pairs[1], return_inverse=True)
    total = np.bincount(item_idx, weights=shares)
    return float(((total**2).sum() - (shares**2).sum()) / (m * (m - 1)))


@metric("homogenisation_overlap", FAMILY, unit="[0, 1]")
def homogenisation_overlap(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over user pairs of the chance that a consumption of each is the same item."""
    clicked = clicked_mask(events)
    users = events.loc[clicked, "user_id"].to_numpy(dtype=np.int64)
    items = events.loc[clicked, "item_id"].to_numpy(dtype=np.int64)
    keep = items >= 0
    return mean_pairwise_overlap(users[keep], items[keep])


def _cumulative_consumption(
    events: pd.DataFrame, context: MetricContext
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Every user's consumption from episode 0 to this one: ``(users, items, counts)``."""
    if context.history is None:
        return None
    past_u, past_i, past_c = context.history.consumption_pairs()
    clicked = clicked_mask(events)
    users = events.loc[clicked, "user_id"].to_numpy(dtype=np.int64)
    items = events.loc[clicked, "item_id"].to_numpy(dtype=np.int64)
    keep = items >= 0
    return (
        np.concatenate([past_u, users[keep]]),
        np.concatenate([past_i, items[keep]]),
        np.concatenate([past_c, np.ones(int(keep.sum()))]),
    )


@metric("homogenisation_overlap_cumulative", FAMILY, unit="[0, 1]")
def homogenisation_overlap_cumulative(events: pd.DataFrame, context: MetricContext) -> float:
    """homogenisation_overlap over the users' cumulative consumption, episodes 0..e."""
    pairs = _cumulative_consumption(events, context)
    return float("nan") if pairs is None else mean_pairwise_overlap(*pairs)


@metric("homogenisation_jaccard_cumulative", FAMILY, unit="[0, 1]")
def homogenisation_jaccard_cumulative(events: pd.DataFrame, context: MetricContext) -> float:
    """homogenisation_jaccard of the users' cumulative consumed-item sets, episodes 0..e."""
    pairs = _cumulative_consumption(events, context)
    if pairs is None:
        return float("nan")
    users, items, _ = pairs
    return mean_pairwise_jaccard(users, items, homogenisation_rng(context.episode))
