"""Conventions every per-episode metric panel keeps (run and compare plots alike).

* Axes: ``episode`` on x (integer ticks), the metric's readable name with its unit on y
  (:func:`experiments.metrics.axis_label`), the name and its one-line definition in
  the title of a full-size figure (:func:`metric_title`).
* Constant series: a series whose finite values over at least two episodes are all
  equal (within :data:`CONSTANT_RTOL`) is drawn as it is, but on a fixed y-range from
  zero to twice the value (:func:`constant_ylim`), with the text ``constant: <value>`` in
  the panel (:func:`mark_constant`): an auto-scaled axis would stretch a flat line
  over a range of 1e-15 and make it look like data. A ``health_sid_*`` value of a run
  that never rebuilds its semantic IDs is such a series.
* A panel without any finite value says ``no values``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from experiments.metrics import axis_label, describe_metric

__all__ = [
    "CONSTANT_RTOL",
    "constant_value",
    "constant_ylim",
    "finish_panel",
    "label_panel",
    "mark_constant",
    "mark_no_values",
    "metric_title",
    "series_constants",
]

#: Relative tolerance under which a series counts as constant (float round-off only).
CONSTANT_RTOL = 1e-9
#: Characters per line of a small panel's wrapped y label.
_SMALL_LABEL_WIDTH = 26
#: ... of a full-size figure's y label, and of its title lines.
_LABEL_WIDTH = 45
_TITLE_WIDTH = 80


def constant_value(values: Iterable[float]) -> float | None:
    """The value of a series that is constant over episodes, else ``None``.

    ``NaN`` episodes are skipped; a series needs at least two finite values to count
    as constant, all within ``CONSTANT_RTOL · max(1, |value|)`` of each other.

    Example: ``[nan, 0.5, 0.5, 0.5]`` → ``0.5``; ``[0.5, 0.5000001]`` → ``None``;
    ``[0.5]`` → ``None``.
    """
    finite = np.asarray(list(values), np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return None
    low, high = float(finite.min()), float(finite.max())
    if high - low <= CONSTANT_RTOL * max(1.0, abs(low), abs(high)):
        return float(finite[0])
    return None


def constant_ylim(values: Sequence[float]) -> tuple[float, float]:
    """A fixed y-range showing constants against zero: from 0 to twice the largest.

    Example: ``[0.048]`` → ``(0, 0.096)``; ``[-2.0]`` → ``(-4, 0)``; ``[0.0]`` →
    ``(-1, 1)``; ``[-1.0, 3.0]`` → ``(-2, 6)``.
    """
    low, high = min(0.0, *values), max(0.0, *values)
    if low == high:
        return -1.0, 1.0
    return 2.0 * low, 2.0 * high


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def mark_constant(ax: Axes, constants: Mapping[str, float], *, small: bool = False) -> str:
    """Mark a panel whose every series is constant: fixed y-range and a text.

    Args:
        ax: The panel.
        constants: ``{series label: value}`` of every series drawn (labels may be
            ``""`` for a single unlabelled series).
        small: Smaller text (overview panels).

    Returns:
        The text drawn: ``constant: 0.0481`` when the series share one value, else
        ``constant: a 0.0481, b 0.05`` (one series per line).
    """
    values = list(constants.values())
    if len(set(values)) == 1:
        text = f"constant: {_fmt(values[0])}"
    else:
        text = "constant:\n" + "\n".join(
            f"{label} {_fmt(value)}".strip() for label, value in constants.items()
        )
    ax.set_ylim(*constant_ylim(values))
    ax.text(
        0.5,
        0.9,
        text,
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=7 if small else 9,
        color="0.25",
        bbox={"boxstyle": "round", "fc": "white", "ec": "0.6", "alpha": 0.9},
        gid="constant",
    )
    return text


def mark_no_values(ax: Axes, *, small: bool = False) -> None:
    """Say ``no values`` in a panel whose series have no finite value."""
    ax.text(
        0.5,
        0.5,
        "no values",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=7 if small else 9,
        color="0.4",
        gid="no-values",
    )


def label_panel(ax: Axes, name: str, *, small: bool = False) -> None:
    """Axis labels of a metric panel: ``episode`` and the readable name with its unit.

    Args:
        ax: The panel (x: episode).
        name: The recorded metric name.
        small: A small panel of a grid: smaller, wrapped labels.
    """
    size = 7 if small else None
    ax.set_xlabel("episode", fontsize=size)
    ax.set_ylabel(axis_label(name, _SMALL_LABEL_WIDTH if small else _LABEL_WIDTH), fontsize=size)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def metric_title(name: str, *extra: str, width: int = _TITLE_WIDTH) -> str:
    """Title of a full-size metric figure: the name, its definition, then ``extra`` lines.

    The definition is wrapped onto lines of at most ``width`` characters.
    """
    definition = textwrap.wrap(describe_metric(name).definition, width)
    return "\n".join(line for line in (name, *definition, *extra) if line)


def series_constants(series: Mapping[str, Sequence[float]]) -> dict[str, float] | None:
    """``{label: value}`` when every series with a finite value is constant, else ``None``.

    Series without any finite value are ignored; ``None`` also when no series has a
    finite value.
    """
    constants: dict[str, float] = {}
    for label, values in series.items():
        if not any(math.isfinite(v) for v in values):
            continue
        value = constant_value(values)
        if value is None:
            return None
        constants[label] = value
    return constants or None


def finish_panel(
    ax: Axes,
    name: str,
    series: Mapping[str, Sequence[float]],
    episodes: Sequence[int] = (),
    *,
    small: bool = False,
) -> str | None:
    """Label a drawn metric panel and mark it constant or empty when it is.

    Args:
        ax: The panel, its lines drawn.
        name: The recorded metric name.
        series: ``{label: values over episodes}`` of every line drawn.
        episodes: The episodes drawn (the x range of a panel without values).
        small: A small panel of a grid.

    Returns:
        The ``constant: ...`` text drawn, or ``None``.
    """
    label_panel(ax, name, small=small)
    if not any(math.isfinite(v) for values in series.values() for v in values):
        mark_no_values(ax, small=small)
        if len(episodes):
            ax.set_xlim(min(episodes) - 0.5, max(episodes) + 0.5)
        return None
    constants = series_constants(series)
    return None if constants is None else mark_constant(ax, constants, small=small)
