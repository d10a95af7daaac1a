"""One function to compare hand-written policies, registered policies and learning agents.

``evaluate_policy(env, policy, n_episodes, seed)`` resets ``env`` with ``seed``, runs
``n_episodes`` episodes (sessions) and returns per-episode return, feed clicks, feed
dwell, length and search clicks, with a summary per measure: mean and a 95% Student-t
interval ``mean ± t_{0.975, n-1} · sd / sqrt(n)``.

With a vector env the episodes are the first ``n_episodes`` sessions to *start*
(sub-environments keep stepping until all of them have finished), so short sessions
are not over-represented. Policies are adapted by :func:`experiments.envs.agents.as_agent`;
a policy's own random stream is ``RngStreams(seed).get("policy")``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from gymnasium.vector import VectorEnv
from scipy import stats

from experiments.envs.agents import as_agent
from sim.rng import RngStreams

__all__ = ["EvaluationResult", "evaluate_policy", "summarise"]

MEASURES = ("return", "clicks", "dwell_s", "length", "search_clicks")


@dataclass(frozen=True)
class EvaluationResult:
    """Per-episode measures and their summary.

    Attributes:
        episodes: One row per episode: ``episode, user_id, return, clicks, dwell_s,
            length, search_clicks``.
        summary: One row per measure: ``measure, mean, ci_low, ci_high, sd, n``.
    """

    episodes: pd.DataFrame
    summary: pd.DataFrame

    def mean(self, measure: str = "return") -> float:
        """Mean of ``measure`` over episodes."""
        return float(self.summary.set_index("measure").loc[measure, "mean"])

    def interval(self, measure: str = "return") -> tuple[float, float]:
        """The 95% interval of the mean of ``measure``."""
        row = self.summary.set_index("measure").loc[measure]
        return float(row["ci_low"]), float(row["ci_high"])


def summarise(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """``(mean, low, high, sd)`` of a Student-t interval; a single value has width 0."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return mean, mean, mean, 0.0
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / np.sqrt(n)
    return mean, mean - half, mean + half, sd


def _result(rows: list[dict[str, Any]]) -> EvaluationResult:
    episodes = pd.DataFrame(rows, columns=["episode", "user_id", *MEASURES])
    summary = []
    for m in MEASURES:
        mean, low, high, sd = summarise(episodes[m].to_numpy())
        summary.append({"measure": m, "mean": mean, "ci_low": low, "ci_high": high,
                        "sd": sd, "n": len(episodes)})  # fmt: skip
    return EvaluationResult(episodes=episodes, summary=pd.DataFrame(summary))


def evaluate_policy(env: Any, policy: Any, n_episodes: int, seed: int = 0) -> EvaluationResult:
    """Run ``n_episodes`` episodes of ``policy`` in ``env`` from ``reset(seed=seed)``.

    Args:
        env: A feed env (``gymnasium.Env``) or population env (``VectorEnv``), possibly
            wrapped.
        policy: A callable ``obs -> action``, a ``policies`` policy instance, or an
            agent with ``act(obs, info)`` (see :mod:`experiments.envs.agents`).
        n_episodes: Number of episodes (sessions) to measure, >= 1.
        seed: Reset seed of the env and root of the policy's stream.

    Returns:
        Per-episode measures and their summary.

    Raises:
        ValueError: If ``n_episodes < 1``.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    agent = as_agent(policy)
    obs, info = env.reset(seed=seed)
    if hasattr(agent, "begin"):
        agent.begin(env, RngStreams(seed).get("policy"))
    if isinstance(env.unwrapped, VectorEnv):
        return _run_vector(env, agent, obs, info, n_episodes)
    return _run_single(env, agent, obs, info, n_episodes)


def _new_row(episode: int, user: int) -> dict[str, Any]:
    return {"episode": episode, "user_id": user, "return": 0.0, "clicks": 0, "dwell_s": 0.0,
            "length": 0, "search_clicks": 0}  # fmt: skip


def _run_single(env: Any, agent: Any, obs: Any, info: dict, n_episodes: int) -> EvaluationResult:
    rows = []
    observe = getattr(agent, "observe", None)
    for episode in range(n_episodes):
        if episode:
            obs, info = env.reset()
        row = _new_row(episode, int(info["user_id"]))
        done = False
        while not done:
            action = agent.act(obs, info)
            next_obs, reward, terminated, truncated, info = env.step(action)
            if observe is not None:
                observe(obs, action, reward, terminated, truncated, next_obs, info)
            obs, done = next_obs, terminated or truncated
            row["return"] += float(reward)
            row["length"] += 1
            row["clicks"] += int(info["click"]["item"] >= 0)
            row["dwell_s"] += float(info["click"]["dwell_s"])
            row["search_clicks"] += sum(s["clicked_item"] >= 0 for s in info["searches"])
        if hasattr(agent, "end_episode"):
            agent.end_episode()
        rows.append(row)
    return _result(rows)


def _run_vector(env: Any, agent: Any, obs: Any, info: dict, n_episodes: int) -> EvaluationResult:
    n = env.unwrapped.num_envs
    rows: list[dict[str, Any]] = []
    current: list[dict[str, Any] | None] = [None] * n
    started = 0
    observe = getattr(agent, "observe", None)

    def start(i: int) -> None:
        nonlocal started
        if started < n_episodes:
            current[i] = _new_row(started, int(info["user_id"][i]))
            rows.append(current[i])
            started += 1
        else:
            current[i] = None

    for i in range(n):
        start(i)
    finished = 0
    while finished < len(rows) or started < n_episodes:
        action = agent.act(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        if observe is not None:
            observe(obs, action, reward, terminated, truncated, next_obs, info)
        obs = next_obs
        for i in range(n):
            if info["autoreset"][i]:
                start(i)
                continue
            row = current[i]
            if (terminated[i] or truncated[i]) and hasattr(agent, "end_episode"):
                agent.end_episode()
            if row is None:
                continue
            row["return"] += float(reward[i])
            row["length"] += 1
            row["clicks"] += int(info["click_item"][i] >= 0)
            row["dwell_s"] += float(info["click_dwell_s"][i])
            row["search_clicks"] += int(info["search_clicks"][i])
            if terminated[i] or truncated[i]:
                finished += 1
                current[i] = None
    return _result(rows)
