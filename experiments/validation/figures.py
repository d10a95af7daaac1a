"""Small figures of the validation studies: per-arm means over seeds, by episode."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from experiments.atomic import atomic_path
from experiments.reporting.stats import group_intervals

__all__ = ["plot_metrics"]


def plot_metrics(table: pd.DataFrame, metrics: Sequence[str], title: str, path: Path) -> Path:
    """One panel per metric: each arm's mean over seeds by episode, with its 95% t-band.

    Args:
        table: Tidy ``arm, seed, episode, metric, value``.
        metrics: Metrics drawn, one panel each.
        title: Figure title.
        path: PNG written (atomically).

    Returns:
        ``path``.
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.0), squeeze=False)
    for ax, name in zip(axes[0], metrics, strict=True):
        rows = table[table["metric"] == name]
        summary = group_intervals(rows, ["arm", "episode"])
        for arm, part in summary.groupby("arm", sort=False):
            part = part.sort_values("episode")
            ax.plot(part["episode"], part["mean"], label=str(arm), lw=1.5)
            ax.fill_between(part["episode"], part["ci_low"], part["ci_high"], alpha=0.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("episode", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return path
