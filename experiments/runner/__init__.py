"""Running experiments: one run, its directory, comparisons over policies and seeds.

The public names::

    from experiments.runner import run_scenario, resume_run, plan_compare, run_pairs

Layout: :mod:`~experiments.runner.run` (the episode loop of one run),
:mod:`~experiments.runner.run_dir` (the run directory, manifest and reuse check),
:mod:`~experiments.runner.checkpoint` (checkpoints between episodes, for resuming),
:mod:`~experiments.runner.ray_backend` (pairs as Ray tasks; optional extra ``ray``),
:mod:`~experiments.runner.shards` (one run's episodes split by users, ``--shards N``),
:mod:`~experiments.runner.progress` (the progress bar),
:mod:`~experiments.runner.compare` (planning and executing (policy, seed) pairs) and
:mod:`~experiments.runner.evaluate` (gymnasium-style evaluation of an agent; imported
lazily because it needs gymnasium).
"""

from typing import Any

from experiments.runner.compare import (
    ComparePlan,
    PairOutcome,
    PairTask,
    parse_policies,
    parse_seeds,
    plan_compare,
    run_pair,
    run_pairs,
)
from experiments.runner.run import RunResult, resume_run, run_scenario
from experiments.runner.run_dir import Manifest, RunDir, default_run_dir, is_reusable_run

__all__ = [
    "ComparePlan",
    "Manifest",
    "PairOutcome",
    "PairTask",
    "RunDir",
    "RunResult",
    "default_run_dir",
    "evaluate_policy",
    "is_reusable_run",
    "parse_policies",
    "parse_seeds",
    "plan_compare",
    "resume_run",
    "run_pair",
    "run_pairs",
    "run_scenario",
]


def __getattr__(name: str) -> Any:
    """Lazily export :func:`experiments.runner.evaluate.evaluate_policy` (needs gymnasium)."""
    if name == "evaluate_policy":
        from experiments.runner.evaluate import evaluate_policy

        return evaluate_policy
    raise AttributeError(f"module 'experiments.runner' has no attribute {name!r}")
