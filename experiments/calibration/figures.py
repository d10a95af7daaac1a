"""Figures of the calibration report: the real log against the simulated one.

Four PNGs (matplotlib's object-oriented API on the Agg canvas, saved atomically like
:mod:`experiments.reporting.run_plots`), named after the statistic they show
(:data:`experiments.reporting.calibration_section.CALIBRATION_FIGURES`):

* ``item_popularity_lorenz.png`` — Lorenz curves of consumptions per item, the diagonal
  of equality, each curve's Gini in the legend;
* ``user_activity.png`` — ECDFs of consumptions per active user divided by their mean
  (log x);
* ``topic_shares.png`` — topic shares of consumption side by side, by topic name (and,
  with a synthetic world, every log's shares by rank);
* ``top_topic_share.png`` — ECDFs of the users' share of consumption in their own
  top-k topics.

An uncalibrated synthetic world's log may be drawn too (``synthetic``); its catalogue
is its own (``synthetic_item_topics``, ``synthetic_n_items``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from experiments.atomic import atomic_path
from experiments.calibration.statistics import (
    MIN_CONSUMPTIONS_TOP_TOPICS,
    gini,
    item_popularity,
    ks_distance,
    lorenz_curve,
    lorenz_gap,
    top_topic_shares,
    topic_share_divergence,
    topic_shares,
    user_activity,
)
from experiments.reporting.calibration_section import CALIBRATION_FIGURES
from experiments.reporting.run_plots import fixed_margins

__all__ = ["plot_calibration"]

_STYLES = {
    "real": {"color": "black", "ls": "-"},
    "simulated": {"color": "C0", "ls": "--"},
    "synthetic": {"color": "C3", "ls": ":"},
}


@dataclass(frozen=True)
class _Log:
    """One log to draw, with its catalogue."""

    label: str
    frame: pd.DataFrame
    item_topics: np.ndarray
    n_items: int


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, target: Path) -> Path:
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


def _ecdf(ax: Axes, values: np.ndarray, log: _Log, extra: str) -> None:
    """Step ECDF of ``values`` (shape ``(n,)``); an empty sample is only named."""
    label = f"{log.label} (n = {values.size}{extra})"
    if values.size == 0:
        ax.plot([], [], **_STYLES[log.label], label=f"{log.label} (no users)")
        return
    x = np.sort(values)
    y = np.arange(1, x.size + 1) / x.size
    ax.step(x, y, where="post", lw=1.4, label=label, **_STYLES[log.label])


def _draw_lorenz(logs: Sequence[_Log], target: Path) -> Path:
    fig = _figure(5.2, 4.4)
    ax = fig.add_subplot(1, 1, 1)
    counts = [item_popularity(log.frame, log.n_items) for log in logs]
    for log, c in zip(logs, counts, strict=True):
        x, y = lorenz_curve(c)
        ax.plot(x, y, lw=1.4, label=f"{log.label} (Gini {gini(c):.3f})", **_STYLES[log.label])
    ax.plot([0, 1], [0, 1], ":", color="0.5", lw=1, label="equality")
    ax.set_title(
        "Item popularity: Lorenz curve of consumption\n"
        f"max gap real vs simulated {lorenz_gap(counts[0], counts[1]):.3f}",
        fontsize=9,
    )
    ax.set_xlabel("share of items, least consumed first (fraction)")
    ax.set_ylabel("share of consumptions held (fraction)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fixed_margins(fig, left=0.75, right=0.2, bottom=0.6, top=0.55)
    return _save(fig, target)


def _draw_activity(logs: Sequence[_Log], target: Path) -> Path:
    fig = _figure(5.2, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    samples = [user_activity(log.frame) for log in logs]
    for log, sample in zip(logs, samples, strict=True):
        mean = len(log.frame) / max(1, log.frame["user"].nunique())
        _ecdf(ax, sample, log, f", mean {mean:.1f}")
    ax.set_xscale("log")
    ax.set_title(
        "User activity: consumptions per active user / mean\n"
        f"KS real vs simulated {ks_distance(samples[0], samples[1]):.3f}",
        fontsize=9,
    )
    ax.set_xlabel("consumptions per user ÷ mean over users (ratio, log scale)")
    ax.set_ylabel("share of users at or below (fraction)")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    fixed_margins(fig, left=0.75, right=0.2, bottom=0.6, top=0.55)
    return _save(fig, target)


def _draw_topic_bars(ax: Axes, shares: Sequence[np.ndarray], logs: Sequence[_Log], names) -> None:
    k = len(names)
    width = 0.8 / len(shares)
    for i, (log, s) in enumerate(zip(logs, shares, strict=True)):
        ax.bar(
            np.arange(k) + (i - (len(shares) - 1) / 2) * width,
            s,
            width,
            label=log.label,
            color=_STYLES[log.label]["color"],
            alpha=0.85,
        )
    ax.set_xticks(np.arange(k))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_xlim(-0.6, k - 0.4)


def _draw_topics(
    logs: Sequence[_Log], topic_names: Sequence[str], target: Path, by_rank: bool
) -> Path:
    shares = [topic_shares(log.frame, log.item_topics, log.n_items) for log in logs]
    k = len(topic_names)
    if shares[0].shape[0] != k:
        raise ValueError(f"{k} topic names for {shares[0].shape[0]} topics")
    width = min(18.0, max(6.0, 0.3 * k + 2.0))
    fig = _figure(width, 7.6 if by_rank else 4.4)
    ax = fig.add_subplot(2 if by_rank else 1, 1, 1)
    _draw_topic_bars(ax, shares[:2], logs[:2], list(topic_names))
    js = topic_share_divergence(shares[0], shares[1], match_by_rank=False)
    ax.set_title(f"Topic shares of consumption (JS divergence {js:.3g} bits)", fontsize=9)
    ax.set_ylabel("share of topic mass (fraction)")
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    if by_rank:
        size = max(s.shape[0] for s in shares)
        ranked = [np.pad(np.sort(s)[::-1], (0, size - s.shape[0])) for s in shares]
        ax2 = fig.add_subplot(2, 1, 2)
        for log, r in zip(logs, ranked, strict=True):
            ax2.plot(
                np.arange(1, size + 1), r, marker="o", ms=3, label=log.label, **_STYLES[log.label]
            )
        ax2.set_title("Topic shares by rank (synthetic topic labels are arbitrary)", fontsize=9)
        ax2.set_xlabel("topic rank (1 = largest share)")
        ax2.set_ylabel("share of topic mass (fraction)")
        ax2.legend(fontsize=7)
        ax2.grid(True, alpha=0.3)
    bottom, hspace = (0.6, 0.75) if by_rank else (1.3, 0.3)
    fixed_margins(fig, left=0.75, right=0.2, bottom=bottom, top=0.4, hspace=hspace)
    return _save(fig, target)


def _draw_top_topics(logs: Sequence[_Log], top_topics: int, target: Path) -> Path:
    fig = _figure(5.2, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    samples = [
        top_topic_shares(log.frame, log.item_topics, log.n_items, top_topics) for log in logs
    ]
    for log, sample in zip(logs, samples, strict=True):
        _ecdf(ax, sample, log, f", mean {sample.mean():.2f}" if sample.size else "")
    ax.set_title(
        f"Share of a user's consumption in their own top-{top_topics} topics\n"
        f"users with ≥ {MIN_CONSUMPTIONS_TOP_TOPICS} consumptions; "
        f"KS real vs simulated {ks_distance(samples[0], samples[1]):.3f}",
        fontsize=9,
    )
    ax.set_xlabel(f"share of topic mass in own top-{top_topics} topics (fraction)")
    ax.set_ylabel("share of users at or below (fraction)")
    ax.set_xlim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fixed_margins(fig, left=0.75, right=0.2, bottom=0.6, top=0.55)
    return _save(fig, target)


def plot_calibration(
    real: pd.DataFrame,
    sim: pd.DataFrame,
    item_topics: np.ndarray,
    n_items: int,
    top_topics: int,
    out_dir: Path,
    *,
    topic_names: Sequence[str],
    synthetic: pd.DataFrame | None = None,
    synthetic_item_topics: np.ndarray | None = None,
    synthetic_n_items: int | None = None,
) -> list[Path]:
    """Draw the calibration figures into ``out_dir``.

    Args:
        real: The real log's interaction frame (columns ``user``, ``item``).
        sim: The simulated log's interaction frame, same catalogue.
        item_topics: Shape ``(n_items, K)``, rows on the simplex.
        n_items: Catalogue size.
        top_topics: ``k`` of the top-topic share.
        out_dir: Directory of the PNGs (created if missing), usually
            ``<run dir>/calibration``.
        topic_names: ``K`` topic names (bar labels).
        synthetic: An uncalibrated synthetic world's log, drawn as a third series.
        synthetic_item_topics: Shape ``(synthetic_n_items, K')``, its catalogue's
            topics (default: ``item_topics``).
        synthetic_n_items: Its catalogue size (default: ``n_items``).

    Returns:
        The PNG paths, in the order of ``CALIBRATION_FIGURES``.
    """
    out_dir = Path(out_dir)
    logs = [_Log("real", real, item_topics, n_items), _Log("simulated", sim, item_topics, n_items)]
    if synthetic is not None:
        logs.append(
            _Log(
                "synthetic",
                synthetic,
                item_topics if synthetic_item_topics is None else synthetic_item_topics,
                n_items if synthetic_n_items is None else synthetic_n_items,
            )
        )
    lorenz, activity, topics, top = (out_dir / f"{stem}.png" for stem in CALIBRATION_FIGURES)
    return [
        _draw_lorenz(logs, lorenz),
        _draw_activity(logs, activity),
        _draw_topics(logs, topic_names, topics, by_rank=synthetic is not None),
        _draw_top_topics(logs, top_topics, top),
    ]
