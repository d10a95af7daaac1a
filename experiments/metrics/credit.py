"""Credit metrics: feed CTR and clicks per candidate source (the items' provenance).

Every served feed item carries the source that produced it, as declared by the policy
and validated by the serving layer (column ``origin``: ``sid_beam``, ``query_expansion``,
``content``, ``popular``, ``retrieval``, ``exploration``). Registered here (family
``credit``), for each source ``<s>`` of :data:`SOURCES`:

* ``ctr_source_<s>`` — feed clicks on items from ``<s>`` / feed impressions of items
  from ``<s>`` (``NaN`` when the policy served none);
* ``click_share_source_<s>`` — feed clicks on items from ``<s>`` / all feed clicks.

So a result attributed to a part of a policy can be read off the log: which source the
clicks came from, and how well each source's items did where they were shown (their
positions differ, so CTRs of two sources compare the sources as ranked by the policy).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from experiments.metrics.common import is_event, ratio
from experiments.metrics.registry import MetricContext, metric

__all__ = ["FAMILY", "SOURCES", "source_of"]

FAMILY = "credit"
#: The candidate sources reported, as logged (:class:`sim.events.Provenance` names).
SOURCES: tuple[str, ...] = (
    "sid_beam",
    "query_expansion",
    "content",
    "popular",
    "retrieval",
    "exploration",
)
#: Logged names of older logs, mapped to the current ones.
_RENAMED = {"search_expansion": "query_expansion"}


def source_of(events: pd.DataFrame) -> np.ndarray:
    """Each row's source name (``origin``, older names mapped to the current ones)."""
    origin = events["origin"].astype(str).to_numpy()
    for old, new in _RENAMED.items():
        origin = np.where(origin == old, new, origin)
    return origin


def _ctr_of(source: str) -> Callable[[pd.DataFrame, MetricContext], float]:
    def fn(events: pd.DataFrame, context: MetricContext) -> float:
        from_source = source_of(events) == source
        return ratio(
            (is_event(events, "click") & from_source).sum(),
            (is_event(events, "impression") & from_source).sum(),
        )

    fn.__doc__ = f"Feed CTR of items from source {source}: their clicks / their impressions."
    return fn


def _click_share_of(source: str) -> Callable[[pd.DataFrame, MetricContext], float]:
    def fn(events: pd.DataFrame, context: MetricContext) -> float:
        clicks = is_event(events, "click")
        return ratio((clicks & (source_of(events) == source)).sum(), clicks.sum())

    fn.__doc__ = f"Share of feed clicks on items from source {source}."
    return fn


for _source in SOURCES:
    metric(f"ctr_source_{_source}", FAMILY, unit="ratio")(_ctr_of(_source))
    metric(f"click_share_source_{_source}", FAMILY, unit="ratio")(_click_share_of(_source))
