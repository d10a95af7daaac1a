"""``onefeed plot DIR``: every plot of a run or comparison directory, and a one-page report.

A directory holding ``per_run.parquet`` is a comparison (``onefeed compare``; its runs
are ``runs/*/``); one holding ``metrics.parquet`` is a run. Both get the metric plots
(per run: :func:`experiments.reporting.run_plots.plot_run`; per comparison: mean over seeds with
95% bands, :func:`experiments.reporting.compare_plots.plot_compare`, plus one figure per metric
family) and the feedback-loop plots of :mod:`experiments.reporting.drift_plots`, then
``report.md`` (images linked) and ``report.html`` (self-contained: the PNGs embedded as
base64). The tables are grouped by metric family (engagement, search, feedback loop,
generative-model health; :data:`experiments.reporting.compare_report.FAMILIES`), every family
with its heading. Upper-bound policies are labelled "(upper bound)"; interventions
(from the runs' manifests) are listed and marked on every per-episode plot.
Everything is read from result files, so it can be redrawn at any time;
``onefeed compare`` calls :func:`plot_directory` at its end.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.atomic import atomic_write_text
from experiments.errors import UserError
from experiments.metrics.diversity import relative_to_reference
from experiments.reporting.calibration_section import directory_calibration_blocks
from experiments.reporting.compare_report import (
    MAIN_METRICS,
    empty_family_note,
    family_heading,
    family_table,
    group_by_family,
    summarize,
    summary_notes,
)
from experiments.reporting.drift_plots import Source, draw_drift_plots
from experiments.reporting.render import Block, render_html, render_markdown
from experiments.reporting.run_plots import Marker, intervention_markers
from experiments.reporting.run_summary import run_summary, warmup_episodes

__all__ = ["DirectoryInfo", "inspect_directory", "plot_directory", "write_report"]

BREAKDOWN_METRICS = ("ctr", "clicks_per_session", "interest_drift", "calibration_kl", "welfare")
UPPER_BOUND = "(upper bound)"


@dataclass
class DirectoryInfo:
    """What kind of result directory this is, and its runs per policy.

    Attributes:
        root: The directory.
        kind: ``"run"`` or ``"compare"``.
        title: A heading for the report.
        sources: ``(label, run directories)`` per policy.
        table: The tidy metrics (``metrics.parquet`` or ``per_run.parquet``).
        upper_bounds: Policies that saw ground truth.
        warmup_episodes: Leading episodes left out of summaries.
        reference: The comparison's reference policy (``None`` for a run).
        policies: Policy names, in display order.
        markers: Intervention markers (from the runs' manifests).
        overview_metrics: Panels of a comparison's overview (``None``: the default).
    """

    root: Path
    kind: str
    title: str
    sources: list[Source]
    table: pd.DataFrame
    upper_bounds: frozenset[str] = frozenset()
    warmup_episodes: int = 0
    reference: str | None = None
    policies: list[str] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    overview_metrics: list[str] | None = None

    def label(self, policy: str) -> str:
        """``policy``, with `` (upper bound)`` appended for an upper bound."""
        return _label(policy, self.upper_bounds)


def _policy_name(manifest: dict[str, Any]) -> str:
    policy = manifest.get("policy")
    return str(policy.get("name") if isinstance(policy, dict) else policy)


def _label(name: str, upper_bounds: frozenset[str]) -> str:
    return f"{name} {UPPER_BOUND}" if name in upper_bounds else name


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def inspect_directory(root: Path) -> DirectoryInfo:
    """Recognise a run or comparison directory and list its runs.

    Raises:
        UserError: If it is neither.
    """
    root = Path(root)
    if (root / "per_run.parquet").is_file():
        return _inspect_compare(root)
    if (root / "metrics.parquet").is_file() and (root / "manifest.json").is_file():
        manifest = _read_json(root / "manifest.json")
        name = _policy_name(manifest)
        upper = frozenset([name]) if manifest.get("upper_bound") else frozenset()
        return DirectoryInfo(
            root=root,
            kind="run",
            title=f"Run {manifest.get('scenario_id', '?')}, {_label(name, upper)}, "
            f"seed {manifest.get('seed')}",
            sources=[(_label(name, upper), [root])],
            table=pd.read_parquet(root / "metrics.parquet"),
            upper_bounds=upper,
            warmup_episodes=warmup_episodes(manifest),
            policies=[name],
            markers=intervention_markers([root]),
        )
    raise UserError(
        f"{root}: no metrics.parquet (not a run directory, or no episode finished) "
        "and no per_run.parquet (not a comparison directory)"
    )


def _inspect_compare(root: Path) -> DirectoryInfo:
    meta = _read_json(root / "compare.json")
    upper = set(meta.get("upper_bounds", []))
    by_policy: dict[str, list[tuple[int, Path]]] = {}
    for manifest_path in sorted(root.glob("runs/*/manifest.json")):
        manifest = _read_json(manifest_path)
        name = _policy_name(manifest)
        by_policy.setdefault(name, []).append((int(manifest.get("seed", 0)), manifest_path.parent))
        if manifest.get("upper_bound"):
            upper.add(name)
    upper_bounds = frozenset(upper)
    table = pd.read_parquet(root / "per_run.parquet")
    order = meta.get("policies") or list(pd.unique(table["policy"]))
    runs = {p: [d for _, d in sorted(by_policy[p])] for p in order if p in by_policy}
    reference = meta.get("reference") or next(
        (p for p in order if p not in upper_bounds), order[0] if order else None
    )
    labels = ", ".join(_label(p, upper_bounds) for p in order)
    return DirectoryInfo(
        root=root,
        kind="compare",
        title=f"Comparison {meta.get('scenario_id', root.name)}: {labels}",
        sources=[(_label(p, upper_bounds), dirs) for p, dirs in runs.items()],
        table=table,
        upper_bounds=upper_bounds,
        warmup_episodes=int(meta.get("warmup_episodes", 0)),
        reference=reference,
        policies=list(order),
        markers=intervention_markers(d for dirs in runs.values() for d in dirs),
        overview_metrics=meta.get("overview_metrics"),
    )


def plot_directory(root: Path, overview_metrics: Sequence[str] | None = None) -> list[Path]:
    """Draw every plot of a run or comparison directory and write its report.

    Args:
        root: The run or comparison directory.
        overview_metrics: Panels of a comparison's overview plot (default: those
            recorded in ``compare.json``, else
            :data:`experiments.reporting.compare_report.MAIN_METRICS`).

    Returns:
        The PNG files, then ``report.md`` and ``report.html``.
    """
    info = inspect_directory(root)
    plots_dir = info.root / "plots"
    if info.kind == "run":
        from experiments.reporting.run_plots import plot_run

        metric_plots = plot_run(info.root)
        embedded = [p for p in metric_plots if p.stem == "overview"]
    else:
        from experiments.reporting.compare_plots import plot_compare

        metric_plots = plot_compare(
            info.table,
            plots_dir,
            label=info.label,
            upper_bounds=info.upper_bounds,
            warmup_episodes=info.warmup_episodes,
            overview_metrics=list(overview_metrics or info.overview_metrics or MAIN_METRICS),
            markers=info.markers,
            families=dict(group_by_family(info.table["metric"].unique())),
        )
        embedded = [
            p for p in metric_plots if p.stem.startswith(("compare_overview", "compare_family_"))
        ]
    drift = draw_drift_plots(info.sources, plots_dir, info.markers)
    return [*metric_plots, *drift, *write_report(info, [*embedded, *drift])]


# ------------------------------------------------------------------ tables
def _run_table(info: DirectoryInfo, metrics: Sequence[str]) -> pd.DataFrame:
    """A run's table of some metrics: unit, mean over the measured episodes, last value."""
    summary = run_summary(info.table, info.warmup_episodes).set_index("metric")
    summary = summary.reindex(list(metrics))
    summary["note"] = summary["constant"].map({True: "constant", False: ""}).fillna("")
    columns = {"mean": "mean over episodes", "last": "last episode"}
    table = summary[["unit", "mean", "last", "note"]].rename(columns=columns)
    return table.reset_index()


