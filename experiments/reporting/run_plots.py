"""Plots of a run, drawn from its result files only (so they can be redrawn any time).

Uses matplotlib's object-oriented API with the Agg canvas (no pyplot, no display, no
global figure state). One PNG per metric: the value over episodes, one line per
(policy, seed) in the table, titled with the metric's one-line definition; and
``overview.png``, every metric as a small panel, grouped by metric family. Axes are
labelled (``episode``; the metric in words with its unit) and series that are constant
over episodes are marked as such (:mod:`experiments.reporting.panels`).

Every per-episode plot (here, in :mod:`experiments.reporting.compare_plots` and
:mod:`experiments.reporting.drift_plots`) marks the scenario's interventions: a dotted vertical
line at ``x = episode − 0.5`` (an intervention is applied between episodes
``episode − 1`` and ``episode``) with a short label. The markers are read from the
resolved scenario stored in the runs' ``manifest.json`` (:func:`intervention_markers`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiments.atomic import atomic_path
from experiments.errors import UserError
from experiments.reporting.compare_report import family_heading, group_by_family
from experiments.reporting.panels import finish_panel, metric_title

__all__ = [
    "Marker",
    "draw_markers",
    "fixed_margins",
    "intervention_markers",
    "markers_from_scenario",
    "metric_figure",
    "overview_figure",
    "plot_metric",
    "plot_metrics_table",
    "plot_overview",
    "plot_run",
]

_KIND_LABELS = {
    "interest_shock": "interest shock",
    "catalog_shock": "catalogue shock",
    "policy_swap": "policy swap",
}


@dataclass(frozen=True)
class Marker:
    """An intervention marker of the per-episode plots.

    Attributes:
        episode: The episode the intervention precedes.
        label: Short text drawn next to the line (every intervention of the episode).
    """

    episode: int
    label: str


def _short_label(spec: Mapping[str, Any]) -> str:
    kind = str(spec.get("kind", "intervention"))
    label = _KIND_LABELS.get(kind, kind.replace("_", " "))
    policy = spec.get("policy")
    if kind == "policy_swap" and isinstance(policy, Mapping) and policy.get("name"):
        label += f" → {policy['name']}"
    return label


def markers_from_scenario(scenario: Mapping[str, Any]) -> list[Marker]:
    """The intervention markers of a resolved scenario (JSON data, as in a manifest).

    Args:
        scenario: The scenario mapping; its ``interventions`` list is read.

    Returns:
        One marker per episode with interventions, ascending; interventions sharing an
        episode are joined with ``" + "`` in scenario order.
    """
    by_episode: dict[int, list[str]] = {}
    for spec in scenario.get("interventions") or []:
        if isinstance(spec, Mapping) and "episode" in spec:
            by_episode.setdefault(int(spec["episode"]), []).append(_short_label(spec))
    return [Marker(e, " + ".join(labels)) for e, labels in sorted(by_episode.items())]


def intervention_markers(run_dirs: Iterable[Path]) -> list[Marker]:
    """The intervention markers of runs, from each ``manifest.json``'s resolved scenario.

    Runs of one comparison share their interventions; markers of differing runs are
    merged (one per episode, labels joined). A run without a readable manifest adds none.

    Args:
        run_dirs: Run directories.

    Returns:
        Markers, ascending by episode.
    """
    labels: dict[int, list[str]] = {}
    for run_dir in run_dirs:
        try:
            manifest = json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for marker in markers_from_scenario(manifest.get("scenario") or {}):
            known = labels.setdefault(marker.episode, [])
            if marker.label not in known:
                known.append(marker.label)
    return [Marker(e, " + ".join(parts)) for e, parts in sorted(labels.items())]


def draw_markers(
    ax: Axes,
    markers: Sequence[Marker],
    *,
    last_episode: int | None = None,
    small: bool = False,
    color: str = "0.2",
) -> list[int]:
    """Draw each marker as a dotted vertical line at ``episode − 0.5`` with its label.

    Args:
        ax: Axes whose x axis is the episode.
        markers: The markers.
        last_episode: Last plotted episode; markers after it are left out.
        small: Smaller label (overview panels).
        color: Line and label colour.

    Returns:
        The episodes of the markers drawn.
    """
    drawn = []
    for marker in markers:
        if last_episode is not None and marker.episode > last_episode:
            continue
        x = marker.episode - 0.5
        ax.axvline(x, color=color, ls=":", lw=1.0, alpha=0.8, gid="intervention")
        ax.text(
            x,
            0.02,
            f" e{marker.episode}: {marker.label}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=5 if small else 7,
            color=color,
        )
        drawn.append(marker.episode)
    return drawn


def fixed_margins(
    fig: Figure,
    left: float,
    right: float,
    bottom: float,
    top: float,
    wspace: float = 0.3,
    hspace: float = 0.55,
) -> None:
    """Set a figure's margins in inches (``tight_layout`` costs ~0.1 s per figure).

    Args:
        fig: The figure.
        left: Left margin (inches).
        right: Right margin (inches).
        bottom: Bottom margin (inches).
        top: Top margin (inches).
        wspace: Width between panels (share of a panel's width).
        hspace: Height between panels (share of a panel's height).
    """
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=wspace,
        hspace=hspace,
    )


def _last_episode(table: pd.DataFrame) -> int | None:
    return int(table["episode"].max()) if len(table) else None


def _save(fig: Figure, target: Path) -> Path:
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


def _draw_metric(
    ax: Axes, rows: pd.DataFrame, name: str, markers: Sequence[Marker], small: bool
) -> int:
    """One metric's lines (one per (policy, seed) group), labelled and marked.

    Returns:
        The number of lines drawn.
    """
    group_cols = [c for c in ("policy", "seed") if c in rows.columns]
    groups = rows.groupby(group_cols, sort=True) if group_cols else [((), rows)]
    series: dict[str, list[float]] = {}
    for key, part in groups:
        part = part.sort_values("episode")
        label = " ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        ax.plot(
            part["episode"],
            part["value"],
            marker="o",
            markersize=2 if small else 3,
            label=label or None,
        )
        series[label] = part["value"].tolist()
    ax.grid(True, alpha=0.3)
    if small:
        ax.tick_params(labelsize=7)
    finish_panel(ax, name, series, rows["episode"].tolist(), small=small)
    draw_markers(ax, markers, last_episode=_last_episode(rows), small=small)
    return len(series)


def metric_figure(table: pd.DataFrame, name: str, markers: Sequence[Marker] = ()) -> Figure:
    """One metric over episodes: title (name and definition), labelled axes, markers.

    Args:
        table: Tidy metrics (columns ``episode, metric, value`` and optionally
            ``policy``, ``seed``).
        name: The metric to draw.
        markers: Intervention markers.
    """
    fig = Figure(figsize=(6.0, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    n_lines = _draw_metric(ax, table[table["metric"] == name], name, markers, small=False)
    ax.set_title(metric_title(name), fontsize=9)
    if n_lines > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_metric(
    table: pd.DataFrame, name: str, target: Path, markers: Sequence[Marker] = ()
) -> Path:
    """Draw :func:`metric_figure` to ``target`` (PNG), atomically; returns ``target``."""
    return _save(metric_figure(table, name, markers), target)


def overview_figure(table: pd.DataFrame, n_cols: int = 3, markers: Sequence[Marker] = ()) -> Figure:
    """Every metric of ``table`` as small labelled panels, one block of rows per family.

    Families come in report order (:func:`experiments.reporting.compare_report.group_by_family`),
    each starting a new row under its heading; metrics are sorted within a family.
    """
    blocks = [(f, names) for f, names in group_by_family(table["metric"].unique()) if names]
    n_rows = max(1, sum(-(-len(names) // n_cols) for _, names in blocks))
    fig = Figure(figsize=(3.5 * n_cols, 2.5 * n_rows + 0.4), dpi=100)
    FigureCanvasAgg(fig)
    fixed_margins(fig, left=0.75, right=0.15, bottom=0.45, top=0.75, wspace=0.5, hspace=0.62)
    row = 0
    for family, names in blocks:
        for i, name in enumerate(names):
            ax = fig.add_subplot(n_rows, n_cols, (row + i // n_cols) * n_cols + i % n_cols + 1)
            _draw_metric(ax, table[table["metric"] == name], name, markers, small=True)
            ax.set_title(name, fontsize=8)
            if i == 0:
                top = ax.get_position().y1 + 0.3 / fig.get_size_inches()[1]
                fig.text(0.01, top, family_heading(family), fontsize=11, weight="bold")
        row += -(-len(names) // n_cols)
    return fig


def plot_overview(
    table: pd.DataFrame, target: Path, n_cols: int = 3, markers: Sequence[Marker] = ()
) -> Path:
    """Draw :func:`overview_figure` to ``target`` (PNG), atomically; returns ``target``."""
    return _save(overview_figure(table, n_cols, markers), target)


def plot_metrics_table(
    table: pd.DataFrame, out_dir: Path, markers: Sequence[Marker] = ()
) -> list[Path]:
    """Draw ``out_dir/<metric>.png`` for every metric of ``table``, plus ``overview.png``."""
    paths = [
        plot_metric(table, name, out_dir / f"{name}.png", markers)
        for name in sorted(table["metric"].unique())
    ]
    return [*paths, plot_overview(table, out_dir / "overview.png", markers=markers)]


def plot_run(run_dir: Path) -> list[Path]:
    """(Re)draw ``run_dir/plots/*.png`` from ``run_dir/metrics.parquet``.

    Intervention markers come from ``run_dir/manifest.json``.

    Raises:
        UserError: If the run has no metrics table.
    """
    metrics_path = Path(run_dir) / "metrics.parquet"
    if not metrics_path.is_file():
        raise UserError(
            f"{run_dir}: no metrics.parquet (not a run directory, or no episode finished)"
        )
    return plot_metrics_table(
        pd.read_parquet(metrics_path),
        Path(run_dir) / "plots",
        intervention_markers([Path(run_dir)]),
    )
