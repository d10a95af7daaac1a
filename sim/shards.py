"""One episode split by users across processes: episode-synchronous shards.

Policies learn only between episodes, and users do not interact within an episode
except through the policy, so an episode can be simulated in slices of the users, each
slice by its own copy of the world (with a replica of the policy), and put back
together. The pieces, with no transport (any process pool or Ray can carry them):

* :func:`partition_users` splits the users into slices;
* :func:`simulate_shard` (in a worker, on a copy of the world taken between episodes)
  simulates one slice and returns a :class:`ShardOutput`: the slice's events and their
  batch segments, the slice's users' state, and what the policy replica recorded while
  serving (:meth:`policies.base.Policy.serving_state`);
* :func:`absorb_shards` (in the driver, after ``world.simulate(episode, users=[])`` has
  applied the episode's new items there too) writes the users' state back, merges the
  logs, adds the episode's consumed pairs and clicks, hands the replicas' serving state
  to the policy and closes the episode.

The merged log equals the log of the same episode simulated in one process, row for
row: every user's behaviour is a function of their own state and counter-based draws
(:class:`sim.crn.UserDraws`), a request is served at a time fixed by its own arrival
(:mod:`sim.serving`), policies answer every request independently of its batch (checked
by :func:`policies.conformance.check_policy`), and the log's order is a function of the
events: by serving instant, round and kind of request (the batch segments), then user,
then the order the user's events were written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sim.events import EventType

__all__ = ["ShardOutput", "absorb_shards", "merge_events", "partition_users", "simulate_shard"]

_USER_SPAN = 1 << 31  # user ids are int32


@dataclass
class ShardOutput:
    """What simulating one slice of the users in one episode produced.

    Attributes:
        users: Shape ``(m,)`` the slice's user ids.
        rows: The slice's rows of every per-user array of the population
            (:meth:`sim.population.Population.rows`).
        events: The slice's events (schema ``sim.events.EVENT_SCHEMA``).
        segments: Shape ``(s, 4)`` the events' batch segments
            (:meth:`sim.log.EventLog.take`).
        policy_state: What the policy replica recorded while serving (``None`` if
            nothing).
        n_sessions: Sessions started.
        n_slates: Feed slates served.
        n_finished: Sessions finished.
        n_batches: Policy calls.
    """

    users: np.ndarray
    rows: dict[str, np.ndarray]
    events: pa.Table
    segments: np.ndarray
    policy_state: Any
    n_sessions: int
    n_slates: int
    n_finished: int
    n_batches: int


def partition_users(n_users: int, shards: int) -> list[np.ndarray]:
    """``shards`` consecutive slices of the user ids, as even as possible.

    Args:
        n_users: Number of users.
        shards: Number of slices (at least 1; more than ``n_users`` gives empty ones).
    """
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    return np.array_split(np.arange(n_users, dtype=np.int64), shards)


def simulate_shard(world: Any, episode: int, users: np.ndarray) -> ShardOutput:
    """Simulate ``users``' sessions of ``episode`` on ``world`` (a worker's copy).

    Args:
        world: A ``sim.world.World`` between episodes (``episode`` is its next one).
        episode: The episode.
        users: Shape ``(m,)`` the slice's user ids.

    Returns:
        The slice's output; ``world`` is left mid-episode (discard it).
    """
    resp, batcher = world.responder, world.batcher
    before = (resp.sessions_started, resp.slates_served, resp.sessions_finished, batcher.n_batches)
    world.simulate(episode, users=users)
    events, segments = resp.log.take(episode)
    serving_state = getattr(world.policy, "serving_state", None)
    return ShardOutput(
        users=np.asarray(users, dtype=np.int64),
        rows=world.population.rows(users),
        events=events,
        segments=segments,
        policy_state=serving_state() if serving_state is not None else None,
        n_sessions=resp.sessions_started - before[0],
        n_slates=resp.slates_served - before[1],
        n_finished=resp.sessions_finished - before[2],
        n_batches=batcher.n_batches - before[3],
    )


def merge_events(outputs: list[ShardOutput]) -> pa.Table:
    """The shards' logs as one log, in the order one process would have written it.

    Rows are ordered by their batch segment's ``(serve time, round, kind)``, then by
    user, then in the order they were written (each user's events of one segment come
    from one shard, contiguous and in order).

    Args:
        outputs: Every shard's output of one episode.

    Returns:
        The merged table (schema ``sim.events.EVENT_SCHEMA``).
    """
    tables = [o.events for o in outputs]
    table = pa.concat_tables(tables)
    if table.num_rows == 0:
        return table
    segments = np.concatenate([o.segments for o in outputs])
    if np.isnan(segments[:, 0]).any():
        raise ValueError("a shard's log holds events written outside the serving batcher")
    # Rank of each segment's (serve time, round, kind) among all shards' segments.
    order = np.lexsort((segments[:, 2], segments[:, 1], segments[:, 0]))
    keys = segments[order, :3]
    new_group = np.ones(keys.shape[0], dtype=bool)
    new_group[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    rank = np.empty(keys.shape[0], dtype=np.int64)
    rank[order] = np.cumsum(new_group) - 1
    group = np.repeat(rank, segments[:, 3].astype(np.int64))
    if group.shape[0] != table.num_rows:
        raise ValueError("the shards' segments do not cover their logs")
    users = table.column("user_id").to_numpy().astype(np.int64)
    # Stable: a user's rows of one segment keep their written order.
    row_order = np.argsort(group * _USER_SPAN + users, kind="stable")
    return table.take(pa.array(row_order)).combine_chunks()


def absorb_shards(world: Any, episode: int, outputs: list[ShardOutput]) -> Any:
    """Put a sharded episode together in the driver's world and close the episode.

    Call after ``world.simulate(episode, users=np.zeros(0))`` (which applies the
    episode's new items to the driver's catalogue, index and policy).

    Args:
        world: The driver's ``sim.world.World``.
        episode: The episode.
        outputs: Every shard's output, the slices covering every user once.

    Returns:
        The episode's ``sim.world.EpisodeResult``.
    """
    pop, resp = world.population, world.responder
    covered = np.concatenate([o.users for o in outputs]) if outputs else np.zeros(0, np.int64)
    if covered.shape[0] != pop.n_users or np.unique(covered).shape[0] != pop.n_users:
        raise ValueError("the shards' users must cover every user exactly once")
    for out in outputs:
        pop.set_rows(out.users, out.rows)
    events = merge_events(outputs)
    # What consumption changed outside the per-user rows: the consumed pairs (repeat
    # penalty) and the episode's click counts (conformity), both from the clicks.
    kind = events.column("event").combine_chunks()
    codes = kind.indices.to_numpy(zero_copy_only=False)
    names = kind.dictionary.to_pylist()
    clicks = np.isin(
        codes, [names.index(EventType.CLICK.name.lower()), names.index("search_click")]
    )
    users = pc.array_filter(events.column("user_id"), pa.array(clicks)).to_numpy()
    items = pc.array_filter(events.column("item_id"), pa.array(clicks)).to_numpy()
    users, items = users.astype(np.int64), items.astype(np.int64)
    if pop.consumed is not None and users.size:
        pop.consumed.add(users, items)
    if world.config.choice.conformity_weight > 0 and items.size:
        world.catalog.record_clicks(items)
    merge = getattr(world.policy, "merge_serving_states", None)
    if merge is not None:
        merge([o.policy_state for o in outputs])
    n_sessions = sum(o.n_sessions for o in outputs)
    n_slates = sum(o.n_slates for o in outputs)
    resp.sessions_started += n_sessions
    resp.slates_served += n_slates
    resp.sessions_finished += sum(o.n_finished for o in outputs)
    world.batcher.n_batches += sum(o.n_batches for o in outputs)
    return world.close_episode(episode, events, n_sessions, n_slates)