def _compare_summary(info: DirectoryInfo) -> pd.DataFrame:
    """``summary.parquet``, or the same summary computed from ``per_run.parquet``."""
    path = info.root / "summary.parquet"
    if path.is_file():
        return pd.read_parquet(path)
    return summarize(info.table, str(info.reference), info.warmup_episodes)


def _relative_table(info: DirectoryInfo) -> pd.DataFrame | None:
    rel = relative_to_reference(info.table[info.table["episode"] >= info.warmup_episodes])
    if rel.empty:
        return None
    per_run = rel.groupby(["metric", "policy", "seed"])["value"].mean()
    out = per_run.groupby(["metric", "policy"]).mean().rename("mean over seeds").reset_index()
    out["policy"] = out["policy"].map(info.label)
    return out


def _breakdown_table(info: DirectoryInfo) -> pd.DataFrame | None:
    from experiments.metrics.per_user import breakdown, per_user_metrics

    per_user = per_user_metrics(info.root)
    if per_user.empty:
        return None
    per_user = per_user[per_user["episode"] >= info.warmup_episodes]
    parts = []
    for by in ("activity_tercile", "search_tercile"):
        table = breakdown(per_user, by)
        table = table[table["metric"].isin(BREAKDOWN_METRICS)]
        wide = table.groupby(["group", "metric"], observed=True)["mean"].mean().unstack("metric")
        wide.insert(0, "grouping", by)
        parts.append(wide.reset_index())
    return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------ report
