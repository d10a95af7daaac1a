"""Long-horizon scenarios: each runs shrunk through the real run loop; cold start; retrain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.runner.run import run_scenario
from experiments.scenario import SCENARIOS_DIR, Scenario, load_scenario
from policies import make_policy
from sim.config import WorldConfig
from sim.population import SECONDS_PER_DAY
from sim.world import build_world

LONG = ["drift-v1", "filter-bubble-v1", "cold-start-v1", "search-heavy-v1", "shocks-v1"]


def shrink(scenario: Scenario, n_users: int = 15, episodes: int = 2) -> Scenario:
    """The scenario with few users and items, ``episodes`` episodes, interventions at 1."""
    data = scenario.model_dump(mode="python")
    data["episodes"] = episodes
    data["world"]["users"]["n_users"] = n_users
    data["world"]["catalog"]["n_items"] = 200
    data["world"]["catalog"]["new_items_rate_per_day"] = min(
        data["world"]["catalog"]["new_items_rate_per_day"], 10.0
    )
    data["world"]["users"]["new_user_arrival_days"] = min(
        data["world"]["users"]["new_user_arrival_days"], 1.0
    )
    data["output"]["plots"] = False
    for item in data["interventions"]:
        item["episode"] = 1
        if item["kind"] == "catalog_shock":
            item["n_new_items"] = min(item["n_new_items"], 20)
    return Scenario.model_validate(data)


@pytest.mark.parametrize("name", LONG)
def test_long_scenario_files_exist_and_say_what_they_study(name: str):
    path = SCENARIOS_DIR / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    # The files keep their names; their ids moved to v2 with world model v2.
    scenario_id = name.replace("-v1", "-v2")
    assert text.startswith(f"# {scenario_id}:")
    assert "Studies:" in text
    scenario = load_scenario(name)
    assert scenario.id == scenario_id and scenario.description
    assert scenario.world.model_version == 2


def test_long_scenarios_are_what_they_say():
    assert load_scenario("drift-v1").episodes == 180
    assert load_scenario("drift-v1").world.episode_length_days == 1.0
    bubble = load_scenario("filter-bubble-v1").world.drift
    assert bubble.endogenous_rate > WorldConfig().drift.endogenous_rate
    cold = load_scenario("cold-start-v1").world
    assert cold.users.new_user_share > 0 and cold.catalog.new_items_rate_per_day > 0
    heavy = load_scenario("search-heavy-v1").world.users
    assert heavy.search_propensity_a / (heavy.search_propensity_a + heavy.search_propensity_b) > 0.1
    kinds = [i.kind for i in load_scenario("shocks-v1").interventions]
    assert kinds == ["interest_shock", "catalog_shock", "policy_swap"]


@pytest.mark.parametrize("name", LONG)
def test_long_scenario_smoke_run(name: str, tmp_path: Path):
    scenario = shrink(load_scenario(name))
    result = run_scenario(scenario, tmp_path / "run", show_progress=False)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["episodes_finished"] == 2
    assert set(result.metrics["episode"]) == {0, 1}
    events = pd.read_parquet(result.run_dir / "events.parquet")
    assert len(events) > 0
    if scenario.interventions:
        assert len(manifest["episodes"][1]["interventions"]) == len(scenario.interventions)


# ----------------------------------------------------------------- cold start
def _first_starts(share: float, days: float, seed: int = 2) -> np.ndarray:
    config = WorldConfig.model_validate(
        {
            "catalog": {"n_items": 50, "n_topics": 4},
            "users": {"n_users": 400, "new_user_share": share, "new_user_arrival_days": days},
        }
    )
    return build_world(config, seed, make_policy("random")).population.next_start_s


def test_new_users_join_later_and_defaults_are_unchanged():
    base = _first_starts(0.0, 30.0)
    np.testing.assert_array_equal(base, _first_starts(0.0, 0.0))  # share 0: no change
    late = _first_starts(0.5, 30.0)
    delayed = late > base
    assert 0.4 < delayed.mean() < 0.6
    np.testing.assert_array_equal(late[~delayed], base[~delayed])
    assert (late - base)[delayed].max() <= 30 * SECONDS_PER_DAY
    assert (late - base)[delayed].mean() > 10 * SECONDS_PER_DAY


# ----------------------------------------------------------------- trained once
def _item_factors_after_each_update(**params) -> list[np.ndarray]:
    config = WorldConfig.model_validate(
        {"catalog": {"n_items": 60, "n_topics": 4}, "users": {"n_users": 30}}
    )
    policy = make_policy("mf", n_factors=4, n_iters=2, **params)
    world = build_world(config, 5, policy)
    out = []
    for episode in range(3):
        policy.update(world.run_episode(episode).events.to_pandas())
        out.append(policy._items.copy())
    return out


def test_mf_trained_once_freezes_the_model():
    once = _item_factors_after_each_update(retrain=False, fit_episodes=1)
    np.testing.assert_array_equal(once[0], once[1])
    np.testing.assert_array_equal(once[1], once[2])
    every = _item_factors_after_each_update()
    assert not np.array_equal(every[0], every[1])
    np.testing.assert_array_equal(every[0], once[0])  # same first fit
    assert make_policy("mf").retrain is True  # default unchanged
    with pytest.raises(ValueError):
        make_policy("mf", fit_episodes=0)
