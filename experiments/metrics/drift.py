"""Interest drift: how far users' latent interests move, and who moved them.

Registered here (family ``feedback_loop``): ``interest_drift``, ``interest_entropy_nats``,
``interest_drift_js_bits``, ``interest_drift_endogenous`` and ``interest_drift_exogenous``.
They read the simulator's ground-truth snapshots (never shown to policies) and return
``NaN`` without them. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.metrics.common import js_divergence_bits
from experiments.metrics.registry import MetricContext, metric

__all__ = [
    "FAMILY",
    "drift_split_per_user",
    "interest_drift",
    "interest_drift_endogenous",
    "interest_drift_exogenous",
    "interest_drift_js_bits",
    "interest_entropy_nats",
]

FAMILY = "feedback_loop"


@metric("interest_drift", FAMILY, unit="[0, 1]")
def interest_drift(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over users of the total-variation distance of interests from the initial ones.

    TV(p, q) = ½ Σ_topics |p − q|, in [0, 1], from the ground-truth snapshots.
    """
    if context.interests is None or context.interests_initial is None:
        return float("nan")
    now = np.asarray(context.interests, dtype=np.float64)
    start = np.asarray(context.interests_initial, dtype=np.float64)
    return float((0.5 * np.abs(now - start).sum(axis=1)).mean())


@metric("interest_entropy_nats", FAMILY)
def interest_entropy_nats(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over users of the Shannon entropy (nats) of their interest distribution."""
    if context.interests is None:
        return float("nan")
    p = np.asarray(context.interests, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return float(terms.sum(axis=1).mean())


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


@metric("interest_drift_js_bits", FAMILY, unit="bits, [0, 1]")
def interest_drift_js_bits(events: pd.DataFrame, context: MetricContext) -> float:
    """Mean over users of the Jensen–Shannon divergence (bits) of interests from the initial."""
    if context.interests is None or context.interests_initial is None:
        return float("nan")
    return float(js_divergence_bits(context.interests, context.interests_initial).mean())


def _split(context: MetricContext) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    if context.drift_endogenous is None or context.drift_exogenous is None:
        return None
    return drift_split_per_user(context.drift_endogenous, context.drift_exogenous)


@metric("interest_drift_endogenous", FAMILY, unit="[−1, 1]")
def interest_drift_endogenous(events: pd.DataFrame, context: MetricContext) -> float:
    """Policy-induced part of the mean TV drift (projection of drift_endogenous)."""
    split = _split(context)
    return float("nan") if split is None else float(split[1].mean())


@metric("interest_drift_exogenous", FAMILY, unit="[−1, 1]")
def interest_drift_exogenous(events: pd.DataFrame, context: MetricContext) -> float:
    """Exogenous part of the mean TV drift; endogenous + exogenous = total TV drift."""
    split = _split(context)
    return float("nan") if split is None else float(split[2].mean())
