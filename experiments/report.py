"""``onefeed plot DIR``: every plot of a run or comparison directory, and a one-page report.

A directory holding ``per_run.parquet`` is a comparison (``onefeed compare``; its runs
are ``runs/*/``); one holding ``metrics.parquet`` is a run. Both get the metric plots
(per run: :func:`experiments.plots.plot_run`; per comparison: mean over seeds with
95% bands, :func:`experiments.compare_plots.plot_compare`) and the feedback-loop plots
of :mod:`experiments.drift_plots`, then ``report.md`` (images linked) and
``report.html`` (self-contained: the PNGs embedded as base64). Everything is read from
result files, so it can be redrawn at any time.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.atomic import atomic_write_text
from experiments.drift_plots import Source, draw_drift_plots
from experiments.errors import UserError
from experiments.metric_feedback import relative_to_reference

__all__ = ["DirectoryInfo", "inspect_directory", "plot_directory", "write_report"]

BREAKDOWN_METRICS = ("ctr", "clicks_per_session", "interest_drift", "calibration_kl", "welfare")


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
    """

    root: Path
    kind: str
    title: str
    sources: list[Source]
    table: pd.DataFrame
    upper_bounds: frozenset[str] = frozenset()
    warmup_episodes: int = 0
    reference: str | None = None


def _policy_name(manifest: dict[str, Any]) -> str:
    policy = manifest.get("policy")
    return str(policy.get("name") if isinstance(policy, dict) else policy)


def _label(name: str, upper_bounds: frozenset[str]) -> str:
    return f"{name} (upper bound)" if name in upper_bounds else name


def inspect_directory(root: Path) -> DirectoryInfo:
    """Recognise a run or comparison directory and list its runs.

    Raises:
        UserError: If it is neither.
    """
    root = Path(root)
    if (root / "per_run.parquet").is_file():
        meta = {}
        if (root / "compare.json").is_file():
            meta = json.loads((root / "compare.json").read_text(encoding="utf-8"))
        upper = frozenset(meta.get("upper_bounds", []))
        by_policy: dict[str, list[tuple[int, Path]]] = {}
        for manifest_path in sorted(root.glob("runs/*/manifest.json")):
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            by_policy.setdefault(_policy_name(manifest), []).append(
                (int(manifest.get("seed", 0)), manifest_path.parent)
            )
        table = pd.read_parquet(root / "per_run.parquet")
        order = meta.get("policies") or list(pd.unique(table["policy"]))
        sources: list[Source] = [
            (_label(p, upper), [d for _, d in sorted(by_policy[p])])
            for p in order
            if p in by_policy
        ]
        return DirectoryInfo(
            root=root,
            kind="compare",
            title=f"Comparison {meta.get('scenario_id', root.name)}",
            sources=sources,
            table=table,
            upper_bounds=upper,
            warmup_episodes=int(meta.get("warmup_episodes", 0)),
            reference=meta.get("reference"),
        )
    if (root / "metrics.parquet").is_file() and (root / "manifest.json").is_file():
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        name = _policy_name(manifest)
        upper = frozenset([name]) if manifest.get("upper_bound") else frozenset()
        warmup = (manifest.get("scenario", {}).get("warmup") or {}).get("episodes", 0)
        return DirectoryInfo(
            root=root,
            kind="run",
            title=f"Run {manifest.get('scenario_id', '?')}, {name}, seed {manifest.get('seed')}",
            sources=[(_label(name, upper), [root])],
            table=pd.read_parquet(root / "metrics.parquet"),
            upper_bounds=upper,
            warmup_episodes=int(warmup or 0),
        )
    raise UserError(
        f"{root}: no metrics.parquet (not a run directory, or no episode finished) "
        "and no per_run.parquet (not a comparison directory)"
    )


def plot_directory(root: Path) -> list[Path]:
    """Draw every plot of a run or comparison directory and write its report.

    Returns:
        The PNG files, then ``report.md`` and ``report.html``.
    """
    info = inspect_directory(root)
    plots_dir = info.root / "plots"
    if info.kind == "run":
        from experiments.plots import plot_run

        metric_plots = plot_run(info.root)
    else:
        from experiments.compare_plots import plot_compare

        metric_plots = plot_compare(
            info.table,
            plots_dir,
            label=lambda p: _label(p, info.upper_bounds),
            upper_bounds=info.upper_bounds,
            warmup_episodes=info.warmup_episodes,
        )
    drift = draw_drift_plots(info.sources, plots_dir)
    return [*metric_plots, *drift, *write_report(info, [*_overview(metric_plots), *drift])]


