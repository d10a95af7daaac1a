"""Running (policy, seed) pairs as Ray tasks, on this machine or a Ray cluster.

Ray is an optional extra (``pip install -e ".[ray]"``); nothing else imports it. A pair
runs as one Ray task (one CPU) wherever Ray places it. The task does not need a file
system shared with the driver: it receives the pair's earlier attempt (if any) as
bytes, runs (or resumes) it in a private temporary directory on its node, and returns
every file of the finished run directory as bytes; the driver writes them into the
pair's run directory under ``--out``. The run itself is the local backend's
(:func:`experiments.runner.compare.run_pair`), so the outputs are identical.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from experiments.atomic import atomic_write_bytes
from experiments.runner.compare import PairOutcome, PairTask, run_pair
from experiments.runner.ray_connect import connect

__all__ = ["connect", "pack_dir", "run_pairs_ray", "unpack_dir"]


def pack_dir(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as ``{relative posix path: bytes}`` (empty if absent)."""
    root = Path(root)
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def unpack_dir(files: dict[str, bytes], root: Path) -> None:
    """Write ``files`` (from :func:`pack_dir`) under ``root``, each atomically.

    Files of ``root`` that are not in ``files`` are removed, so ``root`` ends up holding
    exactly the packed run.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
    for path in sorted(root.rglob("*"), reverse=True):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in files:
            path.unlink()


def _remote_pair(task: PairTask, earlier: dict[str, bytes]) -> tuple[PairOutcome, dict[str, bytes]]:
    """Run ``task`` in a private directory of this node; return its outcome and files."""
    scratch = Path(tempfile.mkdtemp(prefix="onefeed-pair-"))
    try:
        run_dir = scratch / Path(task.run_dir).name
        if earlier:
            unpack_dir(earlier, run_dir)
        outcome = run_pair(dataclasses.replace(task, run_dir=str(run_dir)))
        files = pack_dir(run_dir) if outcome.status != "reused" else {}
        return dataclasses.replace(outcome, run_dir=task.run_dir), files
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_pairs_ray(
    tasks: Sequence[PairTask],
    address: str | None = None,
    on_done: Callable[[PairOutcome], None] | None = None,
) -> list[PairOutcome]:
    """Run every task as a Ray task (see the module docstring).

    Complete runs already under ``--out`` are reused without sending them anywhere;
    incomplete ones travel to the task, which resumes them.

    Args:
        tasks: The pairs to run.
        address: Ray cluster address (``None``: a local Ray on this machine).
        on_done: Called in this process as each pair ends.

    Returns:
        The outcomes, in the order of ``tasks``.

    Raises:
        KeyboardInterrupt: After cancelling the pairs still running.
    """
    from experiments.runner.compare import is_reusable

    done: dict[int, PairOutcome] = {}
    pending_tasks = []
    for i, task in enumerate(tasks):
        if is_reusable(task):
            done[i] = PairOutcome(task.policy, task.seed, task.run_dir, "reused")
            if on_done is not None:
                on_done(done[i])
        else:
            pending_tasks.append(i)
    if not pending_tasks:
        return [done[i] for i in range(len(tasks))]
    ray = connect(address)
    remote = ray.remote(num_cpus=1, max_retries=0)(_remote_pair)
    refs = {remote.remote(tasks[i], pack_dir(Path(tasks[i].run_dir))): i for i in pending_tasks}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                i = refs.pop(ref)
                task = tasks[i]
                try:
                    outcome, files = ray.get(ref)
                except Exception as exc:  # the task died (worker lost, node down, ...)
                    outcome = PairOutcome(
                        task.policy, task.seed, task.run_dir, "failed", error=repr(exc)
                    )
                    files = {}
                if files:
                    unpack_dir(files, Path(task.run_dir))
                done[i] = outcome
                if on_done is not None:
                    on_done(outcome)
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    return [done[i] for i in range(len(tasks))]
