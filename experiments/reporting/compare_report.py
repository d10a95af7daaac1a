"""Tables of a comparison: per-run metrics, the summary over seeds, and its renderings.

* ``per_run.parquet``: every run's tidy metrics stacked, columns
  ``policy, seed, episode, metric, value`` (warm-up episodes included).
* The **per-run value** of a metric is the mean of its per-episode values over the
  run's *measured* episodes (episodes ``W ..`` after ``W`` warm-up episodes; ``NaN``
  episodes are skipped).
* ``summary.parquet``: per policy and metric, the mean of the per-run values over seeds
  with its 95% t-interval (``mean, ci_low, ci_high``), and the paired difference
  against the reference policy: the mean over seeds of ``value[policy, s] −
  value[reference, s]`` with its 95% t-interval (``diff, diff_ci_low, diff_ci_high``;
  ``NaN`` for the reference itself). With one seed every interval is ``NaN``.
* Metrics are grouped by **family** (:data:`experiments.metrics.FAMILIES`, as in
  ``docs/metrics.md``): engagement, search, feedback loop, generative-model health
  (``health_*`` rows), and "other" for anything unclassified
  (:func:`experiments.metrics.metric_family`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.atomic import atomic_path, atomic_write_text
from experiments.metrics import FAMILIES, OTHER_FAMILY, metric_family
from experiments.reporting.stats import group_intervals

__all__ = [
    "FAMILIES",
    "MAIN_METRICS",
    "OTHER_FAMILY",
    "PER_RUN_COLUMNS",
    "SUMMARY_COLUMNS",
    "collect_per_run",
    "empty_family_note",
    "family_heading",
    "family_table",
    "format_table",
    "group_by_family",
    "metric_family",
    "run_values",
    "summarize",
    "summary_markdown",
    "summary_notes",
    "write_markdown",
    "write_parquet",
]

PER_RUN_COLUMNS = ["policy", "seed", "episode", "metric", "value"]
SUMMARY_COLUMNS = [
    "policy",
    "metric",
    "mean",
    "ci_low",
    "ci_high",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
]
#: Metrics of the printed table and the overview plot, when present.
MAIN_METRICS = (
    "ctr",
    "dwell_per_session_s",
    "catalog_coverage",
    "impression_gini",
    "interest_drift",
)

Label = Callable[[str], str]

_OTHER_HEADING = "Other metrics"
_EMPTY_NOTES = {
    "health": "No values: no policy here reports generative-model health (a policy's "
    "`health_metrics()`, recorded as `health_<name>` rows; e.g. `onefeed`).",
}
_EMPTY_NOTE = "No values: no metric of this family was recorded (see `output.metrics`)."


def family_heading(family: str) -> str:
    """Heading of a family key."""
    return FAMILIES.get(family, _OTHER_HEADING)


def empty_family_note(family: str) -> str:
    """What a report says under a family without values."""
    return _EMPTY_NOTES.get(family, _EMPTY_NOTE)


def group_by_family(metrics: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Metrics grouped by family, metrics sorted within each.

    Every family of :data:`FAMILIES` is listed (possibly empty), in order, then
    :data:`OTHER_FAMILY` if some metric is unclassified.
    """
    groups: dict[str, list[str]] = {family: [] for family in FAMILIES}
    for name in sorted(set(metrics)):
        groups.setdefault(metric_family(name), []).append(name)
    return [(f, names) for f, names in groups.items() if f in FAMILIES or names]


def collect_per_run(
    run_dirs: Sequence[tuple[str, int, Path]], policy_order: Sequence[str]
) -> pd.DataFrame:
    """Stack the runs' ``metrics.parquet`` into one tidy table.

    Args:
        run_dirs: ``(policy, seed, run directory)`` per run.
        policy_order: Order of the policies in the result.

    Returns:
        Columns :data:`PER_RUN_COLUMNS`, sorted by policy (in ``policy_order``), seed,
        episode and metric.
    """
    parts = []
    for policy, seed, run_dir in run_dirs:
        table = pd.read_parquet(Path(run_dir) / "metrics.parquet")
        table["policy"] = policy
        table["seed"] = np.int64(seed)
        parts.append(table[PER_RUN_COLUMNS])
    per_run = pd.concat(parts, ignore_index=True)
    rank = {name: i for i, name in enumerate(policy_order)}
    per_run = per_run.assign(_rank=per_run["policy"].map(rank))
    per_run = per_run.sort_values(["_rank", "seed", "episode", "metric"], kind="stable")
    per_run = per_run.drop(columns="_rank").reset_index(drop=True)
    per_run["episode"] = per_run["episode"].astype(np.int32)
    per_run["value"] = per_run["value"].astype(np.float64)
    return per_run