_TABLE_NOTE = (
    "Mean over seeds of the per-run means, by metric family; each family's figure shows "
    "its metrics over episodes (mean over seeds, 95% band)."
)


def _notes(info: DirectoryInfo, n_seeds: int) -> list[str]:
    notes = [f"Directory: `{info.root}`", "Metric definitions: docs/metrics.md."]
    if info.kind == "compare" and info.reference is not None:
        notes += summary_notes(info.reference, n_seeds, info.warmup_episodes, info.label)
        notes.append(
            "Other files: summary.md, summary.parquet, per_run.parquet, "
            "plots/compare_<metric>.png (one per metric), runs/<policy>-seed<N>/."
        )
    elif info.warmup_episodes:
        notes.append(f"Tables leave out the {info.warmup_episodes} warm-up episodes.")
    if info.upper_bounds:
        names = ", ".join(info.label(p) for p in sorted(info.upper_bounds))
        notes.append(
            f"Upper bounds (saw the simulator's ground truth, which no real policy can): "
            f"{names}; drawn dashed."
        )
    if info.markers:
        listed = "; ".join(f"episode {m.episode}: {m.label}" for m in info.markers)
        notes.append(
            f"Interventions (dotted vertical lines before their episode in the per-episode "
            f"plots): {listed}."
        )
    return notes


def _family_blocks(
    info: DirectoryInfo, summary: pd.DataFrame | None, images: dict[str, Path]
) -> list[Block]:
    """One ``h3`` section per metric family: its table (and figure), or why it is empty."""
    from experiments.reporting.compare_plots import family_plot_name

    blocks: list[Block] = []
    for family, metrics in group_by_family(info.table["metric"].unique()):
        blocks.append(("h3", family_heading(family)))
        if not metrics:
            blocks.append(("p", empty_family_note(family)))
            continue
        if summary is not None:
            table = family_table(summary, metrics, str(info.reference), info.label)
        else:
            table = _run_table(info, metrics)
        blocks.append(("table", table))
        figure = images.pop(family_plot_name(family), None)
        if figure is not None:
            blocks.append(("img", figure))
    return blocks


def _blocks(info: DirectoryInfo, images: list[Path]) -> list[Block]:
    remaining = {p.name: p for p in images}
    n_seeds = int(info.table["seed"].nunique()) if "seed" in info.table else 1
    blocks: list[Block] = [("h1", info.title), ("ul", _notes(info, n_seeds))]
    if info.kind == "compare":
        summary = _compare_summary(info)
        overview = remaining.pop("compare_overview.png", None)
        if overview is not None:
            blocks += [("h2", "Main metrics over episodes"), ("img", overview)]
        blocks += [("h2", "Comparison table"), ("p", _TABLE_NOTE)]
        blocks += _family_blocks(info, summary, remaining)
        relative = _relative_table(info)
        if relative is not None:
            heading = f"Relative to {info.label('oracle')}: value / its value, same seed"
            blocks += [("h2", heading), ("table", relative)]
    else:
        overview = remaining.pop("overview.png", None)
        if overview is not None:
            blocks += [("h2", "Metrics over episodes"), ("img", overview)]
        blocks.append(("h2", "Metrics"))
        blocks += _family_blocks(info, None, remaining)
        groups = _breakdown_table(info)
        if groups is not None:
            blocks += [
                ("h2", "Per-user breakdown (mean over users, then episodes)"),
                ("table", groups),
            ]
    blocks += directory_calibration_blocks(info.root)
    if remaining:
        blocks.append(("h2", "Feedback-loop plots"))
        blocks += [("img", path) for path in remaining.values()]
    return blocks


def write_report(info: DirectoryInfo, images: list[Path]) -> list[Path]:
    """Write ``report.md`` and the self-contained ``report.html`` of a directory.

    The metric tables come by family (a comparison's: mean, 95% CI, paired difference
    against the reference with its CI); a family figure
    (``compare_family_<key>.png``) among ``images`` is placed under its family, the
    overview (``compare_overview.png`` or ``overview.png``) above the tables, every
    other image at the end (the feedback-loop plots). A directory holding
    ``calibration.json`` also gets the section "Calibration against the real log"
    (:mod:`experiments.reporting.calibration_section`), before the feedback-loop plots.

    Args:
        info: The directory (see :func:`inspect_directory`).
        images: PNG files to embed.

    Returns:
        ``[report.md, report.html]``.
    """
    blocks = _blocks(info, images)
    md_path, html_path = info.root / "report.md", info.root / "report.html"
    atomic_write_text(md_path, render_markdown(blocks, info.root))
    atomic_write_text(html_path, render_html(blocks, info.title))
    return [md_path, html_path]
