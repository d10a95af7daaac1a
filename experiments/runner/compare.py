"""Compare policies on one scenario over several seeds, with common random numbers.

Every (policy, seed) pair is one ordinary run (:func:`experiments.runner.run.run_scenario`) in
a fresh world, written to ``OUT/runs/<policy>-seed<N>/``. The world keys its exogenous
randomness by seed, not by policy, so two policies under one seed meet the same users,
catalogue and arrivals, and their per-seed results are compared by paired differences.

Pairs run in local worker processes (``spawn``; ``jobs=1`` runs them in this process).
A pair whose run directory already holds a complete run of the same scenario is reused,
so re-running an interrupted compare with the same ``OUT`` finishes only what is missing.
The outputs are assembled from the run directories by :mod:`experiments.reporting.compare_report`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.errors import UserError
from experiments.runner.run_dir import is_reusable_run
from experiments.scenario import PolicySpec, Scenario, needs_ground_truth, with_overrides
from policies import available_policies, make_policy

__all__ = [
    "ComparePlan",
    "PairOutcome",
    "PairTask",
    "parse_policies",
    "parse_seeds",
    "plan_compare",
    "run_pair",
    "run_pairs",
]

_SEED_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_seeds(text: str) -> list[int]:
    """Parse ``--seeds``: a range ``0-4``, a list ``0,2,5``, or both (``0-2,7``).

    Args:
        text: The option's value.

    Returns:
        The seeds in the order given, without duplicates.

    Raises:
        UserError: On an empty item, a non-integer or negative seed, a reversed range
            or a repeated seed (one line, naming ``--seeds``).
    """
    seeds: list[int] = []
    for item in str(text).split(","):
        match = _SEED_ITEM.match(item)
        if match is None:
            raise UserError(
                f"--seeds: cannot read {item.strip()!r} in {text!r}; use a range like "
                "'0-4' or a list like '0,2,5' of non-negative integers"
            )
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise UserError(f"--seeds: range {item.strip()!r} is reversed (write '{high}-{low}')")
        for seed in range(low, high + 1):
            if seed in seeds:
                raise UserError(f"--seeds: seed {seed} is given twice in {text!r}")
            seeds.append(seed)
    return seeds


def parse_policies(text: str) -> list[str]:
    """Parse ``--policies``: comma-separated registered policy names.

    Raises:
        UserError: On an empty or repeated name, or an unknown one (the message lists
            the registered policies).
    """
    names = [name.strip() for name in str(text).split(",")]
    known = available_policies()
    for name in names:
        if not name:
            raise UserError(f"--policies: empty policy name in {text!r}")
        if name not in known:
            raise UserError(
                f"--policies: unknown policy {name!r}; known policies: {', '.join(known)}"
            )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"--policies: policy {duplicates[0]!r} is given twice")
    return names


def is_upper_bound(spec: PolicySpec) -> bool:
    """Whether the policy of ``spec`` is an upper bound (declares ``is_upper_bound``)."""
    policy = make_policy(spec.name, **spec.params)
    return bool(getattr(policy, "is_upper_bound", False) or needs_ground_truth(spec))


@dataclass(frozen=True)
class PairTask:
    """One (policy, seed) run, in a form a worker process can receive.

    Attributes:
        policy: Registered policy name.
        seed: Root seed.
        scenario: The pair's resolved scenario, as JSON data.
        run_dir: The pair's run directory.
        scenario_file: The scenario's source file (recorded in the manifest).
        command: The command line (recorded in the manifest).
    """

    policy: str
    seed: int
    scenario: dict[str, Any]
    run_dir: str
    scenario_file: str | None = None
    command: list[str] | None = None

    @property
    def name(self) -> str:
        """``<policy>-seed<N>``, the run directory's name."""
        return pair_name(self.policy, self.seed)


