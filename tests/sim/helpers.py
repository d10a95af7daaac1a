"""Small worlds built in code for the sim tests."""

from __future__ import annotations

import policies.baselines  # noqa: F401  (registers the baselines)
from policies.registry import make_policy
from sim.config import WorldConfig
from sim.world import World, build_world


def small_config(n_users: int = 200, **overrides: object) -> WorldConfig:
    data: dict = {
        "catalog": {"n_items": 300, "n_topics": 8, "words_per_topic": 12, "generic_vocab_size": 10},
        "users": {"n_users": n_users},
        "episode_length_days": 0.5,
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return WorldConfig.model_validate(data)


def make_world(config: WorldConfig, seed: int = 0, policy: str = "popularity") -> World:
    return build_world(config, seed, make_policy(policy))
