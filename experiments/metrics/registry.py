"""The metric registry: what a metric is, which family it belongs to, how they are computed.

A metric is a pure function ``fn(events, context) -> float`` of one episode's log slice
(columns of :data:`sim.events.EVENT_SCHEMA`) and a :class:`MetricContext` (population
size, available items and, for drift metrics, the simulator's ground-truth snapshots,
which policies never see). A metric whose denominator is zero returns ``NaN``.

The family modules of this package (:mod:`experiments.metrics.engagement`,
:mod:`~experiments.metrics.search`, :mod:`~experiments.metrics.drift`,
:mod:`~experiments.metrics.exposure`, :mod:`~experiments.metrics.homogenisation`,
:mod:`~experiments.metrics.diversity`, :mod:`~experiments.metrics.echo_chamber`,
:mod:`~experiments.metrics.credit`) import
this registry and register their metrics with :func:`metric`, naming their family;
the registry imports none of them (the package's ``__init__`` does, so importing
:mod:`experiments.metrics` registers every metric).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from experiments.metrics.history import MetricHistory

__all__ = [
    "FAMILIES",
    "HEALTH_FAMILY",
    "HEALTH_PREFIX",
    "OTHER_FAMILY",
    "MetricContext",
    "available_metrics",
    "compute_metrics",
    "metric",
    "metric_doc",
    "metric_family",
    "metric_unit",
    "tidy_metrics",
    "unit_from_suffix",
]

MetricFn = Callable[[pd.DataFrame, "MetricContext"], float]

#: Metric families in report order: key → heading (as in ``docs/metrics.md``).
FAMILIES: dict[str, str] = {
    "engagement": "Engagement",
    "search": "Search",
    "feedback_loop": "Feedback loop",
    "credit": "Credit: candidate sources",
    "health": "Generative-model health",
}
#: The family of the values a generative policy reports about itself (``health_<name>``).
HEALTH_FAMILY = "health"
#: Prefix of the health rows in ``metrics.parquet``.
HEALTH_PREFIX = "health_"
#: Family of a metric no rule classifies (shown last, only when present).
OTHER_FAMILY = "other"
#: Units named by a metric's name suffix (``dwell_per_session_s`` is in seconds).
SUFFIX_UNITS: dict[str, str] = {"_s": "s", "_h": "h", "_bits": "bits", "_nats": "nats"}


@dataclass(frozen=True)
class _Entry:
    fn: MetricFn
    family: str
    unit: str


_REGISTRY: dict[str, _Entry] = {}


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
        affinity: ``(choice.affinity, choice.affinity_temperature)`` of the world: how
            the choice model measures affinity (``"cosine"`` before world model v2).
        history: Summaries of the past episodes
            (:class:`experiments.metrics.history.MetricHistory`).
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
    affinity: tuple[str, float] = ("cosine", 1.0)
    history: MetricHistory | None = None


def unit_from_suffix(name: str) -> str:
    """The unit a name's suffix states (:data:`SUFFIX_UNITS`), or ``""``."""
    return next((unit for end, unit in SUFFIX_UNITS.items() if name.endswith(end)), "")


def metric(name: str, family: str, unit: str | None = None) -> Callable[[MetricFn], MetricFn]:
    """Register ``fn(events, context) -> float`` as metric ``name`` of ``family``.

    Args:
        name: The metric's name (a column of the tidy table; unique).
        family: A key of :data:`FAMILIES` other than the health family.
        unit: The unit of its values as ``docs/metrics.md`` states it (``"ratio"``,
            ``"[0, 1]"``, ``"clicks"``, ...); by default the one the name's suffix
            states (:func:`unit_from_suffix`). A unit given for a suffixed name must
            start with the suffix's unit (``"bits, [0, 1]"`` for ``*_bits``).

    Raises:
        ValueError: If ``name`` is already registered, ``family`` is unknown, or the
            unit contradicts the name's suffix.
    """
    if family not in FAMILIES or family == HEALTH_FAMILY:
        raise ValueError(f"metric {name!r}: unknown family {family!r}")
    suffix_unit = unit_from_suffix(name)
    if unit is None:
        unit = suffix_unit
    elif suffix_unit and not unit.startswith(suffix_unit):
        raise ValueError(f"metric {name!r}: unit {unit!r} contradicts its suffix ({suffix_unit})")

    def decorate(fn: MetricFn) -> MetricFn:
        if name in _REGISTRY:
            raise ValueError(f"metric {name!r} is already registered")
        _REGISTRY[name] = _Entry(fn, family, unit)
        return fn

    return decorate


def available_metrics() -> list[str]:
    """Sorted names of every registered metric."""
    return sorted(_REGISTRY)


def metric_doc(name: str) -> str:
    """First line of a metric's docstring (its one-line definition)."""
    doc = _REGISTRY[name].fn.__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def metric_unit(name: str) -> str:
    """The unit of registered metric ``name`` (``""`` if it has none).

    Raises:
        KeyError: If ``name`` is not registered.
    """
    return _REGISTRY[name].unit


def metric_family(name: str) -> str:
    """The family of metric ``name`` (a key of :data:`FAMILIES`, or :data:`OTHER_FAMILY`).

    ``health_*`` rows are model health; ``<metric>_rel_<policy>`` rows (relative to a
    reference run) belong to ``<metric>``'s family; registered metrics to the family
    they were registered with.
    """
    if name.startswith(HEALTH_PREFIX):
        return HEALTH_FAMILY
    entry = _REGISTRY.get(name.split("_rel_")[0])
    return entry.family if entry is not None else OTHER_FAMILY


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
    return {name: float(_REGISTRY[name].fn(events, context)) for name in selected}


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
