"""Feeding the metrics during a run, and again later from the run directory's files.

:class:`MetricTracker` builds each episode's :class:`~experiments.metrics.registry.MetricContext`
(ground-truth snapshots, latent item topics, choice weights and the history of past
episodes) and folds the finished episode into the history. The run uses it with live
objects; :func:`iter_episode_contexts` uses the same class on the files of a run
directory, so every metric can be recomputed without rerunning.

The catalogue's latent item topics and quality are saved once as ``truth/catalog.npz``
(rewritten only when new items arrived; items are append-only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.atomic import atomic_path
from experiments.metrics.history import MetricHistory
from experiments.metrics.registry import MetricContext

__all__ = [
    "CATALOG_FILE",
    "CatalogTruth",
    "MetricTracker",
    "affinity_spec",
    "catalog_truth",
    "iter_episode_contexts",
    "read_catalog_truth",
    "utility_weights",
    "write_catalog_truth",
]

CATALOG_FILE = "truth/catalog.npz"

Truth = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class CatalogTruth:
    """Latent item attributes (ground truth, never shown to policies).

    Attributes:
        topics: Shape ``(n_items, n_topics)`` float32 topic vectors.
        quality: Shape ``(n_items,)`` float32 qualities.
    """

    topics: np.ndarray
    quality: np.ndarray

    @property
    def n_items(self) -> int:
        """Number of items."""
        return int(self.topics.shape[0])


def catalog_truth(world: Any) -> CatalogTruth | None:
    """The world's current latent item topics and quality, or ``None`` if it has none."""
    catalog = getattr(world, "catalog", None)
    topics = getattr(catalog, "topics", None)
    quality = getattr(catalog, "quality", None)
    if topics is None or quality is None:
        return None
    return CatalogTruth(np.asarray(topics, np.float32), np.asarray(quality, np.float32))


def write_catalog_truth(run_root: Path, catalog: CatalogTruth) -> Path:
    """Save ``truth/catalog.npz`` (``topics``, ``quality``) atomically."""
    target = Path(run_root) / CATALOG_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, topics=catalog.topics, quality=catalog.quality)
    return target


def read_catalog_truth(run_root: Path) -> CatalogTruth | None:
    """Load ``truth/catalog.npz``, or ``None`` if the run did not save it."""
    path = Path(run_root) / CATALOG_FILE
    if not path.is_file():
        return None
    with np.load(path) as data:
        return CatalogTruth(data["topics"], data["quality"])


def utility_weights(scenario: Mapping[str, Any]) -> tuple[float, float] | None:
    """``(affinity_weight, quality_weight)`` from a scenario's JSON data, if present."""
    choice = scenario.get("world", {}).get("choice", {})
    if "affinity_weight" not in choice or "quality_weight" not in choice:
        return None
    return float(choice["affinity_weight"]), float(choice["quality_weight"])


def affinity_spec(scenario: Mapping[str, Any]) -> tuple[str, float]:
    """``(choice.affinity, choice.affinity_temperature)`` from a scenario's JSON data.

    Runs recorded before world model v2 have neither key: their affinity was the cosine.
    """
    choice = scenario.get("world", {}).get("choice", {})
    return str(choice.get("affinity", "cosine")), float(choice.get("affinity_temperature", 1.0))


