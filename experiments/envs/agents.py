"""Adapters that let three kinds of decision makers act in the feed environments.

* a plain callable ``obs -> action`` (hand-written policies): :class:`CallableAgent`;
* a registered policy (``policies.make_policy(name)``): :class:`PolicyAgent` builds a
  :class:`sim.types.FeedBatch` for the env's users from ``info`` (user, session, page,
  time — what a real serving request carries), binds the policy to the env's public
  :meth:`policy_context` (catalogue view, search engine; never latent state) and passes
  the env's logged events to ``policy.update``;
* a learning agent: any object with ``act(obs, info) -> action`` and optionally
  ``observe(obs, action, reward, terminated, truncated, next_obs, info)``, ``begin(env,
  rng)`` and ``end_episode()``; used as is.

Agents act on what the env returns: one observation for a ``gymnasium.Env``, a batch
(leading axis ``num_envs``) for a ``gymnasium.vector.VectorEnv``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import iterate

from sim.types import FeedBatch

__all__ = ["Agent", "CallableAgent", "PolicyAgent", "as_agent"]


@runtime_checkable
class Agent(Protocol):
    """Anything that picks actions from observations (and ``info``)."""

    def act(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        """Return an action (a batch of actions for a vector env)."""
        ...


class CallableAgent:
    """Wraps ``fn(obs) -> action``; on a vector env it is applied row by row.

    Args:
        fn: The hand-written policy, taking one observation.
    """

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        self._vector_space = None

    def begin(self, env: Any, rng: np.random.Generator) -> None:
        """Remember whether actions must be batched."""
        env = env.unwrapped
        self._vector_space = env.observation_space if isinstance(env, VectorEnv) else None

    def act(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        """Apply ``fn`` (per row for a batch)."""
        if self._vector_space is None:
            return np.asarray(self.fn(obs))
        return np.stack([np.asarray(self.fn(o)) for o in iterate(self._vector_space, obs)])


class PolicyAgent:
    """Serves a ``policies.Policy`` in an env (see module docstring).

    Args:
        policy: An unbound policy instance.
        update_every: Call ``policy.update`` with the env's events after this many
            finished episodes (sessions); ``None``: never.
    """

    def __init__(self, policy: Any, update_every: int | None = 20) -> None:
        if getattr(policy, "needs_ground_truth", False):
            raise ValueError(f"policy {policy.name!r} needs the simulator's ground truth")
        self.policy = policy
        self.update_every = update_every
        self._env: Any = None
        self._finished = 0

    def begin(self, env: Any, rng: np.random.Generator) -> None:
        """Bind the policy to the env's public context with its own stream ``rng``."""
        self._env = env.unwrapped
        self._vector = isinstance(self._env, VectorEnv)
        self.policy.bind(self._env.policy_context(rng))
        self._env.take_events()  # events before the policy arrived are not its data
        self._finished = 0

    def act(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        """One slate per user, from the policy's ``recommend``."""

        def col(key: str) -> np.ndarray:
            return np.atleast_1d(np.asarray(info[key]))

        batch = FeedBatch(
            user_ids=col("user_id").astype(np.int32),
            session_ids=col("session_id").astype(np.int64),
            page=col("page").astype(np.int16),
            time_s=float(np.max(col("time_s"))),
            episode=0,
            slate_size=self._env.slate_size,
        )
        slates = np.asarray(self.policy.recommend(batch).slates, dtype=np.int64)
        return slates if self._vector else slates[0]

    def end_episode(self) -> None:
        """Count a finished session; every ``update_every`` pass the events to ``update``."""
        self._finished += 1
        if self.update_every and self._finished % self.update_every == 0:
            events = self._env.take_events()
            if events.num_rows:
                self.policy.update(events.to_pandas())


def as_agent(policy: Any) -> Any:
    """Adapt a callable, a ``policies`` policy or an agent (see module docstring)."""
    if hasattr(policy, "recommend") and hasattr(policy, "bind"):
        return PolicyAgent(policy)
    if hasattr(policy, "act"):
        return policy
    if callable(policy):
        return CallableAgent(policy)
    raise TypeError(f"cannot act with {type(policy).__name__}: not a policy, agent or callable")
