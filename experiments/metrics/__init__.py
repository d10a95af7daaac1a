"""Per-episode metrics: a registry, one module per metric family, and the run-time tracker.

Importing this package registers every metric. The public names::

    from experiments.metrics import available_metrics, compute_metrics, metric, MetricContext

Layout: :mod:`~experiments.metrics.registry` (what a metric is, its family, computing a
table), the families (:mod:`~experiments.metrics.engagement`,
:mod:`~experiments.metrics.search`, and for the feedback loop
:mod:`~experiments.metrics.drift`, :mod:`~experiments.metrics.exposure`,
:mod:`~experiments.metrics.homogenisation`, :mod:`~experiments.metrics.diversity`,
:mod:`~experiments.metrics.echo_chamber`), credit to candidate sources
(:mod:`~experiments.metrics.credit`), generative-model health reported by a policy
(:mod:`~experiments.metrics.health`), per-user breakdowns
(:mod:`~experiments.metrics.per_user`), the tracker that feeds a run's contexts
(:mod:`~experiments.metrics.tracker`, :mod:`~experiments.metrics.history`) and what
each recorded name means to a person (:mod:`~experiments.metrics.describe`).
"""

from experiments.metrics import (  # noqa: F401  (each family registers its metrics on import)
    credit,
    diversity,
    drift,
    echo_chamber,
    engagement,
    exposure,
    homogenisation,
    search,
)
from experiments.metrics.describe import (
    MetricDescription,
    axis_label,
    describe_metric,
    readable_name,
)
from experiments.metrics.registry import (
    FAMILIES,
    HEALTH_PREFIX,
    OTHER_FAMILY,
    MetricContext,
    available_metrics,
    compute_metrics,
    metric,
    metric_doc,
    metric_family,
    metric_unit,
    tidy_metrics,
)

__all__ = [
    "FAMILIES",
    "HEALTH_PREFIX",
    "OTHER_FAMILY",
    "MetricContext",
    "MetricDescription",
    "available_metrics",
    "axis_label",
    "compute_metrics",
    "describe_metric",
    "metric",
    "metric_doc",
    "metric_family",
    "metric_unit",
    "readable_name",
    "tidy_metrics",
]