def run_values(per_run: pd.DataFrame, warmup_episodes: int = 0) -> pd.DataFrame:
    """Per-run value of each metric: the mean over the measured episodes.

    Returns:
        Columns ``policy, seed, metric, value``.
    """
    measured = per_run[per_run["episode"] >= warmup_episodes]
    grouped = measured.groupby(["policy", "seed", "metric"], sort=False)["value"]
    return grouped.mean().reset_index()  # pandas' mean skips NaN


def summarize(
    per_run: pd.DataFrame,
    reference: str,
    warmup_episodes: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The summary over seeds with paired differences against ``reference``.

    Args:
        per_run: Columns :data:`PER_RUN_COLUMNS`.
        reference: The reference policy (must be in ``per_run``).
        warmup_episodes: Leading episodes left out of the per-run values.
        confidence: Coverage of the intervals.

    Returns:
        Columns :data:`SUMMARY_COLUMNS`, one row per (policy, metric), policies in
        their order of appearance in ``per_run``, metrics sorted.
    """
    values = run_values(per_run, warmup_episodes)
    summary = group_intervals(values, ["policy", "metric"], confidence=confidence)
    ref = values[values["policy"] == reference][["seed", "metric", "value"]]
    paired = values.merge(ref, on=["seed", "metric"], suffixes=("", "_ref"), how="left")
    paired["d"] = paired["value"] - paired["value_ref"]
    diffs = group_intervals(paired, ["policy", "metric"], value="d", confidence=confidence)
    diffs = diffs.rename(
        columns={"mean": "diff", "ci_low": "diff_ci_low", "ci_high": "diff_ci_high"}
    )
    summary = summary.merge(diffs.drop(columns="n"), on=["policy", "metric"], how="left")
    is_ref = summary["policy"] == reference
    summary.loc[is_ref, ["diff", "diff_ci_low", "diff_ci_high"]] = np.nan
    order = {name: i for i, name in enumerate(pd.unique(per_run["policy"]))}
    summary = summary.assign(_rank=summary["policy"].map(order))
    summary = summary.sort_values(["_rank", "metric"], kind="stable").reset_index(drop=True)
    for column in SUMMARY_COLUMNS[2:]:
        summary[column] = summary[column].astype(np.float64)
    return summary[SUMMARY_COLUMNS]


def write_parquet(table: pd.DataFrame, target: Path) -> None:
    """Write ``table`` to ``target`` atomically (no index)."""
    with atomic_path(target) as tmp:
        table.to_parquet(tmp, index=False)


# ------------------------------------------------------------------ rendering


def _num(x: float, signed: bool = False) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:+.3g}" if signed else f"{x:.3g}"


def _with_ci(mean: float, low: float, high: float, signed: bool = False) -> str:
    text = _num(mean, signed)
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{_num(low, signed)}, {_num(high, signed)}]"
    return text


def _excludes_zero(low: float, high: float) -> bool:
    return math.isfinite(low) and math.isfinite(high) and (low > 0 or high < 0)


def _diff_cell(row: pd.Series) -> str:
    text = _with_ci(row["diff"], row["diff_ci_low"], row["diff_ci_high"], signed=True)
    return text + (" *" if _excludes_zero(row["diff_ci_low"], row["diff_ci_high"]) else "")


def summary_notes(
    reference: str, n_seeds: int, warmup_episodes: int, label: Label = str
) -> list[str]:
    """The notes under a comparison table: per-run value, intervals, Δ, one-seed caveat."""
    notes = [
        "per-run value: mean over the measured episodes"
        + (f" (the {warmup_episodes} warm-up episodes are left out)" if warmup_episodes else "")
        + f"; mean [95% t-interval] over {n_seeds} seed{'s' if n_seeds != 1 else ''}",
        f"Δ: paired difference vs the reference {label(reference)} (per-seed differences, "
        "mean [95% t-interval]); * marks an interval that excludes 0",
    ]
    if n_seeds < 2:
        notes.append("one seed only: intervals need at least 2 seeds and are shown as n/a")
    return notes


def format_table(
    summary: pd.DataFrame,
    metrics: Sequence[str],
    reference: str,
    n_seeds: int,
    warmup_episodes: int = 0,
    label: Label = str,
) -> str:
    """The printed table: a row per policy (mean [ci]) and a Δ row (diff [ci]) below it.

    Args:
        summary: Columns :data:`SUMMARY_COLUMNS`.
        metrics: Metrics to show, as columns.
        reference: The reference policy.
        n_seeds: Number of seeds (for the notes).
        warmup_episodes: Warm-up episodes left out (for the notes).
        label: Display name of a policy (e.g. appends `` (upper bound)``).

    Returns:
        Plain text, lines joined by newlines.
    """
    metrics = [m for m in metrics if m in set(summary["metric"])]
    cells = summary.set_index(["policy", "metric"])
    rows: list[list[str]] = [["policy", *metrics]]
    for policy in summary["policy"].unique():
        name = label(policy) + (" (reference)" if policy == reference else "")
        rows.append(
            [
                name,
                *[
                    _with_ci(*cells.loc[(policy, m), ["mean", "ci_low", "ci_high"]])
                    for m in metrics
                ],
            ]
        )
        if policy != reference:
            rows.append(
                [f"  Δ vs {reference}", *[_diff_cell(cells.loc[(policy, m)]) for m in metrics]]
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, "", *summary_notes(reference, n_seeds, warmup_episodes, label)])


def _cells(row: pd.Series, reference: str) -> tuple[str, str, str, str]:
    """``(mean, CI, Δ, CI of Δ)`` of one summary row, as text."""
    ci = (
        f"[{_num(row['ci_low'])}, {_num(row['ci_high'])}]"
        if math.isfinite(row["ci_low"])
        else "n/a"
    )
    if row["policy"] == reference:
        return _num(row["mean"]), ci, "(reference)", ""
    diff_ci = (
        f"[{_num(row['diff_ci_low'], True)}, {_num(row['diff_ci_high'], True)}]"
        if math.isfinite(row["diff_ci_low"])
        else "n/a"
    )
    if _excludes_zero(row["diff_ci_low"], row["diff_ci_high"]):
        diff_ci += " *"
    return _num(row["mean"]), ci, _num(row["diff"], signed=True), diff_ci


def family_table(
    summary: pd.DataFrame, metrics: Sequence[str], reference: str, label: Label = str
) -> pd.DataFrame:
    """The comparison table of some metrics (e.g. one family's), cells as text.

    Args:
        summary: Columns :data:`SUMMARY_COLUMNS`.
        metrics: Metrics to show, in order.
        reference: The reference policy.
        label: Display name of a policy (e.g. appends `` (upper bound)``).

    Returns:
        Columns ``metric, policy, mean, 95% CI, Δ vs <reference>, 95% CI of Δ``, one
        row per (metric, policy), policies in the summary's order.
    """
    columns = ["metric", "policy", "mean", "95% CI", f"Δ vs {label(reference)}", "95% CI of Δ"]
    rows = []
    for metric in metrics:
        for _, row in summary[summary["metric"] == metric].iterrows():
            rows.append([metric, label(row["policy"]), *_cells(row, reference)])
    return pd.DataFrame(rows, columns=columns)


def summary_markdown(
    summary: pd.DataFrame,
    title: str,
    reference: str,
    n_seeds: int,
    warmup_episodes: int = 0,
    label: Label = str,
) -> str:
    """The whole summary as Markdown, a section per metric family (:data:`FAMILIES`).

    In each family, one table per metric: policy, mean, CI, Δ, CI of Δ.
    """
    lines = [f"# {title}", ""]
    lines += [f"* {note}" for note in summary_notes(reference, n_seeds, warmup_episodes, label)]
    for family, metrics in group_by_family(summary["metric"].unique()):
        lines += ["", f"## {family_heading(family)}"]
        if not metrics:
            lines += ["", empty_family_note(family)]
        for metric in metrics:
            lines += ["", f"### `{metric}`", ""]
            lines += [
                "| policy | mean | 95% CI | Δ vs reference | 95% CI of Δ |",
                "|---|---:|---:|---:|---:|",
            ]
            for _, row in summary[summary["metric"] == metric].iterrows():
                cells = " | ".join(_cells(row, reference))
                lines.append(f"| {label(row['policy'])} | {cells} |")
    return "\n".join(lines) + "\n"


def write_markdown(text: str, target: Path) -> None:
    """Write Markdown ``text`` to ``target`` atomically."""
    atomic_write_text(target, text)
