"""The run directory: its layout, its manifest and the atomic writers of its files.

Layout of one run::

    manifest.json                  status incomplete → complete, scenario, seed, versions, ...
    events.parquet/episode-0000.parquet, ...   one file per finished episode
    metrics.parquet                tidy: policy, seed, episode, metric, value
    truth/initial.npz, truth/episode-0000.npz, ...   ground-truth user state
    plots/<metric>.png

Every file is written atomically (see :mod:`experiments.atomic`), so
``pandas.read_parquet(run / "events.parquet")`` always reads exactly the finished episodes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from experiments.atomic import atomic_path, atomic_write_json
from experiments.errors import UserError
from experiments.project_paths import PROJECT_ROOT, SOURCE_PACKAGES

__all__ = [
    "MANIFEST_VERSION",
    "Manifest",
    "RunDir",
    "code_digest",
    "default_run_dir",
    "environment_info",
    "is_reusable_run",
]

MANIFEST_VERSION = 1
KEY_PACKAGES = (
    "onefeed-sim",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "pydantic",
    "simpy",
    "bm25s",
    "matplotlib",
    "pyyaml",
    "click",
)


def _git_info(root: Path) -> dict[str, Any] | None:
    """Revision and dirty flag of the checkout at ``root``, or ``None`` if not a repo."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"revision": sha, "dirty": bool(status.strip())}


@functools.cache
def code_digest() -> str:
    """SHA-256 of the project's Python sources, committed or not.

    Covers every ``*.py`` file of ``sim``, ``policies``, ``onefeed`` and ``experiments``
    (path and bytes), so it identifies the code a run was made with.
    """
    digest = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def is_reusable_run(run_dir: Path, scenario: dict[str, Any]) -> bool:
    """Whether ``run_dir`` holds a complete run of ``scenario`` made by this code.

    Complete (manifest ``status``), of exactly this resolved scenario (JSON data), with
    its metrics written, and made by the same sources (:func:`code_digest`): after a
    change to the project's code an earlier run is redone, not silently reused.
    """
    path = Path(run_dir) / "manifest.json"
    if not path.is_file() or not (Path(run_dir) / "metrics.parquet").is_file():
        return False
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        manifest.get("status") == "complete"
        and manifest.get("scenario") == scenario
        and (manifest.get("environment") or {}).get("code_digest") == code_digest()
    )


def environment_info() -> dict[str, Any]:
    """Python, platform, key package versions, the git revision and the code digest."""
    versions: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git": _git_info(PROJECT_ROOT),
        "code_digest": code_digest(),
    }


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def default_run_dir(scenario_id: str, policy: str, seed: int, base: Path = Path("runs")) -> Path:
    """``runs/<scenario-id>-<policy>-seed<N>-<YYYYmmdd-HHMMSS>``, made unique if taken."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = base / f"{scenario_id}-{policy}-seed{seed}-{stamp}"
    n = 1
    while path.exists():
        path = base / f"{scenario_id}-{policy}-seed{seed}-{stamp}-{n}"
        n += 1
    return path


@dataclass
class Manifest:
    """What a run was and how far it got; rewritten atomically at every step.

    Attributes:
        scenario: The resolved scenario (after command-line overrides), as JSON data.
        scenario_file: The file the scenario was read from, if any.
        command: The command line, if run from the CLI.
        status: ``incomplete`` until the last episode's files are written, then ``complete``.
        upper_bound: The policy saw ground truth (an oracle); its results are an upper bound.
        reason: Why an incomplete run stopped (``None`` while running or when complete).
        episodes_finished: Number of episodes whose files are all written.
        episodes: Per-episode counts and timings.
        timings_s: Wall-clock seconds of the phases of the run.
        calibration: A calibrated scenario's fit report and the resolved world
            configuration the run simulates (``None`` for a synthetic world).
    """

    scenario: dict[str, Any]
    scenario_file: str | None = None
    command: list[str] | None = None
    status: str = "incomplete"
    upper_bound: bool = False
    reason: str | None = None
    episodes_finished: int = 0
    episodes: list[dict[str, Any]] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    environment: dict[str, Any] = field(default_factory=environment_info)
    calibration: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The manifest as JSON-ready data."""
        return {
            "manifest_version": MANIFEST_VERSION,
            "status": self.status,
            "reason": self.reason,
            "scenario_id": self.scenario["id"],
            "policy": self.scenario["policy"],
            "seed": self.scenario["seed"],
            "upper_bound": self.upper_bound,
            "episodes_planned": self.scenario["episodes"],
            "episodes_finished": self.episodes_finished,
            "scenario": self.scenario,
            "scenario_file": self.scenario_file,
            "command": self.command,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "timings_s": self.timings_s,
            "episodes": self.episodes,
            "environment": self.environment,
            **({"calibration": self.calibration} if self.calibration is not None else {}),
        }


