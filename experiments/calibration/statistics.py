"""The statistics of the calibration report: a simulated log held against the real one.

Both logs are *interaction frames* (:func:`experiments.calibration.real_log.interaction_frame`):
int64 columns ``user`` and ``item``, one row per consumption, each user's rows in
chronological order. Six statistics are compared, each with its own distance (the
names are the fields of :class:`sim.config.CalibrationTolerances`):

========================  ==========================================  =====================
statistic                 what is compared                            distance
========================  ==========================================  =====================
item_popularity_lorenz    Lorenz curve of consumptions per item       max vertical gap
item_popularity_gini      Gini of consumptions per item               absolute difference
user_activity             consumptions per user, real log's core       two-sample KS
topic_shares              topic mass of all consumption               JS divergence, base 2
repeat_consumption_rate   share of consumptions repeating a pair      absolute difference
top_topic_share           user's mass in their own top-k topics       two-sample KS
========================  ==========================================  =====================

Item counts cover the whole catalogue (items never consumed count as zeros). The
simulated log may come from another catalogue (an uncalibrated synthetic world, whose
topic labels are arbitrary): give its ``sim_item_topics`` and ``sim_n_items``, and
compare the topic shares with ``match_topics_by_rank=True``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import rel_entr
from scipy.stats import ks_2samp

from experiments.atomic import atomic_write_text
from experiments.metrics.common import gini as metric_gini
from sim.config import CalibrationTolerances

__all__ = [
    "MIN_CONSUMPTIONS_TOP_TOPICS",
    "STATISTICS",
    "CalibrationRecord",
    "calibration_records",
    "gini",
    "item_popularity",
    "js_divergence",
    "ks_distance",
    "lorenz_curve",
    "lorenz_gap",
    "repeat_consumption_rate",
    "top_topic_shares",
    "topic_share_divergence",
    "topic_shares",
    "user_activity",
    "with_synthetic",
    "write_calibration_json",
]

#: The statistics, in report order (the fields of ``CalibrationTolerances``).
STATISTICS: tuple[str, ...] = (
    "item_popularity_lorenz",
    "item_popularity_gini",
    "user_activity",
    "topic_shares",
    "repeat_consumption_rate",
    "top_topic_share",
)

#: Users with fewer consumptions are left out of ``top_topic_share``.
MIN_CONSUMPTIONS_TOP_TOPICS = 5

#: Top-topic shares are rounded to this many decimals (ties survive float rounding).
_SHARE_DECIMALS = 12

#: Share of items whose consumption share summarises a Lorenz curve (the most consumed).
_TOP_ITEM_SHARE = 0.2


# ------------------------------------------------------------------ input checks
def _items(frame: pd.DataFrame, n_items: int) -> np.ndarray:
    """The frame's item column as int64, checked to lie in ``[0, n_items)``."""
    items = frame["item"].to_numpy(dtype=np.int64)
    if items.size and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"item ids must lie in [0, {n_items}); got [{items.min()}, {items.max()}]")
    return items


