"""What a recorded metric is, for people: family, one-line definition, unit, axis label.

Covers every name a ``metrics.parquet`` or ``per_run.parquet`` can hold: the registered
episode metrics (:mod:`experiments.metrics.registry`; definition = the first line of
the metric's docstring), the values a policy reports about its model
(:data:`experiments.metrics.health.HEALTH_DEFINITIONS`) and ``<metric>_rel_<policy>``
rows relative to a reference run (:func:`experiments.metrics.diversity.relative_to_reference`).
The CLI (``onefeed run``, ``onefeed list``), the plots and the reports read them here.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from experiments.metrics.health import health_definition
from experiments.metrics.registry import (
    SUFFIX_UNITS,
    available_metrics,
    metric_doc,
    metric_family,
    metric_unit,
    unit_from_suffix,
)

__all__ = ["MetricDescription", "axis_label", "describe_metric", "readable_name"]

#: Name parts shown in capitals or another spelling in labels.
_WORDS = {
    "ari": "ARI",
    "ctr": "CTR",
    "gini": "Gini",
    "js": "JS",
    "kl": "KL",
    "mrr": "MRR",
    "rel": "relative",
    "sid": "SID",
}
_LEVEL = re.compile(r"l(\d+)")
_REL = "_rel_"
_NBSP = "\u00a0"


@dataclass(frozen=True)
class MetricDescription:
    """What one recorded metric is.

    Attributes:
        name: The recorded name.
        family: Key of :data:`experiments.metrics.FAMILIES`, or ``"other"``.
        definition: One line (``""`` for a name nothing defines).
        unit: Unit as ``docs/metrics.md`` states it; for a name nothing defines, the
            unit its suffix states (``""``: none known).
    """

    name: str
    family: str
    definition: str
    unit: str


def describe_metric(name: str) -> MetricDescription:
    """The family, definition and unit of a recorded metric name.

    Example: ``describe_metric("dwell_per_session_s").unit == "s"``;
    ``describe_metric("health_sid_collapse_l0").definition`` starts with
    ``"Codebook collapse at SID level 0"``.
    """
    family = metric_family(name)
    if name in available_metrics():
        return MetricDescription(name, family, metric_doc(name), metric_unit(name))
    health = health_definition(name)
    if health is not None:
        return MetricDescription(name, family, health.definition, health.unit)
    base, sep, reference = name.partition(_REL)
    if sep and base in available_metrics():
        definition = f"{base} / the {reference} run's {base} (same seed and episode)"
        return MetricDescription(name, family, definition, "ratio")
    return MetricDescription(name, family, "", unit_from_suffix(name))


def readable_name(name: str) -> str:
    """A metric name in words, without the ``health_`` prefix and the unit suffix.

    Examples: ``dwell_per_session_s`` → ``dwell per session``;
    ``health_sid_entropy_l0_bits`` → ``SID entropy, level 0``;
    ``welfare_rel_oracle`` → ``welfare relative to oracle``.
    """
    base, sep, reference = name.partition(_REL)
    if sep:
        return f"{readable_name(base)} relative to {reference}"
    stem = name.removeprefix("health_")
    for suffix in SUFFIX_UNITS:
        if stem.endswith(suffix):
            stem = stem.removesuffix(suffix)
            break
    words = []
    for part in stem.split("_"):
        level = _LEVEL.fullmatch(part)
        words.append(f", level {level.group(1)}" if level else _WORDS.get(part, part))
    return " ".join(words).replace(" ,", ",")


def axis_label(name: str, width: int | None = None) -> str:
    """A readable axis label with the unit: ``dwell per session (s)``, ``impression Gini [0, 1]``.

    A unit that is a range (``[0, 1]``) follows the name; any other is in parentheses.

    Args:
        name: A recorded metric name.
        width: Wrap the label onto lines of at most this many characters (``None``: one
            line), for small panels.
    """
    unit = describe_metric(name).unit
    if unit and not unit.startswith(("[", "(")):
        unit = f"({unit})"
    # the unit and "level <k>" are wrapped as one word each (non-breaking spaces)
    words = re.sub(r"level (\d+)", rf"level{_NBSP}\1", readable_name(name))
    label = " ".join(part for part in (words, unit.replace(" ", _NBSP)) if part)
    lines = textwrap.wrap(label, width, break_long_words=False) if width else [label]
    return "\n".join(lines).replace(_NBSP, " ")