class MetricTracker:
    """Builds episode contexts and accumulates the past.

    Args:
        n_users: Population size.
        initial_interests: Shape ``(n_users, n_topics)`` interests before episode 0,
            or ``None`` if not recorded.
        weights: ``(affinity_weight, quality_weight)`` of the choice model, if known.
        affinity: ``(choice.affinity, choice.affinity_temperature)`` of the world.
    """

    def __init__(
        self,
        n_users: int,
        initial_interests: np.ndarray | None = None,
        weights: tuple[float, float] | None = None,
        affinity: tuple[str, float] = ("cosine", 1.0),
    ) -> None:
        self.n_users = int(n_users)
        self.initial = None if initial_interests is None else np.asarray(initial_interests)
        self.previous = self.initial
        self.weights = weights
        self.affinity = affinity
        self.catalog: CatalogTruth | None = None
        self.history: MetricHistory | None = None

    def sync_catalog(self, world: Any, save_to: Path | None = None) -> bool:
        """Take the world's latent catalogue if it changed; save it under ``save_to``.

        Args:
            world: The live world (``world.catalog.topics`` / ``.quality``), if any.
            save_to: A run directory to (re)write ``truth/catalog.npz`` into, or ``None``.

        Returns:
            Whether the catalogue changed (new items arrived, or the first call).
        """
        current = catalog_truth(world)
        if current is None or (
            self.catalog is not None and current.n_items == self.catalog.n_items
        ):
            return False
        self.catalog = current
        if save_to is not None:
            write_catalog_truth(save_to, current)
        return True

    def context(self, episode: int, truth: Truth | None, n_items_available: int) -> MetricContext:
        """The context of ``episode``, measured with its end-of-episode ``truth``."""
        catalog = self.catalog
        if self.history is None:
            n_topics = None if catalog is None else int(catalog.topics.shape[1])
            self.history = MetricHistory.empty(self.n_users, n_topics)
        get = (lambda name: None) if truth is None else truth.get
        return MetricContext(
            episode=episode,
            n_users=self.n_users,
            n_items_available=n_items_available,
            interests_initial=self.initial,
            interests=get("interests"),
            interests_previous=self.previous,
            drift_endogenous=get("drift_endogenous"),
            drift_exogenous=get("drift_exogenous"),
            item_topics=None if catalog is None else catalog.topics,
            item_quality=None if catalog is None else catalog.quality,
            utility_weights=self.weights,
            affinity=self.affinity,
            history=self.history,
        )

    def advance(self, events: pd.DataFrame, truth: Truth | None) -> None:
        """Fold the finished episode into the history (call after :meth:`context`)."""
        if self.history is None:
            raise RuntimeError("call context() before advance()")
        topics = None if self.catalog is None else self.catalog.topics
        self.history = self.history.advance(events, topics)
        if truth is not None and truth.get("interests") is not None:
            self.previous = np.asarray(truth["interests"])


def _load_npz(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def iter_episode_contexts(
    run_dir: Path,
) -> Iterator[tuple[int, pd.DataFrame, MetricContext]]:
    """Replay a run directory's files as ``(episode, events, context)``, in order.

    Uses ``manifest.json`` (episodes finished, population, choice weights; a calibrated
    run's from ``calibration.world``, the world resolved for the data),
    ``events.parquet/``, ``truth/`` and ``truth/catalog.npz`` when present; a missing
    truth file leaves the corresponding context fields ``None``.
    """
    root = Path(run_dir)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    scenario = manifest["scenario"]
    calibrated = (manifest.get("calibration") or {}).get("world")
    if calibrated is not None:  # a calibrated run: the world resolved for the data
        scenario = {**scenario, "world": calibrated}
    initial = _load_npz(root / "truth" / "initial.npz") or {}
    tracker = MetricTracker(
        int(scenario["world"]["users"]["n_users"]),
        initial.get("interests"),
        utility_weights(scenario),
        affinity_spec(scenario),
    )
    tracker.catalog = read_catalog_truth(root)
    entries = {int(e["episode"]): e for e in manifest.get("episodes", [])}
    for episode in range(int(manifest.get("episodes_finished", 0))):
        events = pd.read_parquet(root / "events.parquet" / f"episode-{episode:04d}.parquet")
        truth = _load_npz(root / "truth" / f"episode-{episode:04d}.npz")
        n_available = int(entries.get(episode, {}).get("n_items_available", 0))
        context = tracker.context(episode, truth, n_available)
        yield episode, events, context
        tracker.advance(events, truth)