def _overview(paths: list[Path]) -> list[Path]:
    """The overview figure of the metric plots (the per-metric ones stay in plots/)."""
    return [p for p in paths if p.stem in ("overview", "compare_overview")]


# ------------------------------------------------------------------ tables
def _fmt(x: Any) -> str:
    if isinstance(x, float | np.floating):
        return "n/a" if not math.isfinite(x) else f"{x:.4g}"
    return str(x)


def _markdown_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _run_table(info: DirectoryInfo) -> pd.DataFrame:
    table = info.table[info.table["episode"] >= info.warmup_episodes]
    grouped = table.groupby("metric")["value"]
    last = table[table["episode"] == table["episode"].max()].set_index("metric")["value"]
    out = pd.DataFrame({"mean over episodes": grouped.mean(), "last episode": last})
    return out.reset_index().rename(columns={"index": "metric"})


def _compare_table(info: DirectoryInfo) -> pd.DataFrame:
    path = info.root / "summary.parquet"
    if path.is_file():
        summary = pd.read_parquet(path)
        keep = [
            c for c in ("metric", "policy", "mean", "ci_low", "ci_high", "diff") if c in summary
        ]
        return summary[keep].sort_values(["metric"], kind="stable")
    measured = info.table[info.table["episode"] >= info.warmup_episodes]
    return measured.groupby(["metric", "policy"])["value"].mean().reset_index()


def _relative_table(info: DirectoryInfo) -> pd.DataFrame | None:
    rel = relative_to_reference(info.table[info.table["episode"] >= info.warmup_episodes])
    if rel.empty:
        return None
    per_run = rel.groupby(["metric", "policy", "seed"])["value"].mean()
    return per_run.groupby(["metric", "policy"]).mean().rename("mean over seeds").reset_index()


def _breakdown_table(info: DirectoryInfo) -> pd.DataFrame | None:
    from experiments.metric_users import breakdown, per_user_metrics

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
def write_report(info: DirectoryInfo, images: list[Path]) -> list[Path]:
    """Write ``report.md`` and the self-contained ``report.html`` of a directory.

    Args:
        info: The directory (see :func:`inspect_directory`).
        images: PNG files to embed, in order.

    Returns:
        ``[report.md, report.html]``.
    """
    sections: list[tuple[str, pd.DataFrame | str]] = []
    if info.kind == "compare":
        sections.append(
            ("Comparison table (mean over seeds of per-run means)", _compare_table(info))
        )
        relative = _relative_table(info)
        if relative is not None:
            sections.append(("Relative to the oracle run (value / oracle value)", relative))
        summary_md = info.root / "summary.md"
        if summary_md.is_file():
            sections.append(("summary.md", summary_md.read_text(encoding="utf-8")))
    else:
        sections.append(("Metrics", _run_table(info)))
        groups = _breakdown_table(info)
        if groups is not None:
            sections.append(("Per-user breakdown (mean over users, then episodes)", groups))
    notes = [
        f"Directory: `{info.root}`",
        "Metric definitions: docs/metrics.md.",
    ]
    if info.warmup_episodes:
        notes.append(f"Tables leave out the {info.warmup_episodes} warm-up episodes.")
    if info.upper_bounds:
        notes.append(f"Upper bounds (saw ground truth): {', '.join(sorted(info.upper_bounds))}.")
    md = [f"# {info.title}", "", *[f"* {n}" for n in notes], ""]
    body = [f"<h1>{html.escape(info.title)}</h1><ul>"]
    body += [f"<li>{html.escape(n)}</li>" for n in notes] + ["</ul>"]
    for heading, content in sections:
        md += [f"## {heading}", ""]
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, pd.DataFrame):
            md += [_markdown_table(content), ""]
            body.append(_html_table(content))
        else:
            md += ["```", content.rstrip(), "```", ""]
            body.append(f"<pre>{html.escape(content)}</pre>")
    md += ["## Plots", ""]
    body.append("<h2>Plots</h2>")
    for image in images:
        rel = image.relative_to(info.root).as_posix()
        md += [f"![{image.stem}]({rel})", ""]
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        body.append(
            f'<figure><img alt="{html.escape(image.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(image.stem)}</figcaption></figure>"
        )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:right}img{max-width:100%}pre{font-size:11px}"
    )
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(info.title)}"
        f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
    md_path, html_path = info.root / "report.md", info.root / "report.html"
    atomic_write_text(md_path, "\n".join(md))
    atomic_write_text(html_path, page)
    return [md_path, html_path]