def _user_index(frame: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Row -> dense user index (order of first appearance), and the number of users."""
    codes, uniques = pd.factorize(frame["user"], sort=False)
    return codes.astype(np.int64), len(uniques)


def _user_topic_mass(frame: pd.DataFrame, item_topics: np.ndarray, n_items: int) -> np.ndarray:
    """Per-user topic mass ``Σ_{rows of u} item_topics[item]``, shape ``(n_users, K)``."""
    users, n_users = _user_index(frame)
    items = _items(frame, n_items)
    counts = sparse.csr_matrix((np.ones(items.shape[0]), (users, items)), shape=(n_users, n_items))
    return np.asarray(counts @ np.asarray(item_topics, dtype=np.float64))


# ------------------------------------------------------------------ popularity
def item_popularity(frame: pd.DataFrame, n_items: int) -> np.ndarray:
    """Consumptions per item over the whole catalogue.

    Args:
        frame: Interaction frame (columns ``user``, ``item``).
        n_items: Catalogue size; item ids lie in ``[0, n_items)``.

    Returns:
        Shape ``(n_items,)`` int64: rows of ``frame`` per item, zeros included.
    """
    return np.bincount(_items(frame, n_items), minlength=n_items).astype(np.int64)


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative amounts (0 = equal; ``(n − 1)/n`` = one holds all).

    With the amounts sorted ascending, ``x_(1) ≤ … ≤ x_(n)``:
    ``G = Σ_i (2i − n − 1) x_(i) / (n Σ_i x_(i))``, ``i = 1 … n`` (zeros included).
    Example: ``[0, 0, 0, 1]`` gives ``(2·4 − 5)·1 / (4·1) = 0.75``. It is
    :func:`experiments.metrics.common.gini`.

    Args:
        counts: Shape ``(n,)`` non-negative amounts.

    Returns:
        The coefficient; ``NaN`` if ``n == 0`` or the total is zero.
    """
    return float(metric_gini(np.asarray(counts, dtype=np.float64)))


def lorenz_curve(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve: share of the total held by the least consumed share of items.

    The curve is piecewise linear through the breakpoints ``(i/n, Σ_{j≤i} x_(j) / Σ x)``,
    ``i = 0 … n``, amounts sorted ascending (zeros included).

    Args:
        counts: Shape ``(n,)`` non-negative amounts, ``n ≥ 1`` and positive total.

    Returns:
        ``(x, y)``, each shape ``(n + 1,)`` float64, from ``(0, 0)`` to ``(1, 1)``.

    Raises:
        ValueError: If there are no amounts or their total is zero.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    total = x.sum()
    if x.shape[0] == 0 or total <= 0:
        raise ValueError("a Lorenz curve needs at least one item and a positive total")
    y = np.concatenate([[0.0], np.cumsum(x) / total])
    y[-1] = 1.0
    return np.linspace(0.0, 1.0, x.shape[0] + 1), y


def lorenz_gap(counts_a: np.ndarray, counts_b: np.ndarray) -> float:
    """Largest vertical gap ``max_{x∈[0,1]} |L_a(x) − L_b(x)|`` of two Lorenz curves.

    Exact: both curves are piecewise linear, so their difference is linear between
    consecutive points of the union of their breakpoints and its largest absolute value
    lies on one of them; the curves are evaluated there (``np.interp``). The catalogues
    may differ in size.

    Args:
        counts_a: Shape ``(n_a,)`` non-negative amounts, positive total.
        counts_b: Shape ``(n_b,)`` non-negative amounts, positive total.

    Returns:
        The gap, a fraction in ``[0, 1]``.
    """
    xa, ya = lorenz_curve(counts_a)
    xb, yb = lorenz_curve(counts_b)
    grid = np.union1d(xa, xb)
    return float(np.max(np.abs(np.interp(grid, xa, ya) - np.interp(grid, xb, yb))))


def _top_items_share(counts: np.ndarray, share: float = _TOP_ITEM_SHARE) -> float:
    """Share of consumption held by the most consumed ``share`` of items (``1 − L(1 − share)``)."""
    x, y = lorenz_curve(counts)
    return float(1.0 - np.interp(1.0 - share, x, y))


# ------------------------------------------------------------------ users
def user_activity(frame: pd.DataFrame) -> np.ndarray:
    """Consumptions per active user.

    Raw counts, not counts divided by their mean: counts are whole numbers shared by
    many users (30% of Beauty's users have exactly 5), and dividing each log by its own
    mean moves those clusters apart, so the KS distance of two samples of one
    distribution would read 0.3 instead of 0.005. The calibrated world matches the
    real log's volume over its horizon, so raw counts are comparable.

    Args:
        frame: Interaction frame; every user in it has at least one row.

    Returns:
        Shape ``(n_active_users,)`` float64 counts ``c_u``, users in order of first
        appearance; empty for an empty frame.
    """
    return frame.groupby("user", sort=False).size().to_numpy(dtype=np.float64)


def core_activity(real: pd.DataFrame, sim: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Both logs' activity (:func:`user_activity`) on the real log's *core*.

    Real datasets are filtered samples: Beauty is a 5-core, ML-100K keeps users with at
    least 20 ratings. The simulated log is filtered the same way — users with at least
    the real log's smallest count — before the distributions are compared; otherwise
    the simulated users who happen to consume less than the real filter allows count as
    a misfit of the model rather than of the sampling.

    Returns:
        ``(real_counts, simulated_counts)``, each of users with at least ``min(real)``.
    """
    a, b = user_activity(real), user_activity(sim)
    if a.size == 0:
        return a, b
    floor = a.min()
    return a, b[b >= floor]


def _mean_activity(frame: pd.DataFrame) -> float:
    n_users = frame["user"].nunique()
    return float(len(frame) / n_users) if n_users else float("nan")


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic ``sup_x |F_a(x) − F_b(x)|`` (ECDFs).

    Args:
        a: Shape ``(n_a,)`` sample.
        b: Shape ``(n_b,)`` sample.

    Returns:
        ``scipy.stats.ks_2samp(a, b).statistic`` in ``[0, 1]``; ``NaN`` if a sample is empty.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        return float("nan")
    return float(ks_2samp(a, b).statistic)


def repeat_consumption_rate(frame: pd.DataFrame) -> float:
    """Share of consumptions whose ``(user, item)`` pair occurred earlier for that user.

    A user's first consumption of an item is new; every later one is a repeat. With
    ``n`` rows and ``d`` distinct pairs the rate is ``(n − d) / n``.

    Args:
        frame: Interaction frame, users' rows chronological.

    Returns:
        The rate in ``[0, 1]``; ``NaN`` for an empty frame.
    """
    if len(frame) == 0:
        return float("nan")
    return float(frame.duplicated(["user", "item"], keep="first").mean())


# ------------------------------------------------------------------ topics
def topic_shares(frame: pd.DataFrame, item_topics: np.ndarray, n_items: int) -> np.ndarray:
    """Topic mass of consumption: ``Σ_rows item_topics[item]``, normalised to sum 1.

    Args:
        frame: Interaction frame.
        item_topics: Shape ``(n_items, K)``, rows on the simplex.
        n_items: Catalogue size.

    Returns:
        Shape ``(K,)`` float64 shares summing to 1.

    Raises:
        ValueError: If the frame holds no topic mass (e.g. it is empty).
    """
    mass = item_popularity(frame, n_items).astype(np.float64) @ np.asarray(
        item_topics, dtype=np.float64
    )
    total = mass.sum()
    if total <= 0:
        raise ValueError("topic shares of a log without consumption are undefined")
    return mass / total


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon *divergence* in bits (base 2), in ``[0, 1]``.

    ``JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)``, ``m = (p + q) / 2``, logarithms base 2.
    This equals ``scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2``: scipy
    returns the Jensen–Shannon *distance*, the square root of the divergence. Computed
    directly (and clipped at 0) so that identical inputs give exactly 0, never the
    ``NaN`` of a square root of a rounding error.

    Args:
        p: Shape ``(K,)`` non-negative weights (normalised here).
        q: Shape ``(K,)`` non-negative weights (normalised here).

    Returns:
        The divergence.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"distributions differ in shape: {p.shape} vs {q.shape}")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    nats = 0.5 * rel_entr(p, m).sum() + 0.5 * rel_entr(q, m).sum()
    return float(min(1.0, max(0.0, nats / math.log(2))))


def _ranked(p: np.ndarray, size: int) -> np.ndarray:
    """``p`` sorted descending and zero-padded to ``size`` entries."""
    return np.pad(np.sort(p)[::-1], (0, size - p.shape[0]))


def topic_share_divergence(p: np.ndarray, q: np.ndarray, *, match_by_rank: bool) -> float:
    """JS divergence of two topic-share vectors, by topic or by rank.

    Args:
        p: Shape ``(K_p,)`` shares.
        q: Shape ``(K_q,)`` shares (``K_q == K_p`` unless ``match_by_rank``).
        match_by_rank: Sort both descending first (zero-padding the shorter), so that
            the largest share is compared with the largest, and so on: for a world
            whose topic labels are arbitrary.

    Returns:
        The divergence in bits.
    """
    if match_by_rank:
        size = max(p.shape[0], q.shape[0])
        p, q = _ranked(p, size), _ranked(q, size)
    return js_divergence(p, q)


def top_topic_shares(
    frame: pd.DataFrame,
    item_topics: np.ndarray,
    n_items: int,
    top_topics: int,
    min_consumptions: int = MIN_CONSUMPTIONS_TOP_TOPICS,
) -> np.ndarray:
    """Each user's share of topic mass in their own ``top_topics`` largest topics.

    For user ``u`` with topic mass ``m_u = Σ_{rows of u} item_topics[item]`` (shape
    ``(K,)``), the share is the sum of the ``top_topics`` largest entries of ``m_u``
    over ``Σ m_u`` (1 when ``top_topics ≥ K``).

    Args:
        frame: Interaction frame.
        item_topics: Shape ``(n_items, K)``, rows on the simplex.
        n_items: Catalogue size.
        top_topics: ``k ≥ 1``.
        min_consumptions: Users with fewer rows are left out.

    Returns:
        Shape ``(n_eligible_users,)`` float64 in ``[1/K, 1]``, rounded to 12 decimals
        (so that a share two users both reach is one value for the KS statistic), users
        in order of first appearance.
    """
    if top_topics < 1:
        raise ValueError(f"top_topics must be >= 1, got {top_topics}")
    mass = _user_topic_mass(frame, item_topics, n_items)
    counts = frame.groupby("user", sort=False).size().to_numpy()
    mass = mass[counts >= min_consumptions]
    total = mass.sum(axis=1)
    mass, total = mass[total > 0], total[total > 0]
    k = min(top_topics, mass.shape[1])
    top = -np.partition(-mass, k - 1, axis=1)[:, :k] if mass.size else mass[:, :0]
    # rounded so that equal shares reached by different summation orders stay one atom
    return np.round(np.minimum(top.sum(axis=1) / total, 1.0), _SHARE_DECIMALS)


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if np.size(x) else float("nan")


# ------------------------------------------------------------------ records
def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class CalibrationRecord:
    """One statistic of the calibration report: real against simulated.

    Attributes:
        statistic: Name (a field of ``CalibrationTolerances``).
        distance: Distance between the real and the simulated log (``NaN`` if undefined).
        tolerance: Largest acceptable distance.
        measure: What ``distance`` is (``"KS"``, ``"JS divergence (base 2)"``, …).
        real: Summary value on the real log (``None`` where no scalar summarises it).
        simulated: The same summary on the simulated log.
        summary: What ``real`` and ``simulated`` are.
        synthetic_distance: Distance of an uncalibrated synthetic world's log to the
            real one (filled by the caller, :func:`with_synthetic`), or ``None``.
    """

    statistic: str
    distance: float
    tolerance: float
    measure: str
    real: float | None
    simulated: float | None
    summary: str
    synthetic_distance: float | None = None

    @property
    def within(self) -> bool:
        """``distance <= tolerance`` (``False`` for an undefined distance)."""
        return bool(self.distance <= self.tolerance)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``statistic, distance, tolerance, within`` first, then detail.

        Non-finite floats become ``None`` (JSON ``null``).
        """
        return {
            "statistic": self.statistic,
            "distance": _finite_or_none(self.distance),
            "tolerance": float(self.tolerance),
            "within": self.within,
            "measure": self.measure,
            "real": _finite_or_none(self.real),
            "simulated": _finite_or_none(self.simulated),
            "summary": self.summary,
            "synthetic_distance": _finite_or_none(self.synthetic_distance),
        }


def _record(
    name: str,
    distance: float,
    tolerances: CalibrationTolerances,
    measure: str,
    values: tuple[float | None, float | None],
    summary: str,
) -> CalibrationRecord:
    return CalibrationRecord(
        statistic=name,
        distance=float(distance),
        tolerance=float(getattr(tolerances, name)),
        measure=measure,
        real=values[0],
        simulated=values[1],
        summary=summary,
    )


def calibration_records(
    real: pd.DataFrame,
    sim: pd.DataFrame,
    item_topics: np.ndarray,
    n_items: int,
    top_topics: int,
    tolerances: CalibrationTolerances,
    *,
    match_topics_by_rank: bool = False,
    sim_item_topics: np.ndarray | None = None,
    sim_n_items: int | None = None,
) -> list[CalibrationRecord]:
    """The six statistics of the real and the simulated log, with distances.

    Args:
        real: The real log's interaction frame.
        sim: The simulated log's interaction frame.
        item_topics: Shape ``(n_items, K)``, the real catalogue's topics (rows on the
            simplex).
        n_items: The real catalogue's size.
        top_topics: ``k`` of ``top_topic_share``.
        tolerances: Largest acceptable distance per statistic.
        match_topics_by_rank: Compare topic shares by rank (see
            :func:`topic_share_divergence`), for a world with arbitrary topic labels.
        sim_item_topics: Shape ``(sim_n_items, K')``, the simulated log's catalogue
            topics when it is not the real catalogue (default: ``item_topics``).
        sim_n_items: The simulated log's catalogue size (default: ``n_items``).

    Returns:
        One record per statistic, in the order of :data:`STATISTICS`.
    """
    sim_topics = item_topics if sim_item_topics is None else sim_item_topics
    sim_items = n_items if sim_n_items is None else sim_n_items
    pop_r, pop_s = item_popularity(real, n_items), item_popularity(sim, sim_items)
    gini_r, gini_s = gini(pop_r), gini(pop_s)
    top_r = top_topic_shares(real, item_topics, n_items, top_topics)
    top_s = top_topic_shares(sim, sim_topics, sim_items, top_topics)
    rep_r, rep_s = repeat_consumption_rate(real), repeat_consumption_rate(sim)
    share_r = topic_shares(real, item_topics, n_items)
    share_s = topic_shares(sim, sim_topics, sim_items)
    topic_measure = "JS divergence (base 2)" + (", topics matched by rank" * match_topics_by_rank)
    top_share = f"share of consumption in the most consumed {_TOP_ITEM_SHARE:.0%} of items"
    return [
        _record(
            "item_popularity_lorenz",
            lorenz_gap(pop_r, pop_s),
            tolerances,
            "max Lorenz gap",
            (_top_items_share(pop_r), _top_items_share(pop_s)),
            top_share,
        ),
        _record(
            "item_popularity_gini",
            abs(gini_r - gini_s),
            tolerances,
            "absolute difference",
            (gini_r, gini_s),
            "Gini of consumptions per item (all items)",
        ),
        _record(
            "user_activity",
            ks_distance(*core_activity(real, sim)),
            tolerances,
            "KS",
            (_mean_activity(real), _mean_activity(sim)),
            "mean consumptions per active user (before the core filter)",
        ),
        _record(
            "topic_shares",
            topic_share_divergence(share_r, share_s, match_by_rank=match_topics_by_rank),
            tolerances,
            topic_measure,
            (None, None),
            "topic shares of consumption, a vector shown in the topic-shares figure",
        ),
        _record(
            "repeat_consumption_rate",
            abs(rep_r - rep_s),
            tolerances,
            "absolute difference",
            (rep_r, rep_s),
            "share of consumptions repeating an earlier (user, item) pair",
        ),
        _record(
            "top_topic_share",
            ks_distance(top_r, top_s),
            tolerances,
            "KS",
            (_mean(top_r), _mean(top_s)),
            f"mean share in the user's own top-{top_topics} topics "
            f"(users with >= {MIN_CONSUMPTIONS_TOP_TOPICS} consumptions)",
        ),
    ]


def with_synthetic(
    records: Sequence[CalibrationRecord], synthetic: Sequence[CalibrationRecord]
) -> list[CalibrationRecord]:
    """``records`` with ``synthetic_distance`` taken from the same statistic in ``synthetic``.

    Args:
        records: The calibrated world's records.
        synthetic: Records of an uncalibrated synthetic world against the same real log.

    Returns:
        New records; statistics missing from ``synthetic`` keep ``None``.
    """
    by_name = {r.statistic: r.distance for r in synthetic}
    return [replace(r, synthetic_distance=by_name.get(r.statistic)) for r in records]


def write_calibration_json(
    path: str | Path,
    records: Sequence[CalibrationRecord],
    extra: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write ``calibration.json``: a JSON list of records (:meth:`CalibrationRecord.to_dict`).

    Written atomically, keys in record order (not sorted: ``statistic, distance,
    tolerance, within`` come first). ``extra`` metadata (dataset, seeds, …) goes to a
    sibling ``<stem>.meta.json`` so that the file itself stays a list.

    Args:
        path: Target, usually ``<run dir>/calibration.json``.
        records: The records.
        extra: Optional JSON-serialisable metadata.

    Returns:
        The files written: ``[path]``, plus the metadata file when ``extra`` is given.
    """
    path = Path(path)
    rows = [r.to_dict() for r in records]
    atomic_write_text(path, json.dumps(rows, indent=2, allow_nan=False) + "\n")
    written = [path]
    if extra is not None:
        meta = path.with_name(f"{path.stem}.meta.json")
        atomic_write_text(meta, json.dumps(dict(extra), indent=2, default=str) + "\n")
        written.append(meta)
    return written
