"""``onefeed compare``: run a comparison and write its outputs.

Output directory layout::

    compare.json        the plan (policies, seeds, reference, upper bounds, warm-up,
                        overview metrics) and each pair's status; ``status``
                        incomplete → complete
    runs/<policy>-seed<N>/   one ordinary run directory per pair
    per_run.parquet     policy, seed, episode, metric, value (every run, every episode)
    summary.parquet     policy, metric, mean, ci_low, ci_high, diff, diff_ci_low, diff_ci_high
    summary.md          the summary as Markdown, by metric family
    report.md           the one-page report: comparison table by metric family, plots
    report.html         the same, self-contained (plots embedded)
    plots/compare_<metric>.png     per metric: mean over seeds per policy, 95% band
    plots/compare_overview.png     the main metrics (``--metrics``) in one figure
    plots/compare_family_<family>.png   every metric of one family in one figure
    plots/lorenz.png, interest_trajectories.png, topic_exposure.png,
        feed_search_share.png      the feedback-loop plots (reporting.drift_plots)

The plots and the report are those of ``onefeed plot OUT``
(:func:`experiments.reporting.report.plot_directory`), which redraws them from the files. Every
file is written atomically.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd
from tqdm import tqdm

from experiments.atomic import atomic_write_json
from experiments.cli.backend_options import backend_options
from experiments.cli.data_dir import data_dir_option
from experiments.errors import UserError
from experiments.reporting.compare_report import (
    MAIN_METRICS,
    collect_per_run,
    format_table,
    summarize,
    summary_markdown,
    write_markdown,
    write_parquet,
)
from experiments.runner.compare import (
    ComparePlan,
    PairOutcome,
    default_jobs,
    parse_policies,
    parse_seeds,
    plan_compare,
    run_pairs,
)

__all__ = ["CompareResult", "compare_command", "execute_compare", "write_outputs"]

EXIT_INTERRUPTED = 130
PER_RUN_VALUE = "mean of the per-episode values over the measured (non-warm-up) episodes"


@dataclass(frozen=True)
class CompareResult:
    """What a finished comparison wrote.

    Attributes:
        out_dir: The output directory.
        per_run: Columns ``policy, seed, episode, metric, value``.
        summary: Columns of :data:`experiments.reporting.compare_report.SUMMARY_COLUMNS`.
        outcomes: One outcome per pair.
    """

    out_dir: Path
    per_run: pd.DataFrame
    summary: pd.DataFrame
    outcomes: list[PairOutcome]


def _write_plan(
    plan: ComparePlan,
    outcomes: dict[str, PairOutcome],
    status: str,
    overview_metrics: list[str] | None = None,
) -> None:
    data: dict[str, Any] = {
        "status": status,
        "scenario_id": plan.scenario.id,
        "scenario": plan.scenario.model_dump(mode="json"),
        "policies": plan.policies,
        "seeds": plan.seeds,
        "reference": plan.reference,
        "upper_bounds": sorted(plan.upper_bounds),
        "warmup_episodes": plan.warmup_episodes,
        "overview_metrics": overview_metrics or list(MAIN_METRICS),
        "per_run_value": PER_RUN_VALUE,
        "confidence": 0.95,
        "pairs": {
            task.name: asdict(outcomes[task.name]) if task.name in outcomes else None
            for task in plan.tasks
        },
        "updated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    atomic_write_json(plan.out_dir / "compare.json", data)


def write_outputs(plan: ComparePlan, overview_metrics: list[str] | None = None) -> CompareResult:
    """Assemble ``per_run``, ``summary`` (parquet and Markdown), the plots and the report.

    Every pair's run directory must hold a complete run. The plots and the report are
    those of ``onefeed plot`` (:func:`experiments.reporting.report.plot_directory`), drawn from
    the files just written.
    """
    from experiments.reporting.report import plot_directory

    runs = [(t.policy, t.seed, Path(t.run_dir)) for t in plan.tasks]
    per_run = collect_per_run(runs, plan.policies)
    summary = summarize(per_run, plan.reference, plan.warmup_episodes)
    write_parquet(per_run, plan.out_dir / "per_run.parquet")
    write_parquet(summary, plan.out_dir / "summary.parquet")
    title = f"{plan.scenario.id}: {', '.join(map(plan.label, plan.policies))}"
    markdown = summary_markdown(
        summary, title, plan.reference, len(plan.seeds), plan.warmup_episodes, plan.label
    )
    write_markdown(markdown, plan.out_dir / "summary.md")
    plot_directory(plan.out_dir, overview_metrics=overview_metrics or list(MAIN_METRICS))
    return CompareResult(plan.out_dir, per_run, summary, [])


def execute_compare(
    plan: ComparePlan,
    jobs: int | None = None,
    show_progress: bool | None = None,
    overview_metrics: list[str] | None = None,
    backend: str = "local",
    address: str | None = None,
) -> CompareResult:
    """Run every pair of ``plan`` (reusing complete ones) and write the outputs.

    Args:
        plan: The validated plan.
        jobs: Worker processes of the local backend (default ``min(#pairs, cpu
            count)``; 1 runs in-process).
        show_progress: Progress bar over pairs (``None``: only on a terminal).
        overview_metrics: Panels of the overview plot (recorded in ``compare.json``, so
            ``onefeed plot`` redraws the same).
        backend: ``local`` (processes of this machine) or ``ray`` (Ray tasks, see
            :mod:`experiments.runner.ray_backend`); the outputs are the same.
        address: Ray cluster address (``None``: a local Ray).

    Returns:
        The outputs.

    Raises:
        UserError: If any pair failed (the others are kept; exit code 1).
        KeyboardInterrupt: After recording the finished pairs in ``compare.json``.
    """
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, PairOutcome] = {}
    _write_plan(plan, outcomes, "incomplete", overview_metrics)
    bar = tqdm(
        total=len(plan.tasks),
        desc=f"compare {plan.scenario.id}",
        unit="run",
        disable=None if show_progress is None else not show_progress,
        dynamic_ncols=True,
    )

    def on_done(outcome: PairOutcome) -> None:
        name = f"{outcome.policy}-seed{outcome.seed}"
        outcomes[name] = outcome
        _write_plan(plan, outcomes, "incomplete", overview_metrics)
        bar.set_postfix_str(f"{name}: {outcome.status}", refresh=False)
        bar.update(1)

    try:
        if backend == "ray":
            from experiments.runner.ray_backend import run_pairs_ray

            results = run_pairs_ray(plan.tasks, address, on_done)
        else:
            results = run_pairs(plan.tasks, jobs or default_jobs(len(plan.tasks)), on_done)
    finally:
        bar.close()
    failed = [o for o in results if o.status == "failed"]
    if failed:
        _write_plan(plan, outcomes, "incomplete", overview_metrics)
        first = failed[0]
        raise CompareFailed(
            f"{len(failed)} of {len(results)} runs failed (first: "
            f"{first.policy}-seed{first.seed}: {first.error}); finished runs are kept in "
            f"{plan.out_dir / 'runs'}; re-run the same command to retry the failed ones"
        )
    result = write_outputs(plan, overview_metrics)
    _write_plan(plan, outcomes, "complete", overview_metrics)
    return CompareResult(result.out_dir, result.per_run, result.summary, results)


class CompareFailed(UserError):
    """Some pairs of a comparison failed (exit code 1)."""

    exit_code = 1


def _default_out(scenario_id: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"compare-{scenario_id}-{stamp}"


def _calibrate_once(scenario: Any, out_dir: Path) -> None:
    """Fit a calibrated scenario's world and its report once, before the runs.

    Both are cached under the data directory, so the runs (in parallel processes) read
    them instead of each fitting; the report is also written into the comparison's
    directory.
    """
    from experiments.calibration.prepare import prepare_calibrated
    from experiments.calibration.report import calibration_report

    def say(message: str) -> None:
        click.echo(f"  calibration: {message}", err=True)

    calibrated = prepare_calibrated(scenario.world, progress=say)
    calibration_report(calibrated, out_dir, progress=say)


@click.command("compare")
@click.argument("scenario")
@click.option(
    "--policies",
    required=True,
    help="Comma-separated registered policy names, e.g. popularity,mf,random.",
)
@click.option(
    "--seeds", default="0-4", show_default=True, help="Seeds: a range '0-4' or a list '0,2,5'."
)
@click.option(
    "--reference",
    default=None,
    help="Reference policy of the paired differences "
    "(default: the first listed policy that is not an upper bound).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output directory (new, empty, or an earlier compare's to finish it). "
    "Default: runs/compare-<scenario-id>-<timestamp>.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: min(#runs, cpu count)); 1 runs in this process.",
)
@backend_options(
    backend_help="Where the runs execute: local processes, or Ray tasks (needs the ray extra).",
    address_help="With --backend ray: the Ray cluster to use (host:port of its head, or "
    "'auto'); default: start a local Ray on this machine.",
)
@click.option(
    "--metrics",
    default=None,
    help="Comma-separated metrics of the printed table and the overview plot "
    f"(default: {','.join(MAIN_METRICS)}).",
)
@click.option("--run-plots", is_flag=True, default=False, help="Also draw each run's own plots/.")
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal)."
)
@data_dir_option
def compare_command(
    scenario: str,
    policies: str,
    seeds: str,
    reference: str | None,
    out: Path | None,
    jobs: int | None,
    backend: str,
    address: str | None,
    metrics: str | None,
    run_plots: bool,
    progress: bool | None,
) -> None:
    """Compare policies on SCENARIO over seeds, with common random numbers.

    Every (policy, seed) pair runs in a fresh world; one seed gives every policy the
    same users, catalogue and arrivals, so policies are compared by paired per-seed
    differences against the reference. A policy that sees ground truth (e.g. `oracle`)
    needs `allow_ground_truth: true` in the scenario and is labelled "(upper bound)".
    If the scenario has `warmup`, its episodes are left out of the summary. Re-running
    with the same --out reuses the complete runs and resumes unfinished ones from their
    last finished episode. Ctrl-C keeps finished runs (exit 130). With `--backend ray`
    every run is a Ray task (a local Ray, or the cluster at --address); the outputs
    are those of the local backend.
    OUT gets per_run.parquet, summary.parquet, summary.md and the one-page report
    (report.md, self-contained report.html) with every plot of `onefeed plot OUT`.
    """
    from experiments.metrics import available_metrics
    from experiments.runner.run_dir import command_line
    from experiments.scenario import load_scenario, resolve_scenario_path

    names = parse_policies(policies)
    seed_list = parse_seeds(seeds)
    table_metrics = list(MAIN_METRICS)
    if metrics is not None:
        table_metrics = [m.strip() for m in metrics.split(",") if m.strip()]
        unknown = [m for m in table_metrics if m not in available_metrics()]
        if unknown or not table_metrics:
            raise UserError(
                f"--metrics: unknown metric {unknown[0] if unknown else metrics!r}; "
                f"known metrics: {', '.join(available_metrics())}"
            )
    loaded = load_scenario(scenario)
    plan = plan_compare(
        loaded,
        names,
        seed_list,
        out or _default_out(loaded.id),
        reference=reference,
        run_plots=run_plots,
        scenario_file=str(resolve_scenario_path(scenario)),
        command=command_line(),
    )
    try:
        if address is not None and backend != "ray":
            raise UserError("--address: only with --backend ray (see: onefeed compare --help)")
        if loaded.world.from_data is not None:
            _calibrate_once(loaded, plan.out_dir)
        result = execute_compare(plan, jobs, progress, table_metrics, backend, address)
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: finished runs are kept in {plan.out_dir / 'runs'}; "
            "re-run the same command to finish the others",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    reused = sum(o.status == "reused" for o in result.outcomes)
    click.echo(
        f"compare complete: {plan.out_dir} ({len(plan.tasks)} runs"
        + (f", {reused} reused" if reused else "")
        + ")"
    )
    click.echo(
        format_table(
            result.summary,
            table_metrics,
            plan.reference,
            len(plan.seeds),
            plan.warmup_episodes,
            plan.label,
        )
    )
