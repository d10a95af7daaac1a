"""evaluate_policy: hand-written, registered and learning agents through one function."""

from __future__ import annotations

import numpy as np
import pytest

import experiments
from experiments.envs import FeedEnv, FeedPopulationEnv
from experiments.envs.examples import title_match_policy
from experiments.runner.evaluate import evaluate_policy, summarise
from policies import make_policy


@pytest.fixture(scope="module")
def env():
    return FeedEnv()


def test_exported_lazily_from_experiments():
    assert experiments.evaluate_policy is evaluate_policy


def test_summary_interval_by_hand():
    # values 1, 2, 3: mean 2, sd 1, t_{0.975, 2} = 4.3027, half width 4.3027 / sqrt(3)
    mean, low, high, sd = summarise(np.array([1.0, 2.0, 3.0]))
    assert (mean, sd) == (2.0, 1.0)
    assert high - mean == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5)
    assert low == pytest.approx(2 * mean - high)


def test_hand_written_beats_random(env):
    n = 120
    hand = evaluate_policy(env, title_match_policy(env), n, seed=0)
    rand = evaluate_policy(env, make_policy("random"), n, seed=0)
    assert len(hand.episodes) == n and len(rand.episodes) == n
    assert hand.mean("return") > rand.mean("return")
    low, high = hand.interval("clicks")
    assert low <= hand.mean("clicks") <= high
    # same seed: the same first users are drawn (common random numbers)
    assert hand.episodes["user_id"].iloc[0] == rand.episodes["user_id"].iloc[0]


@pytest.mark.parametrize("name", ["popularity", "random"])
def test_registered_policies_run_and_update(env, name):
    policy = make_policy(name)
    calls = []
    original = policy.update
    policy.update = lambda events: (calls.append(len(events)), original(events))
    result = evaluate_policy(env, policy, 45, seed=1)
    assert len(result.episodes) == 45 and np.isfinite(result.summary["mean"]).all()
    assert len(calls) == 2 and all(c > 0 for c in calls)  # after 20 and 40 sessions


def test_repeatable_and_plain_callable(env):
    def first_items(obs):
        return np.arange(5) + int(obs["page_index"]) * 5

    a = evaluate_policy(env, first_items, 10, seed=4)
    b = evaluate_policy(env, first_items, 10, seed=4)
    assert a.episodes.equals(b.episodes)


class CountingAgent:
    """A minimal 'learning' agent: epsilon-greedy on a running click count per item."""

    def __init__(self, n_items, size):
        self.counts = np.zeros(n_items)
        self.size = size
        self.observed = 0

    def begin(self, env, rng):
        self.rng = rng

    def act(self, obs, info):
        n = np.atleast_1d(info["user_id"]).shape[0]
        score = self.counts + self.rng.random((n, self.counts.shape[0]))
        slates = np.argsort(-score, axis=1)[:, : self.size]
        return slates if isinstance(info["user_id"], np.ndarray) else slates[0]

    def observe(self, obs, action, reward, terminated, truncated, next_obs, info):
        self.observed += 1
        items = np.atleast_1d(info["click_item"] if "click_item" in info else info["click"]["item"])
        np.add.at(self.counts, items[items >= 0], 1.0)


def test_learning_agent_on_vector_env():
    env = FeedPopulationEnv(num_envs=16)
    agent = CountingAgent(env.core.n_items, env.slate_size)
    result = evaluate_policy(env, agent, 60, seed=0)
    assert len(result.episodes) == 60
    assert sorted(result.episodes["episode"]) == list(range(60))
    assert agent.observed > 0 and agent.counts.sum() > 0
    pop = evaluate_policy(env, make_policy("popularity"), 60, seed=0)
    assert (pop.episodes["length"] >= 1).all()