@dataclass(frozen=True)
class PairOutcome:
    """How one pair ended.

    Attributes:
        policy: Policy name.
        seed: Root seed.
        run_dir: The pair's run directory.
        status: ``complete``, ``resumed`` (an earlier attempt continued from its last
            checkpoint), ``reused`` (an earlier complete run) or ``failed``.
        wall_s: Wall-clock seconds (0 when reused).
        error: One-line reason when failed.
    """

    policy: str
    seed: int
    run_dir: str
    status: str
    wall_s: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class ComparePlan:
    """A validated comparison: what runs, where, and against which reference.

    Attributes:
        scenario: The base scenario.
        policies: Policy names, in the order given.
        seeds: Seeds, in the order given.
        reference: Name of the reference policy of the paired differences.
        upper_bounds: Names of the policies that see ground truth (upper bounds).
        out_dir: The compare's output directory.
        tasks: One task per (policy, seed), policies outer, seeds inner.
    """

    scenario: Scenario
    policies: list[str]
    seeds: list[int]
    reference: str
    upper_bounds: frozenset[str]
    out_dir: Path
    tasks: list[PairTask] = field(default_factory=list)

    @property
    def warmup_episodes(self) -> int:
        """Warm-up episodes at the start of every run (left out of summaries)."""
        return self.scenario.warmup_episodes

    def label(self, policy: str) -> str:
        """``policy``, with `` (upper bound)`` appended for an upper bound."""
        return f"{policy} (upper bound)" if policy in self.upper_bounds else policy


def pair_name(policy: str, seed: int) -> str:
    """Name of a pair's run directory: ``<policy>-seed<N>``."""
    return f"{policy}-seed{seed}"


def _pair_scenario(base: Scenario, policy: str, seed: int, run_plots: bool) -> Scenario:
    scenario = with_overrides(base, seed=seed, policy=policy)
    if run_plots or not scenario.output.plots:
        return scenario
    data = scenario.model_dump(mode="python")
    data["output"] = {**data["output"], "plots": False}
    return Scenario.model_validate(data)


def plan_compare(
    scenario: Scenario,
    policies: Sequence[str],
    seeds: Sequence[int],
    out_dir: Path,
    *,
    reference: str | None = None,
    run_plots: bool = False,
    scenario_file: str | None = None,
    command: list[str] | None = None,
) -> ComparePlan:
    """Validate a comparison before anything runs or is written.

    Args:
        scenario: The base scenario (its policy and seed are replaced per pair).
        policies: Registered policy names (already parsed).
        seeds: Seeds (already parsed).
        out_dir: Output directory: new, empty, or an earlier compare's.
        reference: Reference policy; default the first listed one that is not an upper
            bound (or the first one if all are).
        run_plots: Keep each run's own ``plots/`` (off by default: the compare draws its
            own, and per-run plots cost time).
        scenario_file: The scenario's source file, recorded in each manifest.
        command: The command line, recorded in each manifest.

    Returns:
        The plan.

    Raises:
        UserError: If a policy needs ground truth the scenario does not allow, the
            reference is not among the policies, or ``out_dir`` is not usable.
    """
    specs = {name: _spec(scenario, name) for name in policies}
    for name, spec in specs.items():
        if needs_ground_truth(spec) and not scenario.allow_ground_truth:
            raise UserError(
                f"--policies: {name!r} sees the simulator's ground truth (an upper bound); "
                "set `allow_ground_truth: true` in the scenario to compare it"
            )
    upper = frozenset(name for name, spec in specs.items() if is_upper_bound(spec))
    if reference is None:
        reference = next((n for n in policies if n not in upper), policies[0])
    elif reference not in policies:
        raise UserError(
            f"--reference: {reference!r} is not one of the compared policies "
            f"({', '.join(policies)})"
        )
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    tasks = [
        PairTask(
            policy=name,
            seed=seed,
            scenario=_pair_scenario(scenario, name, seed, run_plots).model_dump(mode="json"),
            run_dir=str(out_dir / "runs" / pair_name(name, seed)),
            scenario_file=scenario_file,
            command=command,
        )
        for name in policies
        for seed in seeds
    ]
    for task in tasks:
        _check_existing_run(task)
    return ComparePlan(scenario, list(policies), list(seeds), reference, upper, out_dir, tasks)


def _spec(scenario: Scenario, name: str) -> PolicySpec:
    """The scenario's own policy spec for its policy; defaults for any other name."""
    return scenario.policy if name == scenario.policy.name else PolicySpec(name=name)


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: --out exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "compare.json").is_file():
        raise UserError(
            f"{out_dir}: --out exists, is not empty and is not an earlier compare's "
            "output (no compare.json); choose another directory"
        )