class RunDir:
    """Paths and atomic writers of one run directory.

    Args:
        root: The run directory. It must not exist yet, or be empty.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- paths
    @property
    def manifest_path(self) -> Path:  # noqa: D102
        return self.root / "manifest.json"

    @property
    def events_dir(self) -> Path:  # noqa: D102
        return self.root / "events.parquet"

    @property
    def metrics_path(self) -> Path:  # noqa: D102
        return self.root / "metrics.parquet"

    @property
    def truth_dir(self) -> Path:  # noqa: D102
        return self.root / "truth"

    @property
    def plots_dir(self) -> Path:  # noqa: D102
        return self.root / "plots"

    def episode_events_path(self, episode: int) -> Path:
        """``events.parquet/episode-NNNN.parquet``."""
        return self.events_dir / f"episode-{episode:04d}.parquet"

    def truth_path(self, episode: int | None) -> Path:
        """``truth/initial.npz`` (``episode=None``) or ``truth/episode-NNNN.npz``."""
        name = "initial" if episode is None else f"episode-{episode:04d}"
        return self.truth_dir / f"{name}.npz"

    # -- writers
    def create(self) -> None:
        """Create the directory.

        Raises:
            UserError: If it exists and is not empty (a run is never overwritten).
        """
        if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
            raise UserError(f"{self.root}: output directory exists and is not empty")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.events_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"{self.root}: cannot create output directory: {exc.strerror}"
            ) from None

    def write_manifest(self, manifest: Manifest) -> None:
        """Rewrite ``manifest.json`` atomically."""
        atomic_write_json(self.manifest_path, manifest.to_json())

    def write_events(self, episode: int, events: pa.Table) -> None:
        """Write one episode's log as ``events.parquet/episode-NNNN.parquet``."""
        with atomic_path(self.episode_events_path(episode)) as tmp:
            pq.write_table(events, tmp)

    def write_metrics(self, table: pd.DataFrame) -> None:
        """Rewrite ``metrics.parquet`` atomically."""
        with atomic_path(self.metrics_path) as tmp:
            table.to_parquet(tmp, index=False)

    def write_truth(self, episode: int | None, arrays: dict[str, np.ndarray]) -> None:
        """Save ground-truth arrays as a compressed ``.npz`` (``episode=None``: initial)."""
        with atomic_path(self.truth_path(episode)) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    # -- readers
    def read_manifest(self) -> dict[str, Any]:
        """Load ``manifest.json``."""
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def read_metrics(self) -> pd.DataFrame:
        """Load ``metrics.parquet``."""
        return pd.read_parquet(self.metrics_path)

    def read_events(self) -> pd.DataFrame:
        """Load every finished episode's events."""
        return pd.read_parquet(self.events_dir)


def command_line() -> list[str]:
    """The current process's command line (program name shortened to its base name)."""
    argv = list(sys.argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return argv


class Stopwatch:
    """Wall-clock timer: ``with Stopwatch() as sw: ...; sw.elapsed_s``."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.elapsed_s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed_s = time.perf_counter() - self._start
