"""``onefeed_sim/FeedPopulation-v0``: many users of one world, served in one batch per step.

A ``gymnasium.vector.VectorEnv``: sub-environment ``i`` hosts one user's session at a
time; one ``step`` serves every hosted user's slate with a single call of the
responder's batched ``feed`` handler (and batched ``search`` calls for users who then
search), so per-step cost is vectorised over ``num_envs`` users.

Spaces: ``single_observation_space`` / ``single_action_space`` are those of
:class:`experiments.envs.feed_env.FeedEnv`; ``observation_space`` / ``action_space``
are their ``batch_space`` (leading axis ``num_envs``).

Autoreset: ``AutoresetMode.NEXT_STEP`` (``metadata["autoreset_mode"]``). When
sub-environment ``i`` terminates or truncates at step ``t``, its action at step
``t + 1`` is ignored and it starts a new session instead: reward 0, not terminated,
not truncated, the new session's first observation. **Whose session**: the idle user
(not hosted by any sub-environment) whose next session starts earliest, ties by user id
(``EnvOptions.user_order="arrival"``), or a uniformly drawn idle user
(``"uniform"``). So users come back in the order the world's retention model sends
them, and a satisfied user returns sooner. ``num_envs`` must be below ``n_users``.

``info`` is a dict of arrays with ``num_envs`` rows and a boolean ``_key`` mask per key
(true where the key applies): ``user_id``, ``session_id``, ``page``, ``time_s``,
``autoreset`` (this row started a new session); on stepped rows also ``served``
(shape ``(num_envs, S)``), ``repaired``, ``click_item``, ``click_position``,
``click_dwell_s``, ``n_queries``, ``search_clicks`` and ``searches`` (object array of
lists, see :class:`experiments.envs.observe.StepSummary`). ``page`` and ``time_s`` are
those of each user's next request; ``session_id`` on a stepped row is the session the
slate was served in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from experiments.envs.core import END, MAX_SKIPS, CoreEnvMixin, repair_slates, step_reward
from experiments.envs.options import EnvOptions
from sim.config import WorldConfig

__all__ = ["FeedPopulationEnv"]


class FeedPopulationEnv(CoreEnvMixin, VectorEnv):
    """``num_envs`` users of one world, one session each at a time (see module docstring).

    Args:
        num_envs: Number of sub-environments (users served per step).
        world: A ``WorldConfig``, a scenario path or name, or ``None`` (default world).
        world_seed: Seed of the world's catalogue and users.
        options: :class:`EnvOptions`; ``None``: defaults with ``user_order="arrival"``.
        render_mode: Only ``None`` is supported.
        **option_overrides: Fields of :class:`EnvOptions`.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    def __init__(
        self,
        num_envs: int = 8,
        world: WorldConfig | str | Path | None = None,
        world_seed: int = 0,
        options: EnvOptions | None = None,
        render_mode: str | None = None,
        **option_overrides: Any,
    ) -> None:
        self._init_core(
            world,
            world_seed,
            options or EnvOptions(user_order="arrival"),
            option_overrides,
            render_mode,
        )
        if not 1 <= num_envs < self.core.n_users:
            raise ValueError(
                f"num_envs must be in [1, n_users={self.core.n_users}), got {num_envs}"
            )
        self.num_envs = int(num_envs)
        self.single_observation_space = self.observer.space
        self.single_action_space = self._slate_space()
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._hosted = np.full(self.num_envs, -1, dtype=np.int64)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._needs_reset = np.ones(self.num_envs, dtype=bool)

    @property
    def hosted_users(self) -> np.ndarray:
        """Shape ``(num_envs,)`` the user each sub-environment currently shows."""
        return self._hosted.copy()

    # ------------------------------------------------------------------- API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start a session in every sub-environment.

        Args:
            seed: Rebuild the world and reseed everything from this seed.
            options: Unused.

        Returns:
            Batched ``(observations, info)``.
        """
        super().reset(seed=seed)
        if not self._rebuild_if_needed(seed):
            hosted = self._hosted[self._hosted >= 0]
            hosted = hosted[self.core.in_session[hosted]]
            self.core.close_sessions(hosted)
            self._absorb(hosted)
        self._hosted[:] = -1
        rows = np.arange(self.num_envs)
        self._start(rows)
        self._needs_reset[:] = False
        info = self._id_info(rows)
        info["autoreset"], info["_autoreset"] = np.ones(self.num_envs, bool), self._all()
        return self._observe(), info

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Serve one slate per sub-environment (rows in autoreset start a new session).

        Args:
            actions: Shape ``(num_envs, S)`` item ids.

        Returns:
            ``(observations, rewards, terminations, truncations, info)``; rewards and
            flags have shape ``(num_envs,)``.

        Raises:
            ValueError: On a wrongly shaped action, or an invalid slate when
                ``invalid_action="raise"``.
        """
        n, size = self.num_envs, self.slate_size
        slates = np.asarray(actions)
        if slates.shape != (n, size) or slates.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be shape ({n}, {size}) integer item ids, "
                f"got shape {slates.shape} dtype {slates.dtype}"
            )
        reset_rows = np.flatnonzero(self._needs_reset)
        rows = np.flatnonzero(~self._needs_reset)
        served, repaired = repair_slates(slates[rows], self.core.world.catalog.available)
        if self.options.invalid_action == "raise" and repaired.any():
            bad = int(rows[np.argmax(repaired > 0)])
            raise ValueError(f"invalid slate in row {bad}: {slates[bad].tolist()}")
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        users = self._hosted[rows]
        session_ids = self.core.session_ids(users)
        next_action = self.core.serve(users, served)
        self._steps[rows] += 1
        ended = next_action == END
        cap = ~ended & (self._steps[rows] >= self.options.max_steps)
        self.core.close_sessions(users[cap])
        summary = self._absorb(users)
        rewards[rows] = step_reward(
            self.options, summary.click_item >= 0, summary.click_dwell_s,
            summary.search_clicks, repaired,
        )  # fmt: skip
        terminated[rows], truncated[rows] = ended, cap
        self._needs_reset[rows] = ended | cap
        self._needs_reset[reset_rows] = False
        if reset_rows.size:
            self._start(reset_rows)

        info = self._id_info(np.arange(n))
        stepped = np.zeros(n, dtype=bool)
        stepped[rows] = True
        info["session_id"][rows] = session_ids  # the session the slate was served in
        info["autoreset"] = ~stepped
        info["_autoreset"] = self._all()
        served_all = np.full((n, size), -1, dtype=np.int64)
        served_all[rows] = served
        per_row: dict[str, np.ndarray] = {"served": served_all}
        for key, values, fill in (
            ("repaired", repaired, 0),
            ("click_item", summary.click_item, -1),
            ("click_position", summary.click_position, -1),
            ("click_dwell_s", summary.click_dwell_s, 0.0),
            ("n_queries", summary.n_queries, 0),
            ("search_clicks", summary.search_clicks, 0),
        ):
            arr = np.full(n, fill, dtype=np.asarray(values).dtype)
            arr[rows] = values
            per_row[key] = arr
        searches = np.empty(n, dtype=object)
        for i in range(n):
            searches[i] = []
        for j, i in enumerate(rows.tolist()):
            searches[i] = summary.searches[j]
        per_row["searches"] = searches
        for key, value in per_row.items():
            info[key], info[f"_{key}"] = value, stepped.copy()
        return self._observe(), rewards, terminated, truncated, info

    # --------------------------------------------------------------- helpers
    def _start(self, rows: np.ndarray) -> None:
        """Open sessions for the sub-environments ``rows`` (skipping empty sessions)."""
        pending = rows.copy()
        for _ in range(MAX_SKIPS):
            if pending.size == 0:
                break
            self._hosted[pending] = -1
            exclude = self._hosted[self._hosted >= 0]
            was = self.core.in_session[exclude].copy()
            self.core.in_session[exclude] = True  # hosted users are not idle
            users = self.core.next_users(pending.size, self.np_random, self.options.user_order)
            self.core.in_session[exclude] = was
            self.observer.new_sessions(users)
            action = self.core.open_sessions(users)
            self._absorb(users)
            self._hosted[pending] = users
            self._steps[pending] = 0
            pending = pending[action == END]
        else:
            raise RuntimeError("no session reached a feed page")

    def _observe(self) -> dict[str, np.ndarray]:
        return self.observer.observe(self._hosted, self.core.pages(self._hosted))

    def _all(self) -> np.ndarray:
        return np.ones(self.num_envs, dtype=bool)

    def _id_info(self, rows: np.ndarray) -> dict[str, Any]:
        users = self._hosted[rows]
        info: dict[str, Any] = {
            "user_id": users.copy(),
            "session_id": self.core.session_ids(users),
            "page": self.core.pages(users),
            "time_s": self.core.clock(users),
        }
        for key in list(info):
            info[f"_{key}"] = self._all()
        return info
