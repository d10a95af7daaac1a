"""Plots of a comparison, drawn from ``per_run.parquet`` only (redrawable any time).

Per metric, one line per policy: the mean over seeds of the per-episode value, with a
band of its 95% t-interval across seeds (no band with one seed). Warm-up episodes are
shaded and labelled. Upper-bound policies are drawn dashed and labelled as such.
Matplotlib's object-oriented API on the Agg canvas (no pyplot, no global state).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from experiments.atomic import atomic_path
from experiments.metrics import available_metrics, metric_doc
from experiments.stats import group_intervals

__all__ = ["episode_bands", "plot_compare"]


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
        low, high = part["ci_low"].to_numpy(), part["ci_high"].to_numpy()
        if np.isfinite(low).any():
            ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


def _save(fig: Figure, target: Path) -> Path:
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


def plot_compare(
    per_run: pd.DataFrame,
    out_dir: Path,
    *,
    label: Callable[[str], str] = str,
    upper_bounds: frozenset[str] = frozenset(),
    warmup_episodes: int = 0,
    overview_metrics: Sequence[str] | None = None,
) -> list[Path]:
    """Draw ``out_dir/compare_<metric>.png`` per metric and ``compare_overview.png``.

    Args:
        per_run: Columns ``policy, seed, episode, metric, value``.
        out_dir: The plots folder.
        label: Display name of a policy.
        upper_bounds: Policies drawn dashed (upper bounds).
        warmup_episodes: Leading episodes shaded as warm-up.
        overview_metrics: Panels of the overview (default: every metric).

    Returns:
        The files written.
    """
    bands = episode_bands(per_run)
    policies = list(pd.unique(per_run["policy"]))
    metrics = sorted(per_run["metric"].unique())
    n_seeds = per_run["seed"].nunique()
    paths = []
    for metric in metrics:
        fig = Figure(figsize=(6.4, 3.8), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        _draw(ax, bands, metric, policies, label, upper_bounds, warmup_episodes, small=False)
        doc = metric_doc(metric) if metric in available_metrics() else ""
        band = "95% t-interval across seeds" if n_seeds > 1 else "one seed: no interval"
        ax.set_title(f"{metric}\n{doc}\nmean over {n_seeds} seeds, band: {band}", fontsize=8)
        ax.set_xlabel("episode")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7)
        paths.append(_save(fig, out_dir / f"compare_{metric}.png"))
    panels = [m for m in (overview_metrics or metrics) if m in metrics] or metrics
    n_cols = min(3, len(panels))
    n_rows = -(-len(panels) // n_cols)
    fig = Figure(figsize=(3.6 * n_cols, 2.6 * n_rows + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    for i, metric in enumerate(panels):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        _draw(ax, bands, metric, policies, label, upper_bounds, warmup_episodes, small=True)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(labelsize=7)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
    fig.tight_layout(rect=(0, 0.6 / (2.6 * n_rows + 0.6), 1, 1))
    with atomic_path(out_dir / "compare_overview.png") as tmp:
        fig.savefig(tmp, format="png")
    return [*paths, out_dir / "compare_overview.png"]
