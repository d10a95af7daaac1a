"""One run's episodes split by users across worker processes (``onefeed run --shards N``).

Each episode, the driver (the run loop's process) pickles its world between episodes —
users' state, catalogue, search index and the policy as its last update left it — and
sends it to ``N`` workers; worker ``i`` simulates the ``i``-th slice of the users on
its copy (:func:`sim.shards.simulate_shard`) and sends back the slice's events, its
users' state and what its policy replica recorded while serving. The driver applies the
episode's new items itself, puts the pieces together (:func:`sim.shards.absorb_shards`)
and closes the episode; then the run loop writes the files and updates the policy as in
an unsharded run, and the next episode broadcasts the new state. The event log equals
the unsharded run's, row for row (tests/experiments/test_shards.py).

Backends: ``local`` runs the workers as processes of this machine (one per shard, at
most one per core); ``ray`` runs them as Ray tasks (one CPU each) on a local Ray or on
the cluster at ``address``, the world travelling once per episode through Ray's object
store (``pip install -e '.[ray]'``).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from experiments.errors import UserError
from sim.shards import ShardOutput, absorb_shards, partition_users, simulate_shard

__all__ = ["BACKENDS", "EpisodeShards", "simulate_slice"]

BACKENDS = ("local", "ray")


def simulate_slice(world_bytes: bytes, episode: int, users: np.ndarray) -> ShardOutput:
    """A worker's part of an episode: simulate ``users`` on a copy of the pickled world.

    One BLAS thread, as in an unsharded run (the rounding of a product does not depend on
    the thread count on this BLAS, but the speed does: shards are the parallelism).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        world = pickle.loads(world_bytes)
        return simulate_shard(world, episode, users)


class EpisodeShards:
    """Simulates episodes split into ``shards`` slices of users on worker processes.

    Args:
        shards: Number of slices (at least 2).
        backend: ``"local"`` (processes of this machine) or ``"ray"``.
        address: Ray cluster address (``ray`` only; ``None``: a local Ray).

    Raises:
        UserError: On a bad shard count or backend, or when Ray is missing or
            unreachable.
    """

    def __init__(self, shards: int, backend: str = "local", address: str | None = None) -> None:
        if shards < 2:
            raise UserError(f"--shards: {shards}: a sharded run needs at least 2 shards")
        if backend not in BACKENDS:
            raise UserError(f"--backend: {backend!r}: use one of {', '.join(BACKENDS)}")
        if address is not None and backend != "ray":
            raise UserError("--address: only with --backend ray")
        self.shards, self.backend, self.address = int(shards), backend, address
        self._pool: ProcessPoolExecutor | None = None
        self._ray: Any = None
        self._remote: Any = None
        if backend == "ray":
            from experiments.runner.ray_connect import connect

            self._ray = connect(address)
            self._remote = self._ray.remote(num_cpus=1, max_retries=0)(simulate_slice)

    def run_episode(
        self, world: Any, episode: int, progress: Callable[[int], None] | None = None
    ) -> Any:
        """Simulate ``episode`` in shards and return its ``sim.world.EpisodeResult``.

        Args:
            world: The driver's world, between episodes.
            episode: Its next episode.
            progress: Called once with the number of sessions finished.
        """
        slices = partition_users(world.n_users, self.shards)
        world_bytes = pickle.dumps(world, protocol=pickle.HIGHEST_PROTOCOL)
        outputs = self._map(world_bytes, episode, slices)
        world.simulate(episode, users=np.zeros(0, dtype=np.int64))
        result = absorb_shards(world, episode, outputs)
        if progress is not None:
            progress(sum(o.n_finished for o in outputs))
        return result

    def _map(self, world_bytes: bytes, episode: int, slices: list[np.ndarray]) -> list:
        if self.backend == "ray":
            ray = self._ray
            ref = ray.put(world_bytes)
            return ray.get([self._remote.remote(ref, episode, users) for users in slices])
        if self._pool is None:
            workers = max(1, min(self.shards, os.cpu_count() or 1))
            self._pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")
            )
        futures = [
            self._pool.submit(simulate_slice, world_bytes, episode, users) for users in slices
        ]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Stop the local worker processes (a Ray connection is left to its owner)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
