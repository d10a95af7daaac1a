"""Leave-one-out split of the published tables.

For every user sequence ``s`` (chronological, length ``L``):

* **test stage** — target ``s[-1]``, history ``s[:-1]``; models are fitted on the
  prefixes ``s[:-1]`` of every user (i.e. *up to and including* the validation item);
* **validation stage** — target ``s[-2]``, history ``s[:-2]``; models are fitted on the
  prefixes ``s[:-2]`` (everything before the validation item).

Short users: every user with ``L ≥ 1`` is counted in the test stage (a user with
``L == 1`` has an empty history and is ranked by the model's fallback, e.g. popularity);
the validation stage counts users with ``L ≥ 2``. Hyper-parameters are chosen on the
validation stage only; the final model is refitted on the test-stage prefixes. This is the
same for every model. (On Beauty every user has ``L ≥ 5``, so both stages count all
22,363 users.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.replay.protocol import ReplayDataset, TrainData

__all__ = ["STAGES", "Stage", "make_stage"]

#: The two stages, in the order the bench runs them.
STAGES = ("valid", "test")


@dataclass(frozen=True)
class Stage:
    """One evaluation stage of the leave-one-out protocol.

    Attributes:
        name: ``"valid"`` or ``"test"``.
        train: What models are fitted on (prefixes of every user, possibly empty).
        users: Shape ``(m,)`` indices of the evaluated users.
        histories: ``m`` int64 arrays, the evaluated users' items before the target.
        targets: Shape ``(m,)`` int64 target items.
    """

    name: str
    train: TrainData
    users: np.ndarray
    histories: list[np.ndarray]
    targets: np.ndarray


def make_stage(dataset: ReplayDataset, stage: str) -> Stage:
    """Build the validation or test stage of ``dataset``.

    Args:
        dataset: The full sequences.
        stage: ``"valid"`` or ``"test"``.

    Returns:
        The stage: training prefixes for all users, histories and targets of the
        evaluated users.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    cut = 2 if stage == "valid" else 1
    prefixes = [np.asarray(s[: max(len(s) - cut, 0)], dtype=np.int64) for s in dataset.sequences]
    users = np.asarray(
        [u for u, s in enumerate(dataset.sequences) if len(s) >= cut], dtype=np.int64
    )
    histories = [prefixes[u] for u in users]
    targets = np.asarray([dataset.sequences[u][-cut] for u in users], dtype=np.int64)
    train = TrainData(dataset=dataset, sequences=prefixes, stage=stage)
    return Stage(name=stage, train=train, users=users, histories=histories, targets=targets)
