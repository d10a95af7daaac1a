"""Feedback-loop plots, drawn from run directories' files only (never live objects).

* ``lorenz.png`` — Lorenz curves of exposure (feed impressions) and of consumption
  (clicks) over items, whole run, one curve per policy, Gini in the legend;
* ``interest_trajectories.png`` — a seeded sample of users' interest vectors per
  snapshot, projected to 2-D by PCA (numpy SVD, fitted on every plotted point);
* ``topic_exposure.png`` — topic × episode heatmap of the share of feed exposure
  (item topic vectors from ``truth/catalog.npz``), one panel per policy, integer ticks
  at the centres of topics and episodes;
* ``feed_search_share.png`` — per episode, the share of clicks made in search and the
  share of sessions with a search, one line per policy (mean over seeds).

A *source* is ``(label, [run directories])``: one run, or the runs of one policy in a
comparison (seeds). Single-run panels use the first run of a source. The scenario's
interventions (read from the runs' manifests) are marked on every per-episode plot: a
dotted line before the episode in the heatmap and the share plot, a cross on each
trajectory at the snapshot taken just before the intervention. Matplotlib's
object-oriented API on the Agg canvas (no pyplot, no global state).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from experiments.atomic import atomic_path
from experiments.metrics.common import clicked_mask, gini, is_event
from experiments.metrics.tracker import read_catalog_truth
from experiments.reporting.run_plots import (
    Marker,
    draw_markers,
    fixed_margins,
    intervention_markers,
)
from sim.rng import stable_key

__all__ = [
    "DRIFT_PLOTS",
    "Source",
    "draw_drift_plots",
    "feed_search_share",
    "heatmap_figure",
    "interest_trajectories",
    "item_counts",
    "lorenz_curve",
    "pca_2d",
    "topic_exposure",
]

Source = tuple[str, Sequence[Path]]
DRIFT_PLOTS = ("lorenz", "interest_trajectories", "topic_exposure", "feed_search_share")
_COLUMNS = ["episode", "user_id", "session_id", "event", "item_id"]


def _episode_files(run_dir: Path) -> list[Path]:
    return sorted((Path(run_dir) / "events.parquet").glob("episode-*.parquet"))


def _events(run_dir: Path) -> pd.DataFrame:
    files = _episode_files(run_dir)
    if not files:
        return pd.DataFrame(columns=_COLUMNS)
    return pd.concat([pd.read_parquet(f, columns=_COLUMNS) for f in files], ignore_index=True)


def item_counts(events: pd.DataFrame, kind: str) -> np.ndarray:
    """Per-item counts of ``kind`` (``"exposure"``: feed impressions; ``"consumption"``: clicks).

    Returns:
        Shape ``(max item id + 1,)`` counts (items never counted are zeros).
    """
    mask = is_event(events, "impression") if kind == "exposure" else clicked_mask(events)
    items = events.loc[mask, "item_id"].to_numpy(dtype=np.int64)
    items = items[items >= 0]
    return np.bincount(items) if items.size else np.zeros(0, dtype=np.int64)


def lorenz_curve(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of non-negative amounts: (share of items, share of the total).

    Returns:
        ``(x, y)``, each shape ``(n + 1,)``, from ``(0, 0)`` to ``(1, 1)``.
    """
    x = np.sort(np.asarray(counts, np.float64))
    n = x.shape[0]
    if n == 0 or x.sum() <= 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    return np.linspace(0.0, 1.0, n + 1), np.r_[0.0, np.cumsum(x) / x.sum()]


