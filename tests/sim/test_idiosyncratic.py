"""The user-item utility terms: idiosyncratic taste ``eps_ui`` and the repeat penalty."""

import numpy as np
import pandas as pd
import pytest

import sim.responder
from sim.crn import counter_normal, counter_uniform, stream_key
from sim.ground_truth import GroundTruthView
from sim.population import ConsumedPairs, Population

from .helpers import make_world, small_config


def test_counter_normal_is_box_muller_of_two_counter_uniforms():
    key = stream_key(5, "taste")
    users, items = np.array([0, 3, 7]), np.array([2, 2, 9])
    u1 = counter_uniform(key, users, 2 * items)
    u2 = counter_uniform(key, users, 2 * items + 1)
    expected = np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)
    assert counter_normal(key, users, items).tolist() == expected.tolist()


def test_counter_normal_is_standard_normal_and_order_free():
    key = stream_key(0, "taste")
    users = np.arange(400)[:, None]
    items = np.arange(500)[None, :]
    z = counter_normal(key, users, items)  # 200 000 draws
    assert z.shape == (400, 500)
    # se of the mean 1/sqrt(2e5) = 0.0022; of the sd about 0.0016
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(np.corrcoef(z[:, :-1].ravel(), z[:, 1:].ravel())[0, 1]) < 0.01
    # a pure function of (key, user, item): any subset, in any order, gives the same numbers
    assert counter_normal(key, np.array([399, 17]), np.array([3, 480])).tolist() == [
        z[399, 3],
        z[17, 480],
    ]
    assert not np.array_equal(counter_normal(stream_key(1, "taste"), users, items), z)


def test_idiosyncratic_term_is_zero_by_default():
    pop = Population(small_config(10), np.random.default_rng(0))
    assert small_config(10).choice.idiosyncratic_sd == 0.0
    eps = pop.idiosyncratic_utility(np.arange(10)[:, None], np.arange(7)[None, :])
    assert eps.shape == (10, 7) and not eps.any()


def test_idiosyncratic_term_needs_a_key_and_scales_with_sd():
    cfg = small_config(10, choice={"idiosyncratic_sd": 0.5})
    with pytest.raises(ValueError, match="taste_key"):
        Population(cfg, np.random.default_rng(0))
    key = stream_key(3, "taste")
    pop = Population(cfg, np.random.default_rng(0), key)
    users, items = np.array([1, 1, 4]), np.array([0, 5, 5])
    eps = pop.idiosyncratic_utility(users, items)
    assert eps.tolist() == (0.5 * counter_normal(key, users, items)).tolist()
    assert pop.idiosyncratic_utility(users, items).tolist() == eps.tolist()  # fixed over time
    assert len(set(eps.tolist())) == 3  # user- and item-specific


def test_default_world_events_do_not_change_with_a_zero_sd():
    explicit = small_config(60, choice={"idiosyncratic_sd": 0.0})
    a = make_world(small_config(60), seed=2).run_episode(0).events.to_pandas()
    b = make_world(explicit, seed=2).run_episode(0).events.to_pandas()
    assert a.equals(b)  # (pandas: NaN dwell equals NaN)


def test_world_tastes_are_drawn_from_the_seed_and_change_behaviour():
    cfg = small_config(60, choice={"idiosyncratic_sd": 1.0})
    w1, w2, w3 = make_world(cfg, seed=4), make_world(cfg, seed=4), make_world(cfg, seed=5)
    users, items = np.arange(60)[:, None], np.arange(300)[None, :]
    e1 = w1.population.idiosyncratic_utility(users, items)
    assert np.array_equal(e1, w2.population.idiosyncratic_utility(users, items))
    assert not np.array_equal(e1, w3.population.idiosyncratic_utility(users, items))
    events = w1.run_episode(0).events.to_pandas()
    assert events.equals(w2.run_episode(0).events.to_pandas())
    off = make_world(small_config(60), seed=4).run_episode(0).events.to_pandas()
    assert not events.equals(off)


def test_oracle_truth_equals_the_feed_choice_utility(monkeypatch):
    """GroundTruthView.utilities is exactly the utility the users' choice model uses."""
    cfg = small_config(80, choice={"idiosyncratic_sd": 1.0, "repeat_penalty": 2.0})
    world = make_world(cfg, seed=1, policy="random")
    truth = GroundTruthView(world.config, world.catalog, world.population)
    pop, policy = world.population, world.responder.policy
    served: dict = {}
    checked: list[float] = []
    recommend = policy.recommend

    def spy_recommend(batch):
        response = recommend(batch)
        served["users"] = np.asarray(batch.user_ids, np.int64)
        served["slates"] = np.asarray(response.slates, np.int64)
        return response

    original = sim.responder.choice_probabilities

    def spy_choice(utilities, examined, no_click_logit):
        for row, (user, slate) in enumerate(zip(served["users"], served["slates"], strict=True)):
            # satiation was just decayed to the user's request time: evaluate truth there
            v = truth.utilities(np.array([user]), float(pop.satiation_time_s[user]))[0, slate]
            checked.append(float(np.abs(v - utilities[row]).max()))
        return original(utilities, examined, no_click_logit)

    monkeypatch.setattr(policy, "recommend", spy_recommend)
    monkeypatch.setattr(sim.responder, "choice_probabilities", spy_choice)
    world.run_episode(0)
    world.run_episode(1)
    assert len(checked) > 100 and len(pop.consumed) > 50
    # float32 item attributes enter the two computations in a different order
    assert max(checked) < 1e-5
    eps = pop.idiosyncratic_utility(np.arange(80)[:, None], np.arange(300)[None, :])
    assert eps.std() == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------- repeat penalty
