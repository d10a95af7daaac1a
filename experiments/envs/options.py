"""Options of the feed environments and how the world they run in is chosen.

The world (catalogue, vocabulary, users' latent attributes) comes from a
:class:`sim.config.WorldConfig`, a scenario file (its ``world`` section) or, by default,
:data:`DEFAULT_WORLD`, a small built-in configuration that builds in a few
milliseconds. Everything else an environment needs is an :class:`EnvOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sim.config import WorldConfig

__all__ = ["DEFAULT_WORLD", "EnvOptions", "resolve_world"]

#: The default world: 200 users, 500 items on 10 topics, slates of 5 items.
DEFAULT_WORLD = WorldConfig.model_validate(
    {
        "catalog": {
            "n_items": 500,
            "n_topics": 10,
            "words_per_topic": 20,
            "generic_vocab_size": 30,
        },
        "users": {"n_users": 200},
        "feed": {"slate_size": 5},
        "sessions": {"max_pages": 20},
    }
)


@dataclass(frozen=True)
class EnvOptions:
    """What an environment observes, how it rewards, and how it treats bad actions.

    Reward of one step (one served slate), ``c`` = 1 if the user clicked an item of
    the slate, ``d`` its dwell in seconds, ``c_s`` the search clicks made before the
    next page, ``r`` the number of repaired slots (see ``invalid_action``)::

        reward = click_reward * c + dwell_reward_per_min * d / 60
                 + search_click_reward * c_s - invalid_penalty * r

    Attributes:
        history_len: ``H``, behaviour events kept per user in the observation.
        max_steps: Slates served per session before the episode is truncated (the
            session is then closed as if the user left).
        click_reward: Reward per feed click.
        dwell_reward_per_min: Reward per minute of dwell after a feed click.
        search_click_reward: Reward per search click made inside the step (0 by
            default: search results are ranked by the engine, not by the agent).
        invalid_penalty: Reward subtracted per repaired slate slot.
        invalid_action: ``"repair"`` (default): unknown, unavailable or repeated item
            ids are replaced, left to right, by the lowest-id available items not in
            the slate, and penalised; ``"raise"``: such an action raises
            ``ValueError``.
        user_order: Who the next session belongs to. ``"uniform"``: a user drawn
            uniformly from the environment's generator (single env default);
            ``"arrival"``: the idle user whose next session starts first.
        suggested_queries: Queries shown at every session start (at most
            ``world.suggestions.n_suggestions`` are shown); empty: none.
        keep_events: Keep the logged events for :meth:`take_events` (policies'
            ``update`` reads them); turn off for long training runs.
    """

    history_len: int = 32
    max_steps: int = 50
    click_reward: float = 1.0
    dwell_reward_per_min: float = 1.0
    search_click_reward: float = 0.0
    invalid_penalty: float = 0.1
    invalid_action: Literal["repair", "raise"] = "repair"
    user_order: Literal["uniform", "arrival"] = "uniform"
    suggested_queries: tuple[str, ...] = ()
    keep_events: bool = True

    def __post_init__(self) -> None:
        if self.history_len < 1:
            raise ValueError(f"history_len must be >= 1, got {self.history_len}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.invalid_action not in ("repair", "raise"):
            raise ValueError(
                f"invalid_action must be 'repair' or 'raise', got {self.invalid_action!r}"
            )
        if self.user_order not in ("uniform", "arrival"):
            raise ValueError(f"user_order must be 'uniform' or 'arrival', got {self.user_order!r}")
        object.__setattr__(self, "suggested_queries", tuple(self.suggested_queries))


def resolve_world(world: WorldConfig | str | Path | None) -> WorldConfig:
    """The world configuration an environment runs in.

    Args:
        world: A configuration, a scenario file path or bare scenario name (its
            ``world`` section is used), or ``None`` for :data:`DEFAULT_WORLD`.

    Returns:
        The validated world configuration.

    Raises:
        experiments.errors.ScenarioError: If a scenario reference is invalid.
    """
    if world is None:
        return DEFAULT_WORLD
    if isinstance(world, WorldConfig):
        return world
    from experiments.scenario import load_scenario

    return load_scenario(world).world
