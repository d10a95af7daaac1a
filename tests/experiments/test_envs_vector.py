"""The population VectorEnv: batched spaces, shapes, determinism, NEXT_STEP autoreset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from experiments.envs import FEED_ID, POPULATION_ID, FeedEnv, FeedPopulationEnv

N = 6


def actions(env, rng):
    return np.argsort(rng.random((env.num_envs, env.core.n_items)), axis=1)[:, : env.slate_size]


def run(env, seed, n_steps):
    rng = np.random.default_rng(0)
    out = [env.reset(seed=seed)]
    for _ in range(n_steps):
        out.append(env.step(actions(env, rng)))
    return out


@pytest.mark.parametrize("env_id", [FEED_ID, POPULATION_ID])
def test_make_vec_uses_the_vector_entry_point(env_id):
    env = gym.make_vec(env_id, num_envs=N)
    assert isinstance(env, FeedPopulationEnv)
    assert env.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    single = FeedEnv()
    assert env.single_observation_space == single.observation_space
    assert env.single_action_space == single.action_space
    assert env.observation_space == batch_space(single.observation_space, N)
    assert env.action_space == batch_space(single.action_space, N)


def test_reset_and_step_shapes():
    env = FeedPopulationEnv(num_envs=N)
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space
    assert len(set(info["user_id"].tolist())) == N
    obs, rew, term, trunc, info = env.step(env.action_space.sample())
    assert obs in env.observation_space
    assert rew.shape == term.shape == trunc.shape == (N,)
    assert rew.dtype == np.float64 and term.dtype == bool and trunc.dtype == bool
    assert info["served"].shape == (N, env.slate_size)
    for key in ("user_id", "click_item", "searches", "autoreset"):
        assert info[key].shape == (N,) and info[f"_{key}"].shape == (N,)


def test_determinism_under_reset_seed():
    env = FeedPopulationEnv(num_envs=N)
    a, b, c = run(env, 5, 25), run(env, 5, 25), run(env, 6, 25)
    assert all(data_equivalence(x, y, exact=True) for x, y in zip(a, b, strict=True))
    assert not all(data_equivalence(x, y, exact=True) for x, y in zip(a, c, strict=True))


def test_next_step_autoreset_starts_the_earliest_idle_user():
    env = FeedPopulationEnv(num_envs=N, max_steps=3)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    seen_reset = False
    for _ in range(30):
        hosted = env.hosted_users
        pop = env.core.world.population
        obs, rew, term, trunc, info = env.step(actions(env, rng))
        done = term | trunc
        assert not (term & trunc).any()
        assert (env._steps <= 3).all()
        if done.any():
            # users that just left still show their final observation and id
            assert (info["user_id"][done] == hosted[done]).all()
            idle = np.setdiff1d(np.arange(env.core.n_users), env.hosted_users[~done])
            starts = pop.next_start_s.copy()
            # next step: those rows are reset, their actions ignored, reward 0
            obs, rew, term, trunc, info = env.step(actions(env, rng))
            assert info["autoreset"][done].all() and not info["autoreset"][~done].any()
            assert (rew[done] == 0).all() and not (term | trunc)[done].any()
            assert (obs["page_index"][done] == 0).all()
            new = info["user_id"][done]
            expected = idle[np.lexsort((idle, starts[idle]))][: done.sum()]
            assert sorted(new.tolist()) == sorted(expected.tolist())
            assert not info["_served"][done].any()
            seen_reset = True
        assert len(set(env.hosted_users.tolist())) == N
    assert seen_reset


def test_single_user_view_matches_one_sub_env():
    """FeedEnv(user_order="arrival") is the num_envs=1 population env without autoreset steps."""
    vec, single = FeedPopulationEnv(num_envs=1), FeedEnv(user_order="arrival")
    vobs, _ = vec.reset(seed=11)
    sobs, _ = single.reset(seed=11)
    rng = np.random.default_rng(0)
    for _ in range(40):
        a = rng.choice(500, 5, replace=False)
        assert data_equivalence(single_row(vobs), sobs, exact=True)
        vobs, vr, vt, vtr, _ = vec.step(a[None, :])
        sobs, sr, st, str_, _ = single.step(a)
        assert vr[0] == sr and vt[0] == st and vtr[0] == str_
        if st or str_:
            assert data_equivalence(single_row(vobs), sobs, exact=True)
            vobs, *_ = vec.step(a[None, :])
            sobs, _ = single.reset()


def single_row(batch):
    from experiments.envs.observe import Observer

    return Observer.row(batch, 0)