def pca_2d(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project points onto their first two principal components (numpy SVD).

    Args:
        points: Shape ``(n, d)``.

    Returns:
        ``(projected (n, 2), explained variance ratio (2,))``; components the data
        lack are zero.
    """
    x = np.asarray(points, np.float64)
    centred = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    out = np.zeros((x.shape[0], 2))
    out[:, :k] = centred @ vt[:k].T
    var = s**2
    ratio = np.zeros(2)
    if var.sum() > 0:
        ratio[:k] = var[:k] / var.sum()
    return out, ratio


def _sample_users(n_users: int, n: int) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(stable_key("plots/users"))))
    return np.sort(rng.choice(n_users, size=min(n, n_users), replace=False))


def interest_trajectories(
    run_dir: Path, users: np.ndarray | None = None, n_users: int = 12
) -> np.ndarray | None:
    """Interest vectors of sampled users at every snapshot (initial, then per episode).

    Args:
        run_dir: A run directory with ``truth/``.
        users: User ids; by default a sample of ``n_users`` from the named stream
            ``plots/users`` (the same users for every run of one population size).
        n_users: Sample size when ``users`` is not given.

    Returns:
        Shape ``(n_sampled, n_snapshots, n_topics)``, or ``None`` without truth files.
    """
    truth = Path(run_dir) / "truth"
    files = [truth / "initial.npz", *sorted(truth.glob("episode-*.npz"))]
    if not files[0].is_file():
        return None
    snapshots = []
    for path in files:
        with np.load(path) as data:
            snapshots.append(np.asarray(data["interests"], np.float64))
    if users is None:
        users = _sample_users(snapshots[0].shape[0], n_users)
    return np.stack([s[users] for s in snapshots], axis=1)


def topic_exposure(run_dir: Path) -> np.ndarray | None:
    """Share of feed exposure per topic and episode, shape ``(n_topics, n_episodes)``.

    An impression of item ``i`` adds ``θ_i`` (its latent topic vector, from
    ``truth/catalog.npz``); each episode's column is normalised to sum to one.
    ``None`` if the run saved no catalogue.
    """
    catalog = read_catalog_truth(run_dir)
    if catalog is None:
        return None
    columns = []
    for path in _episode_files(run_dir):
        events = pd.read_parquet(path, columns=["event", "item_id"])
        items = events.loc[is_event(events, "impression"), "item_id"].to_numpy(dtype=np.int64)
        items = items[(items >= 0) & (items < catalog.n_items)]
        mass = np.asarray(catalog.topics, np.float64)[items].sum(axis=0)
        columns.append(mass / mass.sum() if mass.sum() > 0 else mass)
    if not columns:
        return None
    return np.stack(columns, axis=1)


def feed_search_share(run_dir: Path) -> pd.DataFrame:
    """Per episode: share of clicks made in search, share of sessions with a search.

    Returns:
        Columns ``episode, search_click_share, search_session_share``.
    """
    rows = []
    for path in _episode_files(run_dir):
        ev = pd.read_parquet(path, columns=["episode", "session_id", "event"])
        if ev.empty:
            continue
        feed = int(is_event(ev, "click").sum())
        search = int(is_event(ev, "search_click").sum())
        sessions = ev["session_id"].nunique()
        searched = ev.loc[is_event(ev, "query"), "session_id"].nunique()
        rows.append(
            {
                "episode": int(ev["episode"].iloc[0]),
                "search_click_share": search / (feed + search) if feed + search else np.nan,
                "search_session_share": searched / sessions if sessions else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["episode", "search_click_share", "search_session_share"])


# ------------------------------------------------------------------ drawing
def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _style(label: str) -> str:
    """Line style of a source: dashed for an upper bound (as in the metric plots)."""
    return "--" if label.endswith("(upper bound)") else "-"


def _save(fig: Figure, target: Path) -> Path:
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return target


def _draw_lorenz(sources: Sequence[Source], target: Path) -> Path:
    fig = _figure(9.0, 4.0)
    axes = [fig.add_subplot(1, 2, i + 1) for i in range(2)]
    for i, (label, runs) in enumerate(sources):
        events = _events(runs[0])
        for ax, kind in zip(axes, ("exposure", "consumption"), strict=True):
            counts = item_counts(events, kind)
            catalog = read_catalog_truth(runs[0])
            if catalog is not None and catalog.n_items > counts.shape[0]:
                counts = np.pad(counts, (0, catalog.n_items - counts.shape[0]))
            x, y = lorenz_curve(counts)
            ax.plot(
                x, y, _style(label), color=f"C{i % 10}", label=f"{label} (Gini {gini(counts):.2f})"
            )
    for ax, title in zip(
        axes, ("exposure (feed impressions)", "consumption (clicks)"), strict=True
    ):
        ax.plot([0, 1], [0, 1], ":", color="0.5", lw=1)
        ax.set_title(f"Lorenz curve of {title}", fontsize=9)
        ax.set_xlabel("share of items (least to most)")
        ax.set_ylabel("cumulative share")
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
    fixed_margins(fig, left=0.7, right=0.2, bottom=0.55, top=0.35, wspace=0.25)
    return _save(fig, target)


def _draw_trajectories(
    sources: Sequence[Source], target: Path, markers: Sequence[Marker] = ()
) -> Path | None:
    paths = [(label, interest_trajectories(runs[0])) for label, runs in sources]
    paths = [(label, t) for label, t in paths if t is not None]
    if not paths:
        return None
    pooled = np.concatenate([t.reshape(-1, t.shape[-1]) for _, t in paths])
    projected, ratio = pca_2d(pooled)
    fig = _figure(4.2 * len(paths), 4.0)
    offset = 0
    for k, (label, traj) in enumerate(paths):
        ax = fig.add_subplot(1, len(paths), k + 1)
        n_users, n_snap = traj.shape[:2]
        xy = projected[offset : offset + n_users * n_snap].reshape(n_users, n_snap, 2)
        offset += n_users * n_snap
        # snapshot k is the state after episode k - 1: episode e's intervention follows
        # snapshot e (the one taken at the end of episode e - 1)
        marked = [m.episode for m in markers if m.episode < n_snap]
        for u in range(n_users):
            ax.plot(xy[u, :, 0], xy[u, :, 1], "-", color=f"C{u % 10}", lw=1, alpha=0.8)
            ax.plot(xy[u, 0, 0], xy[u, 0, 1], "o", color=f"C{u % 10}", ms=3)
            ax.plot(xy[u, -1, 0], xy[u, -1, 1], "s", color=f"C{u % 10}", ms=3)
            if marked:
                ax.plot(xy[u, marked, 0], xy[u, marked, 1], "x", color="0.2", ms=4)
        ax.set_title(f"{label}: {n_users} users, {n_snap} snapshots", fontsize=9)
        ax.set_xlabel(f"PC1 ({ratio[0]:.0%})")
        ax.set_ylabel(f"PC2 ({ratio[1]:.0%})")
        ax.grid(True, alpha=0.3)
    title = "interest trajectories (○ start, □ end; PCA of all plotted points)"
    if markers:
        title += "\n× just before " + "; ".join(f"e{m.episode}: {m.label}" for m in markers)
    fig.suptitle(title, fontsize=9)
    fixed_margins(fig, left=0.7, right=0.2, bottom=0.55, top=0.85, wspace=0.3)
    return _save(fig, target)


def heatmap_figure(sources: Sequence[Source], markers: Sequence[Marker] = ()) -> Figure | None:
    """The topic × episode heatmaps of feed exposure, one panel per source.

    Cell ``(topic k, episode e)`` is centred on the integer point ``(e, k)``, so both
    axes get integer ticks there (no tick falls between two topics).

    Returns:
        The figure, or ``None`` when no source saved its catalogue.
    """
    maps = [(label, topic_exposure(runs[0])) for label, runs in sources]
    maps = [(label, m) for label, m in maps if m is not None]
    if not maps:
        return None
    vmax = max(float(m.max()) for _, m in maps) or 1.0
    fig = _figure(4.2 * len(maps) + 0.8, 4.0)
    image = None
    for k, (label, heat) in enumerate(maps):
        ax = fig.add_subplot(1, len(maps), k + 1)
        image = ax.imshow(heat, aspect="auto", origin="lower", vmin=0.0, vmax=vmax, cmap="viridis")
        ax.set_title(f"{label}\nfeed exposure share by topic", fontsize=9)
        ax.set_xlabel("episode")
        ax.set_ylabel("latent topic")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        draw_markers(ax, markers, last_episode=heat.shape[1] - 1, color="white")
    if image is not None:
        fig.colorbar(image, ax=fig.axes, shrink=0.8, label="share of exposure")
    return fig


def _draw_heatmaps(
    sources: Sequence[Source], target: Path, markers: Sequence[Marker] = ()
) -> Path | None:
    fig = heatmap_figure(sources, markers)
    return None if fig is None else _save(fig, target)


def _draw_feed_search(
    sources: Sequence[Source], target: Path, markers: Sequence[Marker] = ()
) -> Path:
    fig = _figure(9.0, 3.6)
    axes = [fig.add_subplot(1, 2, i + 1) for i in range(2)]
    last = None
    for i, (label, runs) in enumerate(sources):
        table = pd.concat([feed_search_share(r) for r in runs], ignore_index=True)
        if table.empty:
            continue
        mean = table.groupby("episode").mean().reset_index()
        last = max(last or 0, int(mean["episode"].max()))
        for ax, col in zip(axes, ("search_click_share", "search_session_share"), strict=True):
            ax.plot(
                mean["episode"], mean[col], _style(label), marker="o", ms=3,
                color=f"C{i % 10}", label=label,
            )  # fmt: skip
    titles = ("share of clicks made in search (rest: feed)", "share of sessions with a search")
    ylabels = ("search clicks / clicks", "sessions with a query / sessions")
    for ax, title, ylabel in zip(axes, titles, ylabels, strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("episode")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        if last is not None:
            draw_markers(ax, markers, last_episode=last)
    fixed_margins(fig, left=0.95, right=0.2, bottom=0.55, top=0.35, wspace=0.35)
    return _save(fig, target)


def draw_drift_plots(
    sources: Sequence[Source], out_dir: Path, markers: Sequence[Marker] | None = None
) -> list[Path]:
    """Draw the feedback-loop plots of ``sources`` into ``out_dir``.

    Args:
        sources: ``(label, run directories)`` per policy.
        out_dir: The plots folder (created if needed).
        markers: Intervention markers; ``None``: read from the sources' manifests.

    Returns:
        The files written (plots whose inputs are missing are skipped).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = [(label, list(runs)) for label, runs in sources if runs]
    if not sources:
        return []
    if markers is None:
        markers = intervention_markers(run for _, runs in sources for run in runs)
    drawn = [
        _draw_lorenz(sources, out_dir / "lorenz.png"),
        _draw_trajectories(sources, out_dir / "interest_trajectories.png", markers),
        _draw_heatmaps(sources, out_dir / "topic_exposure.png", markers),
        _draw_feed_search(sources, out_dir / "feed_search_share.png", markers),
    ]
    return [p for p in drawn if p is not None]
