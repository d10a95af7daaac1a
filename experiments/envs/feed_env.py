"""``onefeed_sim/Feed-v0``: one session of one simulated user per episode.

``reset`` picks a user (``EnvOptions.user_order``) and opens their session at their
next start time; if the world shows suggestions, the user may click one and search
first. Each ``step`` serves the agent's slate (``MultiDiscrete([n_items] * S)``); the
user examines it, maybe clicks and dwells, and may then search (results in the
engine's order, reformulations included) before asking for the next page or leaving.
``terminated`` when the user ends the session; ``truncated`` after
``EnvOptions.max_steps`` slates (the session is then closed as if the user left).

The world persists across episodes (interests drift towards what users consumed,
satiation, retention gaps): ``reset()`` without a seed continues it; ``reset(seed=s)``
rebuilds it from ``world_seed`` and replays everything from ``s``, so the same seed and
the same actions give identical trajectories. Sessions that end before their first feed
page (after a suggested query) are skipped and counted in ``info["skipped_sessions"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from experiments.envs.core import (
    END,
    MAX_SKIPS,
    CoreEnvMixin,
    make_core,
    repair_slates,
    step_reward,
)
from experiments.envs.observe import Observer
from experiments.envs.options import EnvOptions
from sim.config import WorldConfig

# make_core and step_reward live in experiments.envs.core; re-exported for old imports.
__all__ = ["FeedEnv", "make_core", "step_reward"]


class FeedEnv(CoreEnvMixin, gym.Env):
    """One user's session per episode (see module docstring).

    Args:
        world: A ``WorldConfig``, a scenario path or name, or ``None`` (the small
            default world, :data:`experiments.envs.options.DEFAULT_WORLD`).
        world_seed: Seed of the world's catalogue and users (fixed for the env's life,
            so the action space never changes).
        options: Observation, reward and invalid-action options; ``None``: defaults.
        render_mode: Only ``None`` is supported.
        **option_overrides: Fields of :class:`EnvOptions` (handy with ``gym.make``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        world: WorldConfig | str | Path | None = None,
        world_seed: int = 0,
        options: EnvOptions | None = None,
        render_mode: str | None = None,
        **option_overrides: Any,
    ) -> None:
        self._init_core(world, world_seed, options or EnvOptions(), option_overrides, render_mode)
        self.observation_space = self.observer.space
        self.action_space = self._slate_space()
        self._user = -1
        self._steps = 0
        self._done = True

    # ------------------------------------------------------------------- API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start the next session (see module docstring).

        Args:
            seed: Rebuild the world and reseed everything from this seed.
            options: Unused.

        Returns:
            ``(observation, info)``; ``info`` holds ``user_id``, ``session_id``,
            ``page``, ``time_s``, ``skipped_sessions``.
        """
        super().reset(seed=seed)
        if not self._rebuild_if_needed(seed) and not self._done:
            self.core.close_sessions(np.array([self._user], dtype=np.int64))
            self._absorb(np.array([self._user], dtype=np.int64))
        skipped = 0
        for _ in range(MAX_SKIPS):
            users = self.core.next_users(1, self.np_random, self.options.user_order)
            self.observer.new_sessions(users)
            action = self.core.open_sessions(users)
            self._absorb(users)
            if action[0] != END:
                break
            skipped += 1
        else:
            raise RuntimeError("no session reached a feed page")
        self._user, self._steps, self._done = int(users[0]), 0, False
        obs = self._observation()
        return obs, {**self._ids(), "skipped_sessions": skipped}

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Serve ``action`` (shape ``(S,)`` item ids) to the user.

        Returns:
            ``(observation, reward, terminated, truncated, info)``. ``info`` holds
            ``user_id``, ``session_id``, ``page``, ``time_s``, ``served`` (the slate
            actually shown, shape ``(S,)``), ``repaired`` (entries replaced),
            ``click`` (``item``, ``position``, ``dwell_s``; -1/-1/0.0 without a click),
            ``searches`` (queries between this page and the next, see
            :class:`experiments.envs.observe.StepSummary`).

        Raises:
            RuntimeError: If the episode is over (call ``reset``).
            ValueError: On a wrongly shaped action, or an invalid one when
                ``invalid_action="raise"``.
        """
        if self._done:
            raise RuntimeError("the episode is over; call reset()")
        slate = np.asarray(action)
        if slate.shape != (self.slate_size,) or slate.dtype.kind not in "iu":
            raise ValueError(
                f"action must be shape ({self.slate_size},) integer item ids, "
                f"got shape {slate.shape} dtype {slate.dtype}"
            )
        served, repaired = repair_slates(slate[None, :], self.core.world.catalog.available)
        if repaired[0] and self.options.invalid_action == "raise":
            raise ValueError(
                f"invalid slate {slate.tolist()}: {int(repaired[0])} unknown, unavailable "
                "or repeated item(s)"
            )
        users = np.array([self._user], dtype=np.int64)
        session_id = int(self.core.session_ids(users)[0])
        next_action = self.core.serve(users, served)
        self._steps += 1
        terminated = bool(next_action[0] == END)
        truncated = not terminated and self._steps >= self.options.max_steps
        if truncated:
            self.core.close_sessions(users)
        summary = self._absorb(users)
        reward = step_reward(
            self.options,
            summary.click_item >= 0,
            summary.click_dwell_s,
            summary.search_clicks,
            repaired,
        )
        self._done = terminated or truncated
        info = {
            **self._ids(),
            "session_id": session_id,
            "served": served[0].copy(),
            "repaired": int(repaired[0]),
            "click": {
                "item": int(summary.click_item[0]),
                "position": int(summary.click_position[0]),
                "dwell_s": float(summary.click_dwell_s[0]),
            },
            "searches": summary.searches[0],
        }
        return self._observation(), float(reward[0]), terminated, truncated, info

    # --------------------------------------------------------------- helpers
    def _observation(self) -> dict[str, Any]:
        users = np.array([self._user], dtype=np.int64)
        return Observer.row(self.observer.observe(users, self.core.pages(users)), 0)

    def _ids(self) -> dict[str, Any]:
        users = np.array([self._user], dtype=np.int64)
        return {
            "user_id": self._user,
            "session_id": int(self.core.session_ids(users)[0]),
            "page": int(self.core.pages(users)[0]),
            "time_s": float(self.core.clock(users)[0]),
        }
