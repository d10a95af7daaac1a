"""Run one scenario: build the world, simulate the episodes, write the run directory.

Each episode, in order: simulate it; write its ground-truth snapshot, its events and the
updated metrics table (each file atomically, in that order); record it in the manifest
(``episodes_finished`` is authoritative); then hand the episode's log to
``policy.update``. An interruption at any point leaves every finished episode readable
and the manifest ``incomplete`` with the reason.

Warm start (``scenario.warmup.episodes = W > 0``): the world is built with the warm-up
policy, which serves episodes ``0 .. W-1`` (logged like any other and updated after each
one). Before episode ``W`` the measured policy is bound to the world
(``World.set_policy``) and its ``update`` receives the ``W`` warm-up logs in order
(strictly past data); it then serves and learns as usual. Each manifest episode entry
records the serving ``policy`` and its ``phase`` (``warmup`` or ``measured``); the
metrics table keeps every episode under the measured policy's name.

Interventions (``scenario.interventions``) due before episode ``e`` are applied after
episode ``e - 1``'s policy update and before episode ``e`` starts
(:class:`experiments.scenario.interventions.InterventionSchedule`); episode ``e``'s manifest
entry lists them under ``interventions``. After a ``policy_swap`` the new policy serves
(and the manifest entries name it), its ``update`` first replaying the past logs read
back from the run directory one episode at a time; the metrics table keeps the
scenario policy's name. Nothing per episode is kept in memory beyond the metric rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from experiments.errors import UserError
from experiments.metrics import compute_metrics, tidy_metrics
from experiments.metrics.health import collect_health
from experiments.metrics.tracker import MetricTracker, utility_weights
from experiments.runner.progress import EpisodeProgress
from experiments.runner.run_dir import Manifest, RunDir, Stopwatch, default_run_dir
from experiments.scenario import Scenario
from experiments.scenario.interventions import InterventionSchedule
from policies import make_policy

__all__ = ["TRUTH_FIELDS", "RunResult", "run_scenario", "truth_arrays"]

#: Ground-truth arrays saved per episode, each shape ``(n_users, n_topics)``.
TRUTH_FIELDS = ("interests", "satiation", "drift_endogenous", "drift_exogenous")

BuildWorld = Callable[..., Any]


@dataclass(frozen=True)
class RunResult:
    """Where a finished run was written and what it measured.

    Attributes:
        run_dir: The run directory.
        metrics: Tidy metrics table (policy, seed, episode, metric, value).
        wall_s: Wall-clock seconds of the whole run.
    """

    run_dir: Path
    metrics: pd.DataFrame
    wall_s: float


def truth_arrays(snapshot: Any) -> dict[str, np.ndarray]:
    """The arrays of a ``sim.world.TruthSnapshot`` as a name → array dict (plus episode)."""
    arrays = {name: np.asarray(getattr(snapshot, name)) for name in TRUTH_FIELDS}
    arrays["episode"] = np.asarray(getattr(snapshot, "episode", -1), dtype=np.int64)
    return arrays


def _default_build_world() -> BuildWorld:
    from sim.world import build_world

    return build_world


def run_scenario(
    scenario: Scenario,
    out_dir: Path | None = None,
    *,
    scenario_file: str | None = None,
    command: list[str] | None = None,
    show_progress: bool | None = None,
    build_world: BuildWorld | None = None,
    runs_base: Path = Path("runs"),
) -> RunResult:
    """Simulate ``scenario`` and write its run directory.

    Args:
        scenario: The validated scenario (overrides already applied).
        out_dir: The run directory; by default a new one under ``runs_base``.
        scenario_file: The scenario's source file, recorded in the manifest.
        command: The command line, recorded in the manifest.
        show_progress: Draw a progress bar (``None``: only on a terminal).
        build_world: ``build_world(config, seed, policy)``; defaults to
            :func:`sim.world.build_world` (tests inject a small fake).
        runs_base: Parent of the default run directory.

    Returns:
        The run directory and its metrics.

    Raises:
        UserError: If the output directory exists and is not empty.
        KeyboardInterrupt: Re-raised after recording the interruption in the manifest.
    """
    # The simulation multiplies many small matrices; OpenBLAS threads then cost far more
    # in hand-offs than they save (measured: ~30x slower oracle utilities on a busy
    # 2-core machine), so a run uses one BLAS thread. Parallelism is across runs.
    with threadpool_limits(limits=1, user_api="blas"):
        return _simulate(
            scenario, out_dir, scenario_file, command, show_progress, build_world, runs_base
        )


def _simulate(
    scenario: Scenario,
    out_dir: Path | None,
    scenario_file: str | None,
    command: list[str] | None,
    show_progress: bool | None,
    build_world: BuildWorld | None,
    runs_base: Path,
) -> RunResult:
    """The body of :func:`run_scenario` (same arguments)."""
    build = build_world or _default_build_world()
    policy_name = scenario.policy.name
    run = RunDir(out_dir or default_run_dir(scenario.id, policy_name, scenario.seed, runs_base))
    run.create()
    manifest = Manifest(
        scenario=scenario.model_dump(mode="json"), scenario_file=scenario_file, command=command
    )
    run.write_manifest(manifest)
    metric_rows: list[dict[str, Any]] = []
    metric_names = scenario.output.metrics
    progress = EpisodeProgress(scenario.episodes, scenario.id, enabled=show_progress)
    with Stopwatch() as total:
        stage = "building the world"
        try:
            with Stopwatch() as sw:
                policy = make_policy(policy_name, **scenario.policy.params)
                warmup = scenario.warmup
                warm = (
                    make_policy(warmup.policy.name, **warmup.policy.params)
                    if warmup.episodes
                    else None
                )
                world = build(scenario.world, scenario.seed, warm or policy)
                manifest.upper_bound = any(
                    bool(getattr(p, "is_upper_bound", False)) for p in (policy, warm)
                )
                _attach_ground_truth(warm or policy, world, scenario)
                initial = world.truth_snapshot()
                if scenario.output.truth_snapshots:
                    run.write_truth(None, truth_arrays(initial))
                initial_interests = np.asarray(initial.interests)
                tracker = MetricTracker(
                    initial_interests.shape[0],
                    initial_interests,
                    utility_weights(manifest.scenario),
                )
            manifest.timings_s["build_world_s"] = round(sw.elapsed_s, 4)
            run.write_manifest(manifest)
            warmup_logs: list[pd.DataFrame] = []
            schedule = InterventionSchedule(scenario.interventions)
            for episode in range(scenario.episodes):
                if warm is not None and episode == warmup.episodes:
                    stage = "the warm start of the measured policy"
                    with Stopwatch() as warm_sw:
                        world.set_policy(policy)
                        _attach_ground_truth(policy, world, scenario)
                        for past in warmup_logs:
                            policy.update(past)
                    warmup_logs.clear()
                    manifest.timings_s["warm_start_s"] = round(warm_sw.elapsed_s, 4)
                applied = None
                if episode in schedule.episodes:
                    stage = f"the interventions before episode {episode}"
                    applied = schedule.apply_due(
                        episode,
                        world,
                        _item_clicks(tracker),
                        lambda upto: _read_past_logs(run, upto),
                        lambda p: _attach_ground_truth(p, world, scenario),
                    )
                    if applied.policy is not None:
                        policy, policy_name = applied.policy, applied.policy_name
                        if getattr(policy, "is_upper_bound", False):
                            manifest.upper_bound = True
                in_warmup = warm is not None and episode < warmup.episodes
                serving = warm if in_warmup else policy
                stage = f"episode {episode}"
                progress.start_episode(episode)
                with Stopwatch() as sim_sw:
                    result = world.run_episode(episode, progress=progress.sessions)
                with Stopwatch() as write_sw:
                    # Order matters: truth, then events, then metrics, then the manifest,
                    # so a file that mentions episode e implies the earlier ones are whole.
                    truth = truth_arrays(result.truth)
                    if scenario.output.truth_snapshots:
                        run.write_truth(episode, truth)
                    tracker.sync_catalog(
                        world, run.root if scenario.output.truth_snapshots else None
                    )
                    run.write_events(episode, result.events)
                    events = result.events.to_pandas()
                    context = tracker.context(
                        episode, truth, int(np.asarray(world.catalog_view().available).sum())
                    )
                    metric_rows.append(
                        {"episode": episode, **compute_metrics(events, context, metric_names)}
                    )
                    tracker.advance(events, truth)
                    table = _with_run_columns(tidy_metrics(metric_rows), scenario)
                    run.write_metrics(table)
                manifest.episodes_finished = episode + 1
                manifest.episodes.append(
                    {
                        "episode": episode,
                        "policy": warmup.policy.name if in_warmup else policy_name,
                        "phase": "warmup" if in_warmup else "measured",
                        "n_sessions": int(result.n_sessions),
                        "n_slates": int(result.n_slates),
                        "n_events": int(result.n_events),
                        "n_users": context.n_users,
                        "n_items_available": context.n_items_available,
                        "simulate_s": round(sim_sw.elapsed_s, 4),
                        "write_s": round(write_sw.elapsed_s, 4),
                    }
                )
                if applied is not None:
                    manifest.episodes[-1]["interventions"] = applied.records
                run.write_manifest(manifest)
                stage = f"the policy update after episode {episode}"
                with Stopwatch() as update_sw:
                    serving.update(events)
                health = collect_health(serving)  # optional side channel of the policy
                if health:
                    metric_rows[-1].update(health)
                    table = _with_run_columns(tidy_metrics(metric_rows), scenario)
                    run.write_metrics(table)
                if in_warmup:
                    warmup_logs.append(events)
                manifest.episodes[-1]["update_s"] = round(update_sw.elapsed_s, 4)
                progress.end_episode()
            progress.close()
            if scenario.output.plots:
                stage = "plotting"
                from experiments.reporting.report import plot_directory

                with Stopwatch() as plot_sw:
                    plot_directory(run.root)
                manifest.timings_s["plots_s"] = round(plot_sw.elapsed_s, 4)
        except BaseException as exc:
            progress.close()
            manifest.reason = _reason(exc, stage)
            manifest.finished_at = _now_iso()
            run.write_manifest(manifest)
            raise
    manifest.timings_s["total_s"] = round(total.elapsed_s, 4)
    manifest.status = "complete"
    manifest.finished_at = _now_iso()
    run.write_manifest(manifest)
    return RunResult(run_dir=run.root, metrics=table, wall_s=total.elapsed_s)


def _attach_ground_truth(policy: Any, world: Any, scenario: Scenario) -> None:
    """Hand an oracle its ground-truth view (the scenario allowed it at load time).

    Does nothing for a policy that does not declare ``needs_ground_truth``.
    """
    if not getattr(policy, "needs_ground_truth", False):
        return
    if not scenario.allow_ground_truth:  # validated at load; re-checked before any access
        name = getattr(policy, "name", type(policy).__name__)
        raise UserError(f"policy {name!r} needs `allow_ground_truth: true`")
    from sim.ground_truth import GroundTruthView

    policy.attach_ground_truth(GroundTruthView(world.config, world.catalog, world.population))


def _item_clicks(tracker: MetricTracker) -> np.ndarray:
    """Clicks per item over the finished episodes (empty before the first)."""
    history = tracker.history
    if history is None:
        return np.zeros(0)
    return np.asarray(history.item_clicks, dtype=np.float64)


def _read_past_logs(run: RunDir, upto: int) -> Iterator[pd.DataFrame]:
    """The logs of episodes ``0 .. upto-1``, read back one at a time (never all at once)."""
    for episode in range(upto):
        yield pd.read_parquet(run.episode_events_path(episode))


def _with_run_columns(table: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    table.insert(0, "seed", np.int64(scenario.seed))
    table.insert(0, "policy", scenario.policy.name)
    return table


def _reason(exc: BaseException, stage: str) -> str:
    where = f"during {stage}"
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted by the user (KeyboardInterrupt) {where}"
    if isinstance(exc, UserError):
        return f"stopped {where}: {exc}"
    return f"failed {where}: {type(exc).__name__}: {exc}"


def _now_iso() -> str:
    from datetime import datetime

    return datetime.now().astimezone().isoformat(timespec="seconds")
