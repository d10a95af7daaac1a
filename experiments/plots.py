"""Plots of a run, drawn from its result files only (so they can be redrawn any time).

Uses matplotlib's object-oriented API with the Agg canvas (no pyplot, no display, no
global figure state). One PNG per metric: the value over episodes, one line per
(policy, seed) in the table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiments.atomic import atomic_path
from experiments.errors import UserError
from experiments.metrics import available_metrics, metric_doc

__all__ = ["plot_metric", "plot_metrics_table", "plot_overview", "plot_run"]


def plot_metric(table: pd.DataFrame, name: str, target: Path) -> Path:
    """Draw one metric over episodes to ``target`` (PNG), atomically.

    Args:
        table: Tidy metrics (columns ``episode, metric, value`` and optionally
            ``policy``, ``seed``).
        name: The metric to draw.
        target: Output file.

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
    if group_cols and len(rows.groupby(group_cols)) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


def plot_overview(table: pd.DataFrame, target: Path, n_cols: int = 3) -> Path:
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
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


def plot_metrics_table(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Draw ``out_dir/<metric>.png`` for every metric of ``table``, plus ``overview.png``."""
    paths = [
        plot_metric(table, name, out_dir / f"{name}.png")
        for name in sorted(table["metric"].unique())
    ]
    return [*paths, plot_overview(table, out_dir / "overview.png")]


def plot_run(run_dir: Path) -> list[Path]:
    """(Re)draw ``run_dir/plots/*.png`` from ``run_dir/metrics.parquet``.

    Raises:
        UserError: If the run has no metrics table.
    """
    metrics_path = Path(run_dir) / "metrics.parquet"
    if not metrics_path.is_file():
        raise UserError(
            f"{run_dir}: no metrics.parquet (not a run directory, or no episode finished)"
        )
    return plot_metrics_table(pd.read_parquet(metrics_path), Path(run_dir) / "plots")
