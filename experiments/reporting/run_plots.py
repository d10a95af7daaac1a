"""Plots of a run, drawn from its result files only (so they can be redrawn any time).

Uses matplotlib's object-oriented API with the Agg canvas (no pyplot, no display, no
global figure state). One PNG per metric: the value over episodes, one line per
(policy, seed) in the table.

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
from matplotlib.ticker import MaxNLocator

from experiments.atomic import atomic_path
from experiments.errors import UserError
from experiments.metrics import available_metrics, metric_doc

__all__ = [
    "Marker",
    "draw_markers",
    "fixed_margins",
    "intervention_markers",
    "markers_from_scenario",
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


def plot_metric(
    table: pd.DataFrame, name: str, target: Path, markers: Sequence[Marker] = ()
) -> Path:
    """Draw one metric over episodes to ``target`` (PNG), atomically.

    Args:
        table: Tidy metrics (columns ``episode, metric, value`` and optionally
            ``policy``, ``seed``).
        name: The metric to draw.
        target: Output file.
        markers: Intervention markers.

    Returns:
        ``target``.
    """
    rows = table[table["metric"] == name]
    group_cols = [c for c in ("policy", "seed") if c in rows.columns]
    fig = Figure(figsize=(6.0, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    groups = rows.groupby(group_cols, sort=True) if group_cols else [((), rows)]
    for key, part in groups:
        part = part.sort_values("episode")
        label = " ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        ax.plot(part["episode"], part["value"], marker="o", markersize=3, label=label or None)
    ax.set_xlabel("episode")
    ax.set_ylabel(name)
    doc = metric_doc(name) if name in available_metrics() else ""
    ax.set_title(f"{name}\n{doc}" if doc else name, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    draw_markers(ax, markers, last_episode=_last_episode(rows))
    if group_cols and len(rows.groupby(group_cols)) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


def plot_overview(
    table: pd.DataFrame, target: Path, n_cols: int = 3, markers: Sequence[Marker] = ()
) -> Path:
    """Draw every metric of ``table`` as a grid of small panels to ``target`` (PNG)."""
    names = sorted(table["metric"].unique())
    n_rows = max(1, -(-len(names) // n_cols))
    fig = Figure(figsize=(3.4 * n_cols, 2.4 * n_rows), dpi=100)
    FigureCanvasAgg(fig)
    group_cols = [c for c in ("policy", "seed") if c in table.columns]
    for i, name in enumerate(names):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        rows = table[table["metric"] == name]
        groups = rows.groupby(group_cols, sort=True) if group_cols else [((), rows)]
        for _, part in groups:
            part = part.sort_values("episode")
            ax.plot(part["episode"], part["value"], marker="o", markersize=2)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        draw_markers(ax, markers, last_episode=_last_episode(rows), small=True)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


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
