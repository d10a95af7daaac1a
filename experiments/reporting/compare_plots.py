"""Plots of a comparison, drawn from ``per_run.parquet`` only (redrawable any time).

Per metric, one line per policy: the mean over seeds of the per-episode value, with a
band of its 95% t-interval across seeds (no band with one seed). Warm-up episodes are
shaded and labelled; interventions are marked
(:func:`experiments.reporting.run_plots.draw_markers`).
Upper-bound policies are drawn dashed and labelled as such. Besides one PNG per metric
(titled with the metric's one-line definition), ``compare_overview.png`` holds the main
metrics' panels and ``compare_family_<key>.png`` every metric of one family
(:data:`experiments.reporting.compare_report.FAMILIES`). Axes are labelled and a metric
whose every policy line is constant over episodes is marked as such
(:mod:`experiments.reporting.panels`).
Matplotlib's object-oriented API on the Agg canvas (no pyplot, no global state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiments.atomic import atomic_path
from experiments.reporting.panels import finish_panel, metric_title
from experiments.reporting.run_plots import Marker, draw_markers, fixed_margins
from experiments.reporting.stats import group_intervals

__all__ = ["episode_bands", "family_plot_name", "metric_figure", "panels_figure", "plot_compare"]


def family_plot_name(family: str) -> str:
    """File name of a family's figure: ``compare_family_<family>.png``."""
    return f"compare_family_{family}.png"


def episode_bands(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per (policy, metric, episode): mean over seeds and its 95% t-interval.

    Returns:
        Columns ``policy, metric, episode, mean, ci_low, ci_high, n``.
    """
    return group_intervals(per_run, ["policy", "metric", "episode"])


def _draw(
    ax: Axes,
    bands: pd.DataFrame,
    metric: str,
    policies: Sequence[str],
    label: Callable[[str], str],
    upper_bounds: frozenset[str],
    warmup_episodes: int,
    small: bool,
    markers: Sequence[Marker] = (),
) -> None:
    rows = bands[bands["metric"] == metric]
    if warmup_episodes:
        ax.axvspan(-0.5, warmup_episodes - 0.5, color="0.85", alpha=0.6, lw=0)
        ax.text(
            (warmup_episodes - 1) / 2,
            0.98,
            "warm-up",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=6 if small else 8,
            color="0.35",
        )
    series: dict[str, list[float]] = {}
    for i, policy in enumerate(policies):
        part = rows[rows["policy"] == policy].sort_values("episode")
        if part.empty:
            continue
        color = f"C{i % 10}"
        x = part["episode"].to_numpy()
        style = "--" if policy in upper_bounds else "-"
        ax.plot(
            x,
            part["mean"],
            style,
            color=color,
            marker="o",
            markersize=2 if small else 3,
            label=label(policy),
        )
        series[label(policy)] = part["mean"].tolist()
        low, high = part["ci_low"].to_numpy(), part["ci_high"].to_numpy()
        if np.isfinite(low).any():
            ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
    ax.grid(True, alpha=0.3)
    if small:
        ax.tick_params(labelsize=7)
    finish_panel(ax, metric, series, rows["episode"].tolist(), small=small)
    if len(rows):
        draw_markers(ax, markers, last_episode=int(rows["episode"].max()), small=small)


def _save(fig: Figure, target: Path) -> Path:
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


def panels_figure(
    bands: pd.DataFrame,
    panels: Sequence[str],
    policies: Sequence[str],
    draw_args: tuple[Callable[[str], str], frozenset[str], int, Sequence[Marker]],
) -> Figure:
    """A grid of small labelled panels, one per metric, with one legend below.

    Args:
        bands: :func:`episode_bands` of the comparison.
        panels: Metrics, one panel each, in order.
        policies: Policies, in legend order.
        draw_args: ``(label, upper_bounds, warmup_episodes, markers)`` as for
            :func:`plot_compare`.
    """
    label, upper_bounds, warmup_episodes, markers = draw_args
    n_cols = min(3, len(panels))
    n_rows = -(-len(panels) // n_cols)
    height = 2.8 * n_rows + 0.6
    fig = Figure(figsize=(3.7 * n_cols, height), dpi=100)
    FigureCanvasAgg(fig)
    for i, metric in enumerate(panels):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        _draw(ax, bands, metric, policies, label, upper_bounds, warmup_episodes, True, markers)
        ax.set_title(metric, fontsize=9)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5) or 1, fontsize=8)
    fixed_margins(fig, left=0.75, right=0.15, bottom=0.6 + 0.45, top=0.3, wspace=0.5, hspace=0.6)
    return fig


def metric_figure(
    bands: pd.DataFrame,
    metric: str,
    policies: Sequence[str],
    n_seeds: int,
    draw_args: tuple[Callable[[str], str], frozenset[str], int, Sequence[Marker]],
) -> Figure:
    """One metric of a comparison: a line per policy (mean over seeds) with its band.

    The title holds the metric's name, its one-line definition and what the band is.
    """
    label, upper_bounds, warmup_episodes, markers = draw_args
    fig = Figure(figsize=(6.4, 3.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    _draw(ax, bands, metric, policies, label, upper_bounds, warmup_episodes, False, markers)
    band = "95% t-interval across seeds" if n_seeds > 1 else "one seed: no interval"
    title = metric_title(metric, f"mean over {n_seeds} seeds, band: {band}")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
    top = 0.2 + 0.14 * (title.count("\n") + 1)
    fixed_margins(fig, left=0.85, right=0.15, bottom=0.5, top=top)
    return fig


def plot_compare(
    per_run: pd.DataFrame,
    out_dir: Path,
    *,
    label: Callable[[str], str] = str,
    upper_bounds: frozenset[str] = frozenset(),
    warmup_episodes: int = 0,
    overview_metrics: Sequence[str] | None = None,
    markers: Sequence[Marker] = (),
    families: Mapping[str, Sequence[str]] | None = None,
) -> list[Path]:
    """Draw ``compare_<metric>.png`` per metric, ``compare_overview.png`` and family figures.

    Args:
        per_run: Columns ``policy, seed, episode, metric, value``.
        out_dir: The plots folder.
        label: Display name of a policy.
        upper_bounds: Policies drawn dashed (upper bounds).
        warmup_episodes: Leading episodes shaded as warm-up.
        overview_metrics: Panels of the overview (default: every metric).
        markers: Intervention markers (dotted vertical lines with a label).
        families: ``{family key: metrics}``; one ``compare_family_<key>.png`` per family
            with metrics in ``per_run`` (none by default).

    Returns:
        The files written: per-metric plots, the overview, then the family figures.
    """
    bands = episode_bands(per_run)
    policies = list(pd.unique(per_run["policy"]))
    metrics = sorted(per_run["metric"].unique())
    n_seeds = per_run["seed"].nunique()
    draw_args = (label, upper_bounds, warmup_episodes, markers)
    paths = [
        _save(
            metric_figure(bands, metric, policies, n_seeds, draw_args),
            out_dir / f"compare_{metric}.png",
        )
        for metric in metrics
    ]
    panels = [m for m in (overview_metrics or metrics) if m in metrics] or metrics
    overview = panels_figure(bands, panels, policies, draw_args)
    paths.append(_save(overview, out_dir / "compare_overview.png"))
    for family, names in (families or {}).items():
        present = [m for m in names if m in metrics]
        if present:
            figure = panels_figure(bands, present, policies, draw_args)
            paths.append(_save(figure, out_dir / family_plot_name(family)))
    return paths