def _read_manifest(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _check_existing_run(task: PairTask) -> None:
    """Refuse to reuse a complete run of a different scenario."""
    manifest = _read_manifest(Path(task.run_dir))
    if manifest is None or manifest.get("status") != "complete":
        return
    if manifest.get("scenario") != task.scenario:
        raise UserError(
            f"{task.run_dir}: holds a complete run of a different scenario; "
            "use another --out (or delete that run)"
        )


def is_reusable(task: PairTask) -> bool:
    """Whether ``task.run_dir`` holds a complete run of this scenario made by this code."""
    return is_reusable_run(Path(task.run_dir), task.scenario)


def run_pair(task: PairTask) -> PairOutcome:
    """Run one (policy, seed) pair into its run directory (a worker process's entry).

    An unfinished earlier attempt in the same directory is resumed from its last
    checkpoint when it has one of this scenario made by this code (see
    :mod:`experiments.runner.checkpoint`), and otherwise removed and started over.
    Errors become a ``failed`` outcome so the other pairs go on; Ctrl-C propagates.
    """
    from experiments.runner.run import resume_run, run_scenario

    run_dir = Path(task.run_dir)
    if is_reusable(task):
        return PairOutcome(task.policy, task.seed, task.run_dir, "reused")
    status = "complete"
    try:
        if _resumable(task):
            status = "resumed"
            result = resume_run(run_dir, show_progress=False)
        else:
            if run_dir.exists():
                shutil.rmtree(run_dir)  # an earlier attempt that cannot be resumed
            result = run_scenario(
                Scenario.model_validate(task.scenario),
                run_dir,
                scenario_file=task.scenario_file,
                command=task.command,
                show_progress=False,
            )
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else ""
        return PairOutcome(
            task.policy, task.seed, task.run_dir, "failed", error=f"{type(exc).__name__}: {reason}"
        )
    return PairOutcome(task.policy, task.seed, task.run_dir, status, result.wall_s)


def _resumable(task: PairTask) -> bool:
    """An incomplete run of this very scenario with a checkpoint written by this code."""
    from experiments.runner.checkpoint import CHECKPOINT_NAME, checkpoint_code_matches

    run_dir = Path(task.run_dir)
    manifest = _read_manifest(run_dir)
    return bool(
        manifest is not None
        and manifest.get("status") == "incomplete"
        and manifest.get("scenario") == task.scenario
        and (run_dir / CHECKPOINT_NAME).is_file()
        and checkpoint_code_matches(run_dir)
    )


def default_jobs(n_pairs: int) -> int:
    """``min(n_pairs, cpu count)``, at least 1."""
    return max(1, min(n_pairs, os.cpu_count() or 1))


def run_pairs(
    tasks: Sequence[PairTask],
    jobs: int,
    on_done: Callable[[PairOutcome], None] | None = None,
) -> list[PairOutcome]:
    """Run every task, in this process (``jobs == 1``) or in ``jobs`` spawned workers.

    Args:
        tasks: The pairs to run.
        jobs: Number of worker processes.
        on_done: Called in this process as each pair ends (e.g. to advance a bar).

    Returns:
        The outcomes, in the order of ``tasks``.

    Raises:
        KeyboardInterrupt: After cancelling the pairs not yet started (finished runs
            are kept; each interrupted run's manifest says ``incomplete``).
    """
    done: dict[int, PairOutcome] = {}
    if jobs <= 1 or len(tasks) <= 1:
        for i, task in enumerate(tasks):
            done[i] = run_pair(task)
            if on_done is not None:
                on_done(done[i])
        return [done[i] for i in range(len(tasks))]
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        pending: dict[Future[PairOutcome], int] = {
            executor.submit(run_pair, task): i for i, task in enumerate(tasks)
        }
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                i = pending.pop(future)
                try:
                    done[i] = future.result()
                except Exception as exc:
                    task = tasks[i]
                    done[i] = PairOutcome(
                        task.policy, task.seed, task.run_dir, "failed", error=repr(exc)
                    )
                if on_done is not None:
                    on_done(done[i])
    except BaseException:
        _stop_workers(executor)
        raise
    executor.shutdown(wait=True)
    return [done[i] for i in range(len(tasks))]


def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """Cancel the queued pairs and stop the running workers now.

    ``shutdown(cancel_futures=True)`` alone would wait for pairs the workers already
    took (Ctrl-C must not wait minutes). A stopped pair leaves an ``incomplete`` run
    directory, which the next compare with the same ``--out`` removes and redoes.
    """
    # Private attribute: there is no public way to stop the workers before Python 3.14.
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
