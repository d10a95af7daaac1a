"""A calibrated world, ready to build: the real log, the fit, and its cache.

The fit is deterministic for ``from_data.fit_seed`` and cached under the data
directory's own cache, ``<data dir>/.cache/onefeed-sim/calibration/`` (never inside the
repository), keyed by the fit's version, the real log's content and the world
configuration the fit depends on (everything except the tolerances and
``warm_start``). A cache entry is two files written atomically, the arrays (``.npz``)
and the report with the resolved configuration (``.json``); an unreadable entry is
fitted again. When the data directory is read-only, nothing is cached.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiments.atomic import atomic_write_bytes, atomic_write_text
from experiments.calibration.fit import FIT_VERSION, FitResult, fit_world
from experiments.calibration.loading import load_real_log
from experiments.calibration.real_log import RealLog
from experiments.replay.data import resolve_data_dir
from sim.config import WorldConfig
from sim.fitted import FittedWorld

__all__ = ["CACHE_SUBDIR", "Calibrated", "cache_key", "prepare_calibrated"]

#: Cache folder under the data directory.
CACHE_SUBDIR = Path(".cache") / "onefeed-sim" / "calibration"

_ARRAYS = ("item_topics", "appeal", "created_s", "interests", "rate_per_day", "source_user")


@dataclass(frozen=True)
class Calibrated:
    """A fitted world with its real log.

    Attributes:
        real: The real log.
        fit: The fitted world, resolved configuration and fit report.
        cache_path: The cache entry read or written (``None``: not cached).
        from_cache: Whether the fit was read from the cache.
    """

    real: RealLog
    fit: FitResult
    cache_path: Path | None
    from_cache: bool


def cache_key(real: RealLog, config: WorldConfig) -> str:
    """Hex digest of what the fit depends on (module doc)."""
    h = hashlib.sha256()
    h.update(f"fit-version {FIT_VERSION}\n".encode())
    data = config.model_dump(mode="json")
    data["from_data"].pop("tolerances", None)
    data["from_data"].pop("warm_start", None)
    h.update(json.dumps(data, sort_keys=True).encode())
    for seq in real.sequences:
        h.update(np.asarray(seq, dtype=np.int64).tobytes())
        h.update(b"|")
    h.update("\n".join(real.titles).encode())
    h.update(np.ascontiguousarray(real.item_topics).tobytes())
    return h.hexdigest()


def _entry(data_dir: Path, real: RealLog, key: str) -> Path:
    safe = real.name.replace(":", "-").replace("/", "-")
    return data_dir / CACHE_SUBDIR / f"{safe}-{key[:16]}"


def _file(entry: Path, suffix: str) -> Path:
    """``entry`` plus ``suffix`` (not ``with_suffix``: a dataset name may hold a dot)."""
    return entry.with_name(entry.name + suffix)


def prepare_calibrated(
    config: WorldConfig, data_dir: str | os.PathLike[str] | None = None, progress: Any = None
) -> Calibrated:
    """Load the real log and fit the world, or read the fit from the cache.

    Args:
        config: A world configuration with ``from_data``.
        data_dir: The data directory (``None``: ``$ONEFEED_DATA``, then ``../shared/data``).
        progress: Called with a short message at each fitting step.

    Returns:
        The calibrated world.

    Raises:
        DataError: Missing or malformed data files.
    """
    assert config.from_data is not None
    root = resolve_data_dir(data_dir)
    real = load_real_log(config.from_data, root)
    key = cache_key(real, config)
    entry = _entry(root, real, key)
    cached = _read(entry, key)
    if cached is not None:
        return Calibrated(real, _with_unkeyed(cached, config), entry, True)
    fit = fit_world(real, config, progress=progress)
    written = _write(entry, key, fit)
    return Calibrated(real, fit, entry if written else None, False)


def _with_unkeyed(fit: FitResult, config: WorldConfig) -> FitResult:
    """A cached fit with ``config``'s tolerances and ``warm_start`` (not in the key).

    The cached configuration holds those of the scenario fitted first; the report's
    verdicts and the run's manifest must follow the scenario asking now.
    """
    assert config.from_data is not None and fit.config.from_data is not None
    data = fit.config.model_dump(mode="json")
    for name in ("tolerances", "warm_start"):
        data["from_data"][name] = config.from_data.model_dump(mode="json")[name]
    return FitResult(fitted=fit.fitted, config=WorldConfig.model_validate(data), report=fit.report)


def _read(entry: Path, key: str) -> FitResult | None:
    meta_path, arrays_path = _file(entry, ".json"), _file(entry, ".npz")
    if not (meta_path.is_file() and arrays_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        with np.load(arrays_path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in _ARRAYS}
            titles = tuple(str(t) for t in z["titles"])
        fitted = FittedWorld(titles=titles, dataset=meta["report"]["dataset"], **arrays)
        config = WorldConfig.model_validate(meta["config"])
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return FitResult(fitted=fitted, config=config, report=meta["report"])


def _write(entry: Path, key: str, fit: FitResult) -> bool:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        import io

        buf = io.BytesIO()
        arrays = {name: getattr(fit.fitted, name) for name in _ARRAYS}
        np.savez_compressed(buf, titles=np.array(fit.fitted.titles, dtype=str), **arrays)
        atomic_write_bytes(_file(entry, ".npz"), buf.getvalue())
        meta = {"key": key, "config": fit.config.model_dump(mode="json"), "report": fit.report}
        atomic_write_text(_file(entry, ".json"), json.dumps(meta, indent=1))
    except OSError:
        return False
    return True
