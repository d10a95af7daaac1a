"""Checkpoints of a run between episodes, so a killed run resumes exactly.

After every finished episode (files written, policy updated) the run's whole state is
pickled to ``checkpoint.pkl`` in the run directory, atomically (temp file + rename):
the world (users' latent state, catalogue, search index, random streams, the clock),
the serving policy and any warm-up policy, the metric tracker and the metric rows so
far, the warm-up logs and the intervention schedule. Resuming loads it and continues
with the next episode: every later event, metric and file is what the uninterrupted run
would have written, because nothing the run depends on lives outside this state (the
random streams are part of the world and the policy; files are rewritten per episode).

A checkpoint is only valid for the code that wrote it: :func:`load_checkpoint` refuses
one whose code digest differs from the running code's.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.atomic import atomic_path
from experiments.errors import UserError
from experiments.runner.run_dir import code_digest

__all__ = [
    "CHECKPOINT_NAME",
    "RunState",
    "checkpoint_code_matches",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.pkl"
_FORMAT = 1


@dataclass
class RunState:
    """Everything a run needs to go on with episode ``next_episode``.

    Attributes:
        world: The ``sim.world.World`` (between episodes).
        policy: The measured policy (bound to the world once it serves).
        policy_name: Name the manifest gives the serving policy (changes on a swap).
        warm: The warm-up policy, if any.
        tracker: The metric tracker (``experiments.metrics.tracker.MetricTracker``).
        metric_rows: One dict of metric values per finished episode.
        warmup_logs: Logs of the warm-up episodes not yet handed to ``policy``.
        schedule: The intervention schedule.
        next_episode: The first episode not yet finished.
    """

    world: Any
    policy: Any
    policy_name: str
    warm: Any
    tracker: Any
    metric_rows: list[dict[str, Any]] = field(default_factory=list)
    warmup_logs: list[pd.DataFrame] = field(default_factory=list)
    schedule: Any = None
    next_episode: int = 0


def save_checkpoint(root: Path, state: RunState) -> str | None:
    """Pickle ``state`` to ``root/checkpoint.pkl`` atomically (with the code digest).

    Returns:
        ``None`` on success; otherwise why the state cannot be pickled (e.g. a policy
        holding a local function), and no file is written: the run goes on, but could
        only be started over, not resumed.
    """
    payload = {"format": _FORMAT, "code_digest": code_digest(), "state": state}
    try:
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    with atomic_path(Path(root) / CHECKPOINT_NAME) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return None


def load_checkpoint(root: Path) -> RunState | None:
    """The state saved in ``root``, or ``None`` when no episode was checkpointed yet.

    Raises:
        UserError: If the checkpoint is unreadable or was written by other code.
    """
    path = Path(root) / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            payload = pickle.load(fh)
    except Exception as exc:
        raise UserError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise UserError(f"{path}: not a checkpoint of this version")
    if payload.get("code_digest") != code_digest():
        raise UserError(
            f"{path}: written by different code (the project's sources changed since); "
            "a resumed run would not equal an uninterrupted one: start the run again"
        )
    return payload["state"]


def checkpoint_code_matches(root: Path) -> bool:
    """Whether ``root`` holds a readable checkpoint written by the running code."""
    try:
        return load_checkpoint(root) is not None
    except UserError:
        return False
