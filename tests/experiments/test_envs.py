"""The single-user feed env: gymnasium conformance, determinism, spaces, invalid actions."""

from __future__ import annotations

import collections.abc
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from experiments.envs import FEED_ID, POPULATION_ID, EnvOptions, FeedEnv
from experiments.envs.core import repair_slates
from experiments.envs.observe import OBSERVATION_KEYS
from sim.events import EventType


@pytest.fixture(scope="module")
def env():
    return FeedEnv()


def rollout(env, seed, n_steps, action_seed=0):
    """(obs, reward, terminated, truncated, info) per step; resets when an episode ends."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    out = [(obs, info)]
    for _ in range(n_steps):
        action = rng.choice(env.core.n_items, env.slate_size, replace=False)
        step = env.step(action)
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset())
    return out


@pytest.mark.parametrize("env_id", [FEED_ID, POPULATION_ID])
def test_check_env_passes_without_warnings(env_id):
    made = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(made.unwrapped)


def test_same_seed_same_trajectory_different_seed_differs(env):
    a = rollout(env, seed=7, n_steps=40)
    b = rollout(env, seed=7, n_steps=40)
    c = rollout(env, seed=8, n_steps=40)
    from gymnasium.utils.env_checker import data_equivalence

    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert data_equivalence(x, y, exact=True)
    assert not all(data_equivalence(x, y, exact=True) for x, y in zip(a, c, strict=False))


def test_observations_within_space_and_history_matches_info(env):
    steps = rollout(env, seed=3, n_steps=60)
    clicks = 0
    for record in steps:
        obs = record[0]
        assert obs in env.observation_space
        if len(record) == 5 and record[4]["click"]["item"] >= 0:
            info = record[4]
            clicks += 1
            # the newest feed click is in the history (search clicks may follow it)
            kinds = obs["history_behaviour"]
            assert info["click"]["item"] in obs["history_item_ids"][kinds == int(EventType.CLICK)]
            assert info["click"]["dwell_s"] > 0
    assert clicks > 0


def test_terminated_or_truncated_and_step_cap():
    env = FeedEnv(max_steps=2)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    ends = []
    for _ in range(30):
        done, n = False, 0
        while not done:
            _, _, term, trunc, _ = env.step(rng.choice(500, 5, replace=False))
            n += 1
            done = term or trunc
        assert n <= 2 and (term or (trunc and n == 2))
        ends.append((term, trunc))
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.arange(5))
        env.reset()
    assert any(t for _, t in ends)  # some sessions were cut by the cap
    assert any(t for t, _ in ends)  # and some ended by the user


def test_repair_is_deterministic_and_documented():
    available = np.ones(10, dtype=bool)
    available[1] = False
    slates = np.array([[3, 3, 1, 12, 0], [4, 5, 6, 7, 8]])
    fixed, n = repair_slates(slates, available)
    # row 0: 3 kept, second 3 repeated, 1 unavailable, 12 unknown -> filled with the
    # lowest available ids not in the row: 2, 4, 5 (0 and 3 are kept, 1 unavailable)
    assert fixed.tolist() == [[3, 2, 4, 5, 0], [4, 5, 6, 7, 8]]
    assert n.tolist() == [3, 0]


def test_invalid_action_repaired_penalised_or_rejected():
    env = FeedEnv(click_reward=0.0, dwell_reward_per_min=0.0, invalid_penalty=0.5)
    env.reset(seed=1)
    _, reward, _, _, info = env.step(np.array([7, 7, 7, 7, 7]))
    assert info["repaired"] == 4
    assert info["served"].tolist() == [7, 0, 1, 2, 3]
    assert reward == pytest.approx(-2.0)
    strict = FeedEnv(invalid_action="raise")
    strict.reset(seed=1)
    with pytest.raises(ValueError, match="invalid slate"):
        strict.step(np.array([7, 7, 7, 7, 7]))
    with pytest.raises(ValueError, match="shape"):
        strict.step(np.arange(4))


def test_searches_and_suggestions_happen_inside_steps():
    # Users always click a shown suggestion matching their interests in some topic word.
    probe = FeedEnv()
    vocab = probe.catalog_view().vocabulary
    world = probe.core.config.model_copy(
        update={
            "suggestions": probe.core.config.suggestions.model_copy(update={"base_logit": 50.0}),
            "users": probe.core.config.users.model_copy(
                update={"search_propensity_a": 5.0, "search_propensity_b": 5.0}
            ),
        }
    )
    env = FeedEnv(world=world, suggested_queries=(vocab[0], vocab[1]))
    obs, info = env.reset(seed=0)
    # the session opened with a suggestion click, so the first observation has a query
    assert (obs["query_word_ids"] >= 0).any()
    searches = []
    for _ in range(40):
        obs, _, term, trunc, info = env.step(np.arange(5))
        searches += info["searches"]
        if info["searches"]:
            assert (obs["query_word_ids"] >= 0).any()
        if term or trunc:
            env.reset()
    assert searches
    assert {"query", "suggested", "clicked_item", "position", "dwell_s", "abandoned"} <= set(
        searches[0]
    )


def test_scenario_world_and_options_validation():
    with pytest.raises(ValueError):
        EnvOptions(history_len=0)
    env = gym.make(FEED_ID, world="quickstart", history_len=4)
    obs, _ = env.reset(seed=0)
    assert obs["history_item_ids"].shape == (4,)
    assert env.action_space.nvec.tolist() == [2000] * 10


def mapping_attributes() -> set[str]:
    return (
        set(dir(dict))
        | set(dir(collections.abc.Mapping))
        | set(dir(collections.abc.MutableMapping))
    )


@pytest.mark.parametrize("env_id", [FEED_ID, POPULATION_ID])
def test_no_observation_key_shadows_a_mapping_attribute(env_id):
    # torch.nn.ModuleDict (stable-baselines3's MultiInputPolicy) refuses a key such as
    # "items" ("attribute 'items' already exists"); the observation keys must avoid all
    # attributes of dict and of the Mapping ABCs.
    env = gym.make(env_id)
    keys = set(env.observation_space.spaces)
    assert keys == set(OBSERVATION_KEYS)
    assert keys & mapping_attributes() == set()
    assert {"items", "keys", "values", "get"} <= mapping_attributes()  # the check bites
    vec = gym.make_vec(env_id, num_envs=2)
    assert set(vec.single_observation_space.spaces) == keys
    env.close()
    vec.close()


def test_importing_the_package_registers_the_ids_cheaply():
    # A new user's first two lines: `import gymnasium as gym; import experiments`.
    code = (
        "import sys, gymnasium as gym, experiments\n"
        "ids = [i for i in gym.envs.registry if i.startswith('onefeed_sim/')]\n"
        "heavy = sorted(m for m in ('sim.world', 'experiments.envs.feed_env', 'simpy',"
        " 'pandas', 'policies') if m in sys.modules)\n"
        "print(sorted(ids), heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "['onefeed_sim/Feed-v0', 'onefeed_sim/FeedPopulation-v0'] []"
