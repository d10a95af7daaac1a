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
from experiments.metrics.tracker import MetricTracker, affinity_spec, utility_weights
from experiments.runner.checkpoint import (
    CHECKPOINT_NAME,
    RunState,
    load_checkpoint,
    save_checkpoint,
)
from experiments.runner.progress import EpisodeProgress
from experiments.runner.run_dir import Manifest, RunDir, Stopwatch, default_run_dir
from experiments.scenario import Scenario
from experiments.scenario.interventions import InterventionSchedule
from policies import make_policy
from sim.log import episode_frame

__all__ = ["TRUTH_FIELDS", "RunResult", "resume_run", "run_scenario", "truth_arrays"]

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
    shards: int = 1,
    backend: str = "local",
    address: str | None = None,
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
        shards: Split every episode by users across this many worker processes
            (:mod:`experiments.runner.shards`); the files are those of an unsharded run.
        backend: Where the shards run: ``"local"`` processes or ``"ray"``.
        address: Ray cluster address (``ray`` only; ``None``: a local Ray).

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
            scenario, out_dir, scenario_file, command, show_progress, build_world, runs_base,
            sharding=Sharding(shards, backend, address),
        )  # fmt: skip


def _simulate(
    scenario: Scenario,
    out_dir: Path | None,
    scenario_file: str | None,
    command: list[str] | None,
    show_progress: bool | None,
    build_world: BuildWorld | None,
    runs_base: Path,
    resume: bool = False,
    sharding: Sharding | None = None,
) -> RunResult:
    """The body of :func:`run_scenario` (same arguments)."""
    sharding = sharding or Sharding()
    shards = sharding.start()  # checks the options before anything is written
    build = build_world or _default_build_world()
    run = RunDir(
        out_dir or default_run_dir(scenario.id, scenario.policy.name, scenario.seed, runs_base)
    )
    state: RunState | None = None
    if resume:
        manifest, state = _resume_manifest(run, scenario)
    else:
        run.create()
        manifest = Manifest(
            scenario=scenario.model_dump(mode="json"), scenario_file=scenario_file, command=command
        )
    run.write_manifest(manifest)
    metric_names = scenario.output.metrics
    warmup = scenario.warmup
    progress = EpisodeProgress(scenario.episodes, scenario.id, enabled=show_progress)
    with Stopwatch() as total:
        stage = "building the world"
        try:
            if state is None:
                with Stopwatch() as sw:
                    state = _initial_state(scenario, build, run, manifest)
                manifest.timings_s["build_world_s"] = round(sw.elapsed_s, 4)
                run.write_manifest(manifest)
            world, tracker = state.world, state.tracker
            progress.skip(state.next_episode)
            for episode in range(state.next_episode, scenario.episodes):
                policy, warm = state.policy, state.warm
                if warm is not None and episode == warmup.episodes:
                    stage = "the warm start of the measured policy"
                    with Stopwatch() as warm_sw:
                        world.set_policy(policy)
                        _attach_ground_truth(policy, world, scenario)
                        for past in state.warmup_logs:
                            policy.update(past)
                    state.warmup_logs.clear()
                    manifest.timings_s["warm_start_s"] = round(warm_sw.elapsed_s, 4)
                applied = None
                if episode in state.schedule.episodes:
                    stage = f"the interventions before episode {episode}"
                    applied = state.schedule.apply_due(
                        episode,
                        world,
                        _item_clicks(tracker),
                        lambda upto: _read_past_logs(run, upto),
                        lambda p: _attach_ground_truth(p, world, scenario),
                    )
                    if applied.policy is not None:
                        state.policy, state.policy_name = applied.policy, applied.policy_name
                        policy = state.policy
                        if getattr(policy, "is_upper_bound", False):
                            manifest.upper_bound = True
                in_warmup = warm is not None and episode < warmup.episodes
                serving = warm if in_warmup else policy
                stage = f"episode {episode}"
                progress.start_episode(episode)
                with Stopwatch() as sim_sw:
                    if shards is None:
                        result = world.run_episode(episode, progress=progress.sessions)
                    else:
                        result = shards.run_episode(world, episode, progress=progress.sessions)
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
                    counts = {
                        "n_sessions": int(result.n_sessions),
                        "n_slates": int(result.n_slates),
                        "n_events": int(result.n_events),
                    }
                    # The frame consumes the table: drop every other reference first,
                    # so the log is never held twice.
                    events_table = result.events
                    del result
                    events = episode_frame(events_table)
                    del events_table
                    context = tracker.context(
                        episode, truth, int(np.asarray(world.catalog_view().available).sum())
                    )
                    state.metric_rows.append(
                        {"episode": episode, **compute_metrics(events, context, metric_names)}
                    )
                    tracker.advance(events, truth)
                    table = _with_run_columns(tidy_metrics(state.metric_rows), scenario)
                    run.write_metrics(table)
                manifest.episodes_finished = episode + 1
                manifest.episodes.append(
                    {
                        "episode": episode,
                        "policy": warmup.policy.name if in_warmup else state.policy_name,
                        "phase": "warmup" if in_warmup else "measured",
                        **counts,
                        "n_users": context.n_users,
                        "n_items_available": context.n_items_available,
                        "simulate_s": round(sim_sw.elapsed_s, 4),
                        "write_s": round(write_sw.elapsed_s, 4),
                        **sharding.record(),
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
                    state.metric_rows[-1].update(health)
                    table = _with_run_columns(tidy_metrics(state.metric_rows), scenario)
                    run.write_metrics(table)
                if in_warmup:
                    state.warmup_logs.append(events)
                manifest.episodes[-1]["update_s"] = round(update_sw.elapsed_s, 4)
                del events
                stage = f"the checkpoint after episode {episode}"
                state.next_episode = episode + 1
                with Stopwatch() as ckpt_sw:
                    unsaved = save_checkpoint(run.root, state)
                manifest.episodes[-1]["checkpoint_s"] = round(ckpt_sw.elapsed_s, 4)
                if unsaved is not None:
                    manifest.episodes[-1]["checkpoint_error"] = unsaved
                run.write_manifest(manifest)
                progress.end_episode()
            progress.close()
            table = _with_run_columns(tidy_metrics(state.metric_rows), scenario)
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
        finally:
            if shards is not None:
                shards.close()
    manifest.timings_s["total_s"] = round(total.elapsed_s, 4)
    manifest.status = "complete"
    manifest.reason = None
    manifest.finished_at = _now_iso()
    run.write_manifest(manifest)
    (run.root / CHECKPOINT_NAME).unlink(missing_ok=True)  # a complete run needs none
    return RunResult(run_dir=run.root, metrics=table, wall_s=total.elapsed_s)


def _initial_state(
    scenario: Scenario, build: BuildWorld, run: RunDir, manifest: Manifest
) -> RunState:
    """Build the world and the policies; write the initial truth; start the tracker."""
    policy = make_policy(scenario.policy.name, **scenario.policy.params)
    warmup = scenario.warmup
    warm = make_policy(warmup.policy.name, **warmup.policy.params) if warmup.episodes else None
    world_data = manifest.scenario
    if scenario.world.from_data is None:
        world = build(scenario.world, scenario.seed, warm or policy)
    else:
        calibrated = _calibrated_world(scenario, run, manifest)
        world = build(calibrated.fit.config, scenario.seed, warm or policy, calibrated.fit.fitted)
        world_data = {**manifest.scenario, "world": manifest.calibration["world"]}
    manifest.upper_bound = any(bool(getattr(p, "is_upper_bound", False)) for p in (policy, warm))
    _attach_ground_truth(warm or policy, world, scenario)
    if scenario.world.from_data is not None and scenario.world.from_data.warm_start:
        with Stopwatch() as warm_sw:
            (warm or policy).update(real_warm_start_frame(calibrated))
        manifest.timings_s["warm_start_real_log_s"] = round(warm_sw.elapsed_s, 4)
    initial = world.truth_snapshot()
    if scenario.output.truth_snapshots:
        run.write_truth(None, truth_arrays(initial))
    initial_interests = np.asarray(initial.interests)
    tracker = MetricTracker(
        initial_interests.shape[0],
        initial_interests,
        utility_weights(world_data),
        affinity_spec(world_data),
    )
    return RunState(
        world=world,
        policy=policy,
        policy_name=scenario.policy.name,
        warm=warm,
        tracker=tracker,
        schedule=InterventionSchedule(scenario.interventions),
    )


def _calibrated_world(scenario: Scenario, run: RunDir, manifest: Manifest) -> Any:
    """Fit (or read from the cache) the scenario's calibrated world; report into the run.

    The run directory receives the calibration report (``calibration.json`` and its
    figures, from the cache when there); the manifest records the fit and the resolved
    world configuration the run simulates.
    """
    from experiments.calibration.prepare import prepare_calibrated
    from experiments.calibration.report import calibration_report

    with Stopwatch() as sw:
        calibrated = prepare_calibrated(scenario.world)
        calibration_report(calibrated, run.root)
    manifest.calibration = {
        "from_cache": calibrated.from_cache,
        "cache": str(calibrated.cache_path) if calibrated.cache_path else None,
        "fit": calibrated.fit.report,
        "world": calibrated.fit.config.model_dump(mode="json"),
    }
    manifest.timings_s["calibration_s"] = round(sw.elapsed_s, 4)
    return calibrated


def real_warm_start_frame(calibrated: Any) -> pd.DataFrame:
    """The real training interactions of each simulated user's source user, as a log.

    Training interactions: each real sequence without its last two items (the replay
    bench's validation and test targets), so an offline evaluation on the same split
    never sees them.
    """
    from experiments.calibration.warm_start import warm_start_frame

    sequences = calibrated.real.sequences
    histories = [sequences[u][:-2] for u in calibrated.fit.fitted.source_user.tolist()]
    return warm_start_frame(histories)


def _resume_manifest(run: RunDir, scenario: Scenario) -> tuple[Manifest, RunState | None]:
    """The manifest to go on with and the checkpointed state (``None``: start over).

    The episodes after the checkpoint are dropped from the manifest and their files
    removed (they are simulated again, identically).

    Raises:
        UserError: If the directory holds no run of this scenario, or a complete one.
    """
    if not run.manifest_path.is_file():
        raise UserError(f"{run.root}: no manifest.json: not a run directory")
    data = run.read_manifest()
    if data.get("status") == "complete":
        raise UserError(f"{run.root}: the run is already complete; nothing to resume")
    if data.get("scenario") != scenario.model_dump(mode="json"):
        raise UserError(f"{run.root}: the run directory holds a different scenario")
    state = load_checkpoint(run.root)
    done = 0 if state is None else state.next_episode
    manifest = Manifest(
        scenario=data["scenario"],
        scenario_file=data.get("scenario_file"),
        command=data.get("command"),
        upper_bound=bool(data.get("upper_bound")),
        episodes_finished=done,
        episodes=list(data.get("episodes") or [])[:done],
        timings_s=dict(data.get("timings_s") or {}),
        started_at=data.get("started_at") or _now_iso(),
        calibration=data.get("calibration"),
    )
    manifest.timings_s["resumed_at_episode"] = done
    for path in [*run.events_dir.glob("episode-*.parquet"), *run.truth_dir.glob("episode-*.npz")]:
        if int(path.stem.split("-")[1]) >= done:
            path.unlink()
    if state is None:  # killed before the first checkpoint: start over
        for path in (run.metrics_path, run.truth_path(None)):
            path.unlink(missing_ok=True)
    return manifest, state


def resume_run(
    run_dir: Path,
    *,
    show_progress: bool | None = None,
    build_world: BuildWorld | None = None,
    shards: int = 1,
    backend: str = "local",
    address: str | None = None,
) -> RunResult:
    """Continue an incomplete run from its last checkpoint (see :mod:`.checkpoint`).

    The scenario is the one recorded in the run's manifest; the events, metrics and
    files written afterwards are those of an uninterrupted run.

    Args:
        run_dir: The run directory of an incomplete run.
        show_progress: Draw a progress bar (``None``: only on a terminal).
        build_world: As for :func:`run_scenario` (used only if no episode was saved).
        shards: As for :func:`run_scenario` (any number: the files do not depend on it).
        backend: As for :func:`run_scenario`.
        address: As for :func:`run_scenario`.

    Raises:
        UserError: If ``run_dir`` holds no incomplete run, or its checkpoint was written
            by other code.
    """
    run = RunDir(Path(run_dir))
    if not run.manifest_path.is_file():
        raise UserError(f"{run.root}: no manifest.json: not a run directory")
    scenario = Scenario.model_validate(run.read_manifest()["scenario"])
    with threadpool_limits(limits=1, user_api="blas"):
        return _simulate(
            scenario, run.root, None, None, show_progress, build_world, Path("runs"), resume=True,
            sharding=Sharding(shards, backend, address),
        )  # fmt: skip


@dataclass(frozen=True)
class Sharding:
    """How a run's episodes are simulated: in this process, or split by users.

    Attributes:
        shards: Worker processes per episode (1: none, this process simulates).
        backend: ``"local"`` or ``"ray"`` (:mod:`experiments.runner.shards`).
        address: Ray cluster address.
    """

    shards: int = 1
    backend: str = "local"
    address: str | None = None

    def start(self) -> Any:
        """The episode runner of a sharded run, or ``None`` for one process.

        Raises:
            UserError: On a bad combination (checked before anything runs).
        """
        if self.shards < 1:
            raise UserError(f"--shards: {self.shards}: must be at least 1")
        if self.shards == 1:
            if self.address is not None or self.backend != "local":
                raise UserError("--backend / --address: only with --shards 2 or more")
            return None
        from experiments.runner.shards import EpisodeShards

        return EpisodeShards(self.shards, self.backend, self.address)

    def record(self) -> dict[str, Any]:
        """What the manifest's episode entry says about sharding (nothing when unsharded)."""
        if self.shards == 1:
            return {}
        return {"shards": self.shards, "backend": self.backend}


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