def test_consumed_pairs_set_semantics():
    pairs = ConsumedPairs()
    assert not pairs.contains(np.array([0]), np.array([0])).any()
    pairs.add(np.array([3, 0, 3]), np.array([7, 2, 7]))
    assert len(pairs) == 2  # (3, 7) once
    got = pairs.contains(np.array([[0], [3]]), np.array([[2, 7, 0]]))
    assert got.tolist() == [[True, False, False], [False, True, False]]
    # item ids beyond 2^31 do not collide with the next user
    pairs.add(np.array([1]), np.array([(1 << 32) - 1]))
    assert not pairs.contains(np.array([2]), np.array([0])).any()


def test_consumed_pairs_fold_recent_keys_without_losing_any():
    pairs = ConsumedPairs(merge_every=4)
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 20, 300), rng.integers(0, 30, 300)
    for a in range(0, 300, 7):  # batches of 7, folded every >= 4 distinct keys
        pairs.add(users[a : a + 7], items[a : a + 7])
    expected = set(zip(users.tolist(), items.tolist(), strict=True))
    assert len(pairs) == len(expected)
    grid_u, grid_i = np.meshgrid(np.arange(20), np.arange(30), indexing="ij")
    got = pairs.contains(grid_u, grid_i)
    assert {(int(u), int(i)) for u, i in zip(*np.nonzero(got), strict=True)} == expected


def test_repeat_penalty_is_on_by_default_and_subtracted_once_consumed():
    assert small_config(5).choice.repeat_penalty == 3.0
    off = small_config(5, choice={"repeat_penalty": 0.0})
    assert Population(off, np.random.default_rng(0)).consumed is None
    cfg = small_config(5, choice={"repeat_penalty": 4.0})
    pop = Population(cfg, np.random.default_rng(0))
    topics = np.full((2, 8), 1 / 8)
    with pytest.raises(ValueError, match="item ids"):
        pop.consume(np.array([0, 1]), topics, 0.3, 0.02)
    aff = np.array([0.5, 0.5])
    pop.consume(np.array([0, 1]), topics, 0.3, 0.02, items=np.array([5, 6]), affinity=aff)
    offset = pop.user_item_utility(np.array([[0], [1], [2]]), np.array([[5, 6]]))
    assert offset.tolist() == [[-4.0, 0.0], [0.0, -4.0], [0.0, 0.0]]


def test_users_do_not_reconsume_under_a_large_penalty_and_the_oracle_knows():
    cfg = small_config(60, choice={"repeat_penalty": 30.0})
    world = make_world(cfg, seed=3)  # popularity: the same top items for everyone
    events = pd.concat([world.run_episode(e).events.to_pandas() for e in range(2)])
    clicks = events[events.event.isin(["click", "search_click"])]
    feed = clicks[clicks.event == "click"]
    assert len(feed) > 20 and not feed.duplicated(["user_id", "item_id"]).any()
    free = make_world(small_config(60), seed=3)
    base = pd.concat([free.run_episode(e).events.to_pandas() for e in range(2)])
    base_feed = base[base.event == "click"]
    assert base_feed.duplicated(["user_id", "item_id"]).any()  # re-consumption by default
    truth = GroundTruthView(world.config, world.catalog, world.population)
    u, i = int(feed.user_id.iloc[0]), int(feed.item_id.iloc[0])
    util = truth.utilities(np.array([u]), 3 * 86400.0)[0]
    cfg0 = small_config(60)
    world0 = make_world(cfg0, seed=3)
    world0.population.interests = world.population.interests
    world0.population.satiation = world.population.satiation
    world0.population.satiation_time_s = world.population.satiation_time_s
    util0 = GroundTruthView(cfg0, world0.catalog, world0.population).utilities(
        np.array([u]), 3 * 86400.0
    )[0]
    assert util[i] == pytest.approx(util0[i] - 30.0)


def test_consumed_pairs_agree_across_merges_of_the_buffer():
    rng = np.random.default_rng(1)
    pairs, reference = ConsumedPairs(merge_every=7), set()
    for _ in range(20):
        users, items = rng.integers(0, 9, 5), rng.integers(0, 30, 5)
        pairs.add(users, items)
        reference |= set(zip(users.tolist(), items.tolist(), strict=True))
        u, i = np.meshgrid(np.arange(9), np.arange(30), indexing="ij")
        expected = np.array([[(a, b) in reference for b in range(30)] for a in range(9)])
        assert (pairs.contains(u, i) == expected).all()
    assert len(pairs) == len(reference)
