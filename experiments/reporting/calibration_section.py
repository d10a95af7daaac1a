"""The report section "Calibration against the real log", read from result files only.

``onefeed calibrate`` leaves ``calibration.json`` (a JSON list of records, written by
:func:`experiments.calibration.statistics.write_calibration_json`) and its figures under
``calibration/`` in the run directory. This module turns them into report blocks
(:mod:`experiments.reporting.render`); it reads the JSON dicts and never imports the
calibration package (``experiments.calibration`` may import ``experiments.reporting``,
not the reverse).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.reporting.render import Block, render_markdown

__all__ = [
    "CALIBRATION_FIGURES",
    "CALIBRATION_FIGURES_DIR",
    "CALIBRATION_HEADING",
    "CALIBRATION_JSON",
    "calibration_blocks",
    "calibration_table",
    "directory_calibration_blocks",
    "records_markdown",
]

CALIBRATION_JSON = "calibration.json"
CALIBRATION_FIGURES_DIR = "calibration"
CALIBRATION_HEADING = "Calibration against the real log"
#: Figure stems under ``calibration/``, in report order
#: (:func:`experiments.calibration.figures.plot_calibration` draws them).
CALIBRATION_FIGURES = ("item_popularity_lorenz", "user_activity", "topic_shares", "top_topic_share")

_COLUMNS = (
    "statistic",
    "measure",
    "real",
    "simulated",
    "distance",
    "tolerance",
    "within",
    "synthetic world distance",
)
_MISSING = "—"


def _number(value: Any) -> Any:
    """A float cell (shown with 4 significant digits), or a dash for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return _MISSING
    return float(value)


def _within(record: Mapping[str, Any]) -> str:
    return "yes" if record.get("within") else "no"


def calibration_table(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The records as the section's table, one row per statistic, in record order.

    Args:
        records: Dicts with at least ``statistic, distance, tolerance, within``; the
            optional ``measure, real, simulated, synthetic_distance`` show as a dash
            when missing or ``null``.

    Returns:
        Columns ``statistic | measure | real | simulated | distance | tolerance |
        within | synthetic world distance``.
    """
    rows = [
        (
            str(r["statistic"]),
            str(r.get("measure") or _MISSING),
            _number(r.get("real")),
            _number(r.get("simulated")),
            _number(r.get("distance")),
            _number(r.get("tolerance")),
            _within(r),
            _number(r.get("synthetic_distance")),
        )
        for r in records
    ]
    return pd.DataFrame(rows, columns=list(_COLUMNS), dtype=object)


def _notes(records: Sequence[Mapping[str, Any]]) -> list[str]:
    n_within = sum(bool(r.get("within")) for r in records)
    notes = [
        f"{n_within} of {len(records)} statistics within tolerance "
        "(distance ≤ tolerance; the tolerances are the scenario's "
        "`world.from_data.tolerances`).",
    ]
    notes += [
        f"{r['statistic']}: real and simulated are the {r['summary']}."
        for r in records
        if r.get("summary")
    ]
    if any(r.get("synthetic_distance") is not None for r in records):
        notes.append(
            "Synthetic world distance: the same distance for the log of an uncalibrated "
            "synthetic world, against the same real log."
        )
    return notes


def calibration_blocks(
    records: Sequence[Mapping[str, Any]], figures: Sequence[Path]
) -> list[Block]:
    """The section as report blocks: heading, notes, table, then the figures.

    Args:
        records: The records of ``calibration.json`` (dicts).
        figures: PNG files, shown in the given order.

    Returns:
        Blocks for :func:`experiments.reporting.render.render_markdown` or
        :func:`~experiments.reporting.render.render_html`.
    """
    blocks: list[Block] = [
        ("h2", CALIBRATION_HEADING),
        ("p", "Statistics of the log simulated under a neutral policy, held against the real log."),
        ("table", calibration_table(records)),
        ("ul", _notes(records)),
    ]
    return blocks + [("img", Path(f)) for f in figures]


def records_markdown(
    records: Sequence[Mapping[str, Any]], figures: Sequence[Path], relative_to: Path
) -> str:
    """The section as Markdown, images linked relative to ``relative_to``.

    Args:
        records: The records (dicts).
        figures: PNG files under ``relative_to``.
        relative_to: The directory of the Markdown file.

    Returns:
        Markdown text starting with ``## Calibration against the real log``.
    """
    return render_markdown(calibration_blocks(records, figures), Path(relative_to))


def directory_calibration_blocks(root: Path) -> list[Block]:
    """The section for a result directory, or nothing if it holds no ``calibration.json``.

    Args:
        root: A run (or comparison) directory.

    Returns:
        :func:`calibration_blocks` of ``root/calibration.json`` and the PNGs of
        ``root/calibration/`` (those of :data:`CALIBRATION_FIGURES` first, in that
        order, then any others by name); ``[]`` without the JSON file, and a note
        instead of the table if the file is not a list of records.
    """
    path = Path(root) / CALIBRATION_JSON
    if not path.is_file():
        return []
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        records = None
    if not isinstance(records, list) or not all(
        isinstance(r, dict) and "statistic" in r for r in records
    ):
        return [("h2", CALIBRATION_HEADING), ("p", f"{path.name} is not a list of records.")]
    return calibration_blocks(records, _figures(Path(root) / CALIBRATION_FIGURES_DIR))


def _figures(directory: Path) -> list[Path]:
    rank = {stem: i for i, stem in enumerate(CALIBRATION_FIGURES)}
    found = directory.glob("*.png") if directory.is_dir() else []
    return sorted(found, key=lambda p: (rank.get(p.stem, len(rank)), p.name))
