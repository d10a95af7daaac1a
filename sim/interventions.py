"""Exogenous shocks applied to a world between episodes (the mechanics, no YAML).

Each function takes the live :class:`~sim.world.World` and a generator the caller draws
from a named stream keyed by the intervention, so the same shock hits the same users
and items under every policy (common random numbers). The application layer
(``experiments.scenario.interventions``) decides when to call them.

* :func:`interest_shock` — a share of users' interests jump towards new random topic
  mixtures; the change is booked as *exogenous* drift, so the drift split keeps
  ``interests == initial + drift_endogenous + drift_exogenous``.
* :func:`catalog_shock` — a burst of new items on chosen topics and/or retiring the
  most clicked items; the search index is rebuilt and the policy told, exactly as the
  world's own item drops do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.world import World

__all__ = ["catalog_shock", "interest_shock", "most_popular_available", "notify_catalog_change"]


def interest_shock(
    world: World,
    rng: np.random.Generator,
    share: float,
    strength: float,
    concentration: float = 0.3,
    shared_target: bool = False,
) -> np.ndarray:
    """Move a random share of users' interests towards random topic mixtures.

    For each chosen user ``I <- (1 - strength) I + strength * t`` with ``t ~
    Dirichlet(concentration)`` (one ``t`` per user, or one for all if
    ``shared_target``). The realised change is added to ``drift_exogenous``.

    Args:
        world: The world (its population is modified in place).
        rng: Generator of this intervention's named stream.
        share: Fraction of users shocked, in ``[0, 1]``; exactly ``round(share * n)``.
        strength: Interpolation weight towards the target, in ``[0, 1]``.
        concentration: Dirichlet concentration of the targets (> 0).
        shared_target: Draw one target for every shocked user.

    Returns:
        Shape ``(m,)`` sorted ids of the shocked users.
    """
    pop = world.population
    n, k = pop.n_users, pop.n_topics
    m = round(share * n)
    users = np.sort(rng.choice(n, size=m, replace=False))
    alpha = np.full(k, concentration)
    targets = rng.dirichlet(alpha, size=1 if shared_target else m)
    bad = ~np.isfinite(targets).all(axis=1) | (targets.sum(axis=1) <= 0)
    if bad.any():
        targets[bad] = np.eye(k)[rng.integers(0, k, int(bad.sum()))]
    if m == 0:
        return users
    old = pop.interests[users]
    new = (1.0 - strength) * old + strength * np.broadcast_to(targets, old.shape)
    new /= new.sum(axis=1, keepdims=True)
    pop.interests[users] = new
    pop.drift_exogenous[users] += new - old
    return users


def most_popular_available(world: World, clicks: np.ndarray, share: float) -> np.ndarray:
    """The ``round(share * n_available)`` available items with the most clicks.

    Args:
        world: The world.
        clicks: Shape ``(<= n_items,)`` click counts per item so far (from the log).
        share: Fraction of the available items, in ``[0, 1]``.

    Returns:
        Item ids, most clicked first (ties broken by the smaller id).
    """
    available = np.flatnonzero(world.catalog.available)
    counts = np.zeros(world.catalog.n_items)
    counts[: clicks.shape[0]] = clicks[: world.catalog.n_items]
    m = round(share * int(available.shape[0]))
    order = np.lexsort((available, -counts[available]))
    return available[order[:m]]


def notify_catalog_change(world: World) -> None:
    """Rebuild the search index and tell the policy, as the world's item drops do."""
    world.index.rebuild(world.catalog.titles, world.catalog.available)
    world.policy.on_catalog_change(world.catalog.view())


def catalog_shock(
    world: World,
    rng: np.random.Generator,
    n_new_items: int = 0,
    topics: Sequence[int] = (),
    retire: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Add a burst of new items and/or retire items, then notify index and policy.

    Args:
        world: The world (its catalogue is modified in place).
        rng: Generator of this intervention's named stream.
        n_new_items: Items added now (created at the current simulated time).
        topics: Topics the new items are about (empty: the catalogue's usual mix).
        retire: Item ids made unavailable (e.g. from :func:`most_popular_available`).

    Returns:
        ``(new_item_ids, retired_item_ids)``.

    Raises:
        ValueError: If a topic is out of range or every item would become unavailable.
    """
    catalog = world.catalog
    k = catalog.cfg.n_topics
    retired = np.zeros(0, dtype=np.int64) if retire is None else np.asarray(retire, np.int64)
    if any(not 0 <= t < k for t in topics):
        raise ValueError(f"topics must be in [0, {k}), got {list(topics)}")
    left = int(catalog.available.sum()) - np.unique(retired).shape[0] + n_new_items
    if left < world.config.feed.slate_size:
        raise ValueError(
            f"the catalogue shock would leave {left} available items, fewer than a slate"
        )
    new_ids = np.zeros(0, dtype=np.int32)
    if n_new_items > 0:
        alpha = None
        if topics:
            alpha = np.zeros(k)
            alpha[list(topics)] = catalog.cfg.topic_concentration
        created = np.full(n_new_items, float(world.env.now))
        new_ids = catalog.add_items(n_new_items, created, rng, alpha)
    if retired.size:
        catalog.retire_items(retired)
    if n_new_items > 0 or retired.size:
        notify_catalog_change(world)
    return new_ids, retired
