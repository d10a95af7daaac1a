"""Gymnasium environments over the simulated world.

* ``onefeed_sim/Feed-v0`` — :class:`FeedEnv`, one session of one user per episode;
  ``gymnasium.make_vec("onefeed_sim/Feed-v0", num_envs=n)`` gives the population env.
* ``onefeed_sim/FeedPopulation-v0`` — :class:`FeedPopulationEnv`, a
  ``gymnasium.vector.VectorEnv`` serving ``num_envs`` users of one world per batch
  (``make_vec``); ``gymnasium.make`` gives its single-user view, a :class:`FeedEnv`
  whose users come in arrival order.

Both ids are registered when the package ``experiments`` is imported (string entry
points: nothing of the simulator is imported until an env is made)::

    import gymnasium as gym
    import experiments  # registers onefeed_sim/Feed-v0 and onefeed_sim/FeedPopulation-v0

    env = gym.make("onefeed_sim/Feed-v0")

The classes themselves are imported lazily from their modules on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DEFAULT_WORLD",
    "FEED_ID",
    "POPULATION_ID",
    "EnvOptions",
    "FeedEnv",
    "FeedPopulationEnv",
    "register_envs",
]

FEED_ID = "onefeed_sim/Feed-v0"
POPULATION_ID = "onefeed_sim/FeedPopulation-v0"

_LAZY = {
    "DEFAULT_WORLD": "experiments.envs.options",
    "EnvOptions": "experiments.envs.options",
    "FeedEnv": "experiments.envs.feed_env",
    "FeedPopulationEnv": "experiments.envs.population_env",
}


def register_envs() -> None:
    """Register both ids with gymnasium (idempotent; imports only gymnasium's registry)."""
    from gymnasium.envs.registration import register, registry

    if FEED_ID not in registry:
        register(
            id=FEED_ID,
            entry_point="experiments.envs.feed_env:FeedEnv",
            vector_entry_point="experiments.envs.population_env:FeedPopulationEnv",
        )
    if POPULATION_ID not in registry:
        register(
            id=POPULATION_ID,
            entry_point="experiments.envs.feed_env:FeedEnv",
            vector_entry_point="experiments.envs.population_env:FeedPopulationEnv",
            kwargs={"user_order": "arrival"},
        )


def __getattr__(name: str) -> Any:
    """Import the environment classes and options on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'experiments.envs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


register_envs()
