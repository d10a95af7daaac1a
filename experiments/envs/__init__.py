"""Gymnasium environments over the simulated world, registered on import.

* ``onefeed_sim/Feed-v0`` — :class:`FeedEnv`, one session of one user per episode;
  ``gymnasium.make_vec("onefeed_sim/Feed-v0", num_envs=n)`` gives the population env.
* ``onefeed_sim/FeedPopulation-v0`` — :class:`FeedPopulationEnv`, a
  ``gymnasium.vector.VectorEnv`` serving ``num_envs`` users of one world per batch
  (``make_vec``); ``gymnasium.make`` gives its single-user view, a :class:`FeedEnv`
  whose users come in arrival order.
"""

from __future__ import annotations

import gymnasium as gym

from experiments.envs.feed_env import FeedEnv
from experiments.envs.options import DEFAULT_WORLD, EnvOptions
from experiments.envs.population_env import FeedPopulationEnv

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


def register_envs() -> None:
    """Register both ids with gymnasium (idempotent)."""
    registry = gym.envs.registration.registry
    if FEED_ID not in registry:
        gym.register(
            id=FEED_ID,
            entry_point="experiments.envs.feed_env:FeedEnv",
            vector_entry_point="experiments.envs.population_env:FeedPopulationEnv",
        )
    if POPULATION_ID not in registry:
        gym.register(
            id=POPULATION_ID,
            entry_point="experiments.envs.feed_env:FeedEnv",
            vector_entry_point="experiments.envs.population_env:FeedPopulationEnv",
            kwargs={"user_order": "arrival"},
        )


register_envs()
