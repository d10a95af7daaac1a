"""One run's metrics in a few labelled lines: what ``onefeed run`` prints when it ends.

:func:`run_summary` is the table (also the report's per-family tables): per metric, its
family and unit, the mean over the measured episodes and the last episode's value.
:func:`format_run_summary` lays it out for a terminal of :data:`TERMINAL_WIDTH`
columns, grouped by metric family, followed by where the run's files are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.metrics import describe_metric
from experiments.reporting.compare_report import family_heading, group_by_family
from experiments.reporting.panels import constant_value

__all__ = [
    "SUMMARY_COLUMNS",
    "TERMINAL_WIDTH",
    "format_run_summary",
    "run_summary",
    "warmup_episodes",
]

#: Columns of :func:`run_summary`.
SUMMARY_COLUMNS = ["metric", "family", "unit", "mean", "last", "constant"]
#: Width the printed summary keeps within.
TERMINAL_WIDTH = 100
_UNIT_WIDTH = 14


def warmup_episodes(manifest: Mapping[str, Any] | Path) -> int:
    """Warm-up episodes of a run, from its manifest (a mapping, or the run directory).

    ``0`` when the manifest records none (or, given a directory, has no manifest).
    """
    if isinstance(manifest, Path):
        path = manifest / "manifest.json"
        if not path.is_file():
            return 0
        manifest = json.loads(path.read_text(encoding="utf-8"))
    scenario = manifest.get("scenario") or {}
    return int((scenario.get("warmup") or {}).get("episodes", 0) or 0)


def run_summary(table: pd.DataFrame, warmup_episodes: int = 0) -> pd.DataFrame:
    """Per metric: the mean over the measured episodes and the last episode's value.

    Args:
        table: A run's tidy metrics (``episode, metric, value``; one policy and seed).
        warmup_episodes: Leading episodes left out (``scenario.warmup.episodes``).

    Returns:
        Columns :data:`SUMMARY_COLUMNS`, one row per metric, by family
        (:func:`~experiments.reporting.compare_report.group_by_family` order), names
        sorted within a family. ``mean`` skips episodes without a value (``NaN``, e.g.
        a health value before the first fit); ``last`` is the value of the last
        measured episode (``NaN`` if it has none); ``constant`` says the metric had
        one value over every measured episode with a value (at least two).
    """
    measured = table[table["episode"] >= warmup_episodes]
    rows = []
    if len(measured):
        last_episode = measured["episode"].max()
        for family, names in group_by_family(measured["metric"].unique()):
            for name in names:
                part = measured[measured["metric"] == name].sort_values("episode")
                values = part["value"].to_numpy(np.float64)
                last = part.loc[part["episode"] == last_episode, "value"]
                rows.append(
                    (
                        name,
                        family,
                        describe_metric(name).unit,
                        float(np.nanmean(values)) if np.isfinite(values).any() else math.nan,
                        float(last.iloc[0]) if len(last) else math.nan,
                        constant_value(values) is not None,
                    )
                )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _num(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "n/a"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_run_summary(
    summary: pd.DataFrame,
    run_dir: Path,
    *,
    episodes: tuple[int, int],
    warmup_episodes: int = 0,
) -> str:
    """The printed summary: a labelled table by family, then where the run's files are.

    Args:
        summary: :func:`run_summary` of the run.
        run_dir: The run directory (as the user named it).
        episodes: ``(first, last)`` measured episode.
        warmup_episodes: Warm-up episodes left out of the means.

    Returns:
        Lines of at most :data:`TERMINAL_WIDTH` characters, joined by newlines.
    """
    first, last = episodes
    n = last - first + 1
    mean_head = f"mean (ep {first}-{last})" if n > 1 else f"mean (ep {first})"
    last_head = f"last (ep {last})"
    name_width = max([len(m) for m in summary["metric"]] + [len("metric")])
    number_width = max(len(mean_head), len(last_head), 10)
    unit_width = min(_UNIT_WIDTH, max([len(u) for u in summary["unit"]] + [len("unit")]))

    def line(name: str, mean: str, last_value: str, unit: str, note: str = "") -> str:
        text = (
            f"  {name:<{name_width}}  {mean:>{number_width}}  {last_value:>{number_width}}"
            f"  {_fit(unit, unit_width):<{unit_width}}  {note}"
        )
        return _fit(text.rstrip(), TERMINAL_WIDTH)

    lines = [line("metric", mean_head, last_head, "unit")]
    for family, part in summary.groupby("family", sort=False):
        lines.append(family_heading(str(family)))
        for row in part.itertuples(index=False):
            note = "constant" if row.constant else ""
            lines.append(line(row.metric, _num(row.mean), _num(row.last), row.unit, note))
    measured = f"{n} episodes" if n > 1 else "1 episode"
    if warmup_episodes:
        measured += f" after the {warmup_episodes} warm-up episodes"
    lines += [
        "",
        f"mean: over the {measured}, skipping those without a value (n/a)",
        f"last: episode {last}'s value; constant: one value in every episode that has one",
        "definitions: onefeed list, docs/metrics.md",
    ]
    lines += ["", *_files(Path(run_dir))]
    return "\n".join(lines)


def _files(run_dir: Path) -> list[str]:
    """Where the run's results are, as far as they were written."""
    lines = [f"run directory: {run_dir}/"]
    plots = run_dir / "plots"
    n_png = len(list(plots.glob("*.png"))) if plots.is_dir() else 0
    if (run_dir / "report.md").is_file():
        lines.append(f"report:        {run_dir / 'report.md'}")
    if (run_dir / "report.html").is_file():
        lines.append(f"               {run_dir / 'report.html'} (one self-contained page)")
    if n_png:
        lines.append(f"plots:         {plots}/ ({n_png} PNG; overview.png: every metric)")
    if len(lines) == 1:
        lines.append(f"no report or plots (output.plots is off); draw them: onefeed plot {run_dir}")
    lines.append(f"values:        {run_dir / 'metrics.parquet'} (every episode)")
    return lines
