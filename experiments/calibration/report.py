"""The calibration report: the real log against the log simulated under the neutral policy.

``calibration.json`` (a list of records ``{"statistic", "distance", "tolerance",
"within", ...}``, :mod:`.statistics`), ``calibration.meta.json`` (the fit report and the
runs' counts) and the figures under ``calibration/``. Each record also carries
``synthetic_distance``: the same distance for an *uncalibrated* synthetic world of the
same size (the scenario's world without ``from_data``: as many users, items and topics,
everything else drawn from the world's defaults) under the same policy and horizon —
what calibration buys. Its topics are matched to the real ones by rank (their labels
are arbitrary).

The report is cached next to the fit (same key): a run of a calibrated scenario copies
it into its directory without simulating anything, and sets each record's tolerance and
verdict from its own scenario's tolerances.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from experiments.atomic import atomic_write_bytes, atomic_write_text
from experiments.calibration.figures import plot_calibration
from experiments.calibration.neutral import NEUTRAL_POLICY, simulate_neutral
from experiments.calibration.prepare import Calibrated
from experiments.calibration.real_log import interaction_frame
from experiments.calibration.statistics import (
    calibration_records,
    with_synthetic,
    write_calibration_json,
)
from sim.config import WorldConfig

__all__ = ["FIGURES_DIR", "REPORT_FILES", "calibration_report", "copy_report", "synthetic_config"]

#: Sub-directory of the figures.
FIGURES_DIR = "calibration"
#: Files of a report (besides the figures).
REPORT_FILES = ("calibration.json", "calibration.meta.json")

#: Seed of the simulated runs of the report.
REPORT_SEED = 0


def synthetic_config(calibrated: Calibrated) -> WorldConfig:
    """The uncalibrated world of the same size: the scenario's world without ``from_data``."""
    cfg = calibrated.fit.config
    data = cfg.model_dump(mode="json")
    data.pop("from_data")
    defaults = WorldConfig().model_dump(mode="json")
    for section in ("choice", "sessions"):
        data[section] = defaults[section]
    data["catalog"] = {
        **defaults["catalog"],
        "n_items": cfg.catalog.n_items,
        "n_topics": cfg.catalog.n_topics,
    }
    return WorldConfig.model_validate(data)


def _report_dir(calibrated: Calibrated) -> Path | None:
    if calibrated.cache_path is None:
        return None
    return calibrated.cache_path.parent / f"{calibrated.cache_path.name}-report"


def _apply_tolerances(calibrated: Calibrated, out_dir: Path) -> list[dict[str, Any]]:
    """Set each record's ``tolerance`` and ``within`` from the scenario's tolerances.

    The distances depend on the fit only (cached with it); the verdicts on the asking
    scenario's tolerances, so changing a tolerance never re-simulates.
    """
    tolerances = calibrated.fit.config.from_data.tolerances  # type: ignore[union-attr]
    path = out_dir / REPORT_FILES[0]
    records = json.loads(path.read_text(encoding="utf-8"))
    for record in records:
        tol = float(getattr(tolerances, record["statistic"]))
        distance = record["distance"]
        record["tolerance"] = tol
        record["within"] = bool(
            distance is not None and math.isfinite(distance) and distance <= tol
        )
    atomic_write_text(path, json.dumps(records, indent=2, allow_nan=False) + "\n")
    return records


def calibration_report(
    calibrated: Calibrated, out_dir: Path, progress: Any = None
) -> list[dict[str, Any]]:
    """Write the calibration report into ``out_dir`` (from the cache when there).

    Args:
        calibrated: The calibrated world.
        out_dir: Directory receiving ``calibration.json``, ``calibration.meta.json``
            and ``calibration/*.png``.
        progress: Called with a short message before each simulation.

    Returns:
        The records, as written.
    """
    cached = _report_dir(calibrated)
    if cached is None or not all((cached / name).is_file() for name in REPORT_FILES):
        target = cached if cached is not None else out_dir
        _make_report(calibrated, target, progress or (lambda _m: None))
    if cached is not None:
        copy_report(cached, out_dir)
    return _apply_tolerances(calibrated, out_dir)


def _make_report(calibrated: Calibrated, out_dir: Path, say: Any) -> None:
    real, fit = calibrated.real, calibrated.fit
    spec = fit.config.from_data
    assert spec is not None
    real_frame = interaction_frame(real.sequences)
    say(f"simulating the calibrated world under `{NEUTRAL_POLICY}` for {spec.horizon_days} days")
    sim = simulate_neutral(fit.config, fit.fitted, REPORT_SEED, spec.horizon_days)
    say("simulating the uncalibrated synthetic world of the same size")
    synth_cfg = synthetic_config(calibrated)
    synth = simulate_neutral(synth_cfg, None, REPORT_SEED, spec.horizon_days)
    records = calibration_records(
        real_frame, sim.frame, real.item_topics, real.n_items, spec.top_topics, spec.tolerances
    )
    synth_records = calibration_records(
        real_frame, synth.frame, real.item_topics, real.n_items, spec.top_topics,
        spec.tolerances, match_topics_by_rank=True,
        sim_item_topics=synth.item_topics, sim_n_items=synth.item_topics.shape[0],
    )  # fmt: skip
    records = with_synthetic(records, synth_records)
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = {
        "dataset": real.name,
        "neutral_policy": NEUTRAL_POLICY,
        "horizon_days": spec.horizon_days,
        "seed": REPORT_SEED,
        "real": {"users": real.n_users, "items": real.n_items,
                 "consumptions": real.n_interactions},
        "simulated": {"consumptions": sim.n_consumed, "sessions": sim.n_sessions,
                      "slates": sim.n_slates},
        "synthetic": {"consumptions": synth.n_consumed, "sessions": synth.n_sessions,
                      "slates": synth.n_slates},
        "fit": fit.report,
    }  # fmt: skip
    write_calibration_json(out_dir / REPORT_FILES[0], records, extra)
    plot_calibration(
        real_frame, sim.frame, real.item_topics, real.n_items, spec.top_topics,
        out_dir / FIGURES_DIR, topic_names=list(real.topic_names), synthetic=synth.frame,
        synthetic_item_topics=synth.item_topics,
        synthetic_n_items=synth.item_topics.shape[0],
    )  # fmt: skip


def copy_report(source: Path, out_dir: Path) -> None:
    """Copy a report's files and figures from ``source`` to ``out_dir`` (atomically each)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in REPORT_FILES:
        atomic_write_bytes(out_dir / name, (source / name).read_bytes())
    figures = source / FIGURES_DIR
    if figures.is_dir():
        (out_dir / FIGURES_DIR).mkdir(exist_ok=True)
        for path in sorted(figures.glob("*.png")):
            atomic_write_bytes(out_dir / FIGURES_DIR / path.name, path.read_bytes())
