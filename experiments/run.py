"""Run one scenario: build the world, simulate the episodes, write the run directory.

Each episode, in order: simulate it; write its ground-truth snapshot, its events and the
updated metrics table (each file atomically, in that order); record it in the manifest
(``episodes_finished`` is authoritative); then hand the episode's log to
``policy.update``. An interruption at any point leaves every finished episode readable
and the manifest ``incomplete`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.config import Scenario
from experiments.errors import UserError
from experiments.metrics import MetricContext, compute_metrics, tidy_metrics
from experiments.progress import EpisodeProgress
from experiments.rundir import Manifest, RunDir, Stopwatch, default_run_dir
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
                world = build(scenario.world, scenario.seed, policy)
                manifest.upper_bound = bool(getattr(policy, "is_upper_bound", False))
                if getattr(policy, "needs_ground_truth", False):
                    _attach_ground_truth(policy, world, scenario)
                initial = world.truth_snapshot()
                if scenario.output.truth_snapshots:
                    run.write_truth(None, truth_arrays(initial))
            manifest.timings_s["build_world_s"] = round(sw.elapsed_s, 4)
            run.write_manifest(manifest)
            for episode in range(scenario.episodes):
                stage = f"episode {episode}"
                progress.start_episode(episode)
                with Stopwatch() as sim_sw:
                    result = world.run_episode(episode, progress=progress.sessions)
                with Stopwatch() as write_sw:
                    # Order matters: truth, then events, then metrics, then the manifest,
                    # so a file that mentions episode e implies the earlier ones are whole.
                    if scenario.output.truth_snapshots:
                        run.write_truth(episode, truth_arrays(result.truth))
                    run.write_events(episode, result.events)
                    events = result.events.to_pandas()
                    context = MetricContext(
                        episode=episode,
                        n_users=int(np.asarray(initial.interests).shape[0]),
                        n_items_available=int(np.asarray(world.catalog_view().available).sum()),
                        interests_initial=np.asarray(initial.interests),
                        interests=np.asarray(result.truth.interests),
                    )
                    metric_rows.append(
                        {"episode": episode, **compute_metrics(events, context, metric_names)}
                    )
                    table = _with_run_columns(tidy_metrics(metric_rows), scenario)
                    run.write_metrics(table)
                manifest.episodes_finished = episode + 1
                manifest.episodes.append(
                    {
                        "episode": episode,
                        "n_sessions": int(result.n_sessions),
                        "n_slates": int(result.n_slates),
                        "n_events": int(result.n_events),
                        "n_users": context.n_users,
                        "n_items_available": context.n_items_available,
                        "simulate_s": round(sim_sw.elapsed_s, 4),
                        "write_s": round(write_sw.elapsed_s, 4),
                    }
                )
                run.write_manifest(manifest)
                stage = f"the policy update after episode {episode}"
                with Stopwatch() as update_sw:
                    policy.update(events)
                manifest.episodes[-1]["update_s"] = round(update_sw.elapsed_s, 4)
                progress.end_episode()
            progress.close()
            if scenario.output.plots:
                stage = "plotting"
                from experiments.plots import plot_run

                with Stopwatch() as plot_sw:
                    plot_run(run.root)
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
    """Hand an oracle its ground-truth view (the scenario allowed it at load time)."""
    if not scenario.allow_ground_truth:  # validated at load; re-checked before any access
        raise UserError(f"policy {scenario.policy.name!r} needs `allow_ground_truth: true`")
    from sim.ground_truth import GroundTruthView

    policy.attach_ground_truth(GroundTruthView(world.config, world.catalog, world.population))


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
