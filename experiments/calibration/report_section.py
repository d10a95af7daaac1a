"""The calibration report as a Markdown section, from the records of :mod:`.statistics`.

The rendering itself lives in :mod:`experiments.reporting.calibration_section`, which
works on the JSON dicts of ``calibration.json`` so that the run report can include the
section without importing this package (``experiments.calibration`` imports
``experiments.reporting``, never the reverse).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from experiments.calibration.statistics import CalibrationRecord
from experiments.reporting.calibration_section import records_markdown

__all__ = ["calibration_markdown"]


def calibration_markdown(
    records: Sequence[CalibrationRecord], figures: Sequence[Path], relative_to: Path
) -> str:
    """``## Calibration against the real log``: the table of records, notes and figures.

    The table has one row per record: statistic | measure | real | simulated |
    distance | tolerance | within | synthetic world distance (a dash where a value is
    missing); the images are linked relative to ``relative_to``.

    Args:
        records: The records, in report order.
        figures: PNG files under ``relative_to`` (e.g. from
            :func:`experiments.calibration.figures.plot_calibration`).
        relative_to: The directory of the Markdown file.

    Returns:
        The Markdown text.
    """
    return records_markdown([r.to_dict() for r in records], figures, relative_to)
