"""Interventions: schema validation, mechanics (CRN, drift split, catalogue) and run loop."""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiments.errors import ScenarioError
from experiments.runner.run import run_scenario
from experiments.scenario import Scenario
from experiments.scenario.interventions import InterventionSchedule, stream_name
from experiments.scenario.marked_yaml import load_marked_yaml
from policies import make_policy
from sim.config import WorldConfig
from sim.interventions import catalog_shock, interest_shock, most_popular_available
from sim.world import build_world

BASE = """\
id: shock-v1
episodes: 4
policy: popularity
world:
  catalog: {n_items: 60, n_topics: 4}
  users: {n_users: 20}
  feed: {slate_size: 5}
output: {plots: false}
"""


def _load(extra: str) -> Scenario:
    from experiments.scenario import scenario_from_data

    return scenario_from_data(load_marked_yaml(BASE + extra, "s.yaml"))


def _world(policy: str = "popularity", seed: int = 1):
    config = WorldConfig.model_validate(
        {
            "catalog": {"n_items": 60, "n_topics": 4},
            "users": {"n_users": 20},
            "feed": {"slate_size": 5},
        }
    )
    return build_world(config, seed, make_policy(policy))


# ----------------------------------------------------------------- schema
def test_schema_accepts_the_three_kinds():
    s = _load(
        "interventions:\n"
        "  - {episode: 1, kind: interest_shock, share: 0.2, strength: 0.5}\n"
        "  - {episode: 2, kind: catalog_shock, n_new_items: 5, topics: [1]}\n"
        "  - {episode: 3, kind: policy_swap, policy: random}\n"
    )
    assert [i.kind for i in s.interventions] == ["interest_shock", "catalog_shock", "policy_swap"]
    assert s.interventions[2].policy.name == "random"
    assert s.interventions[2].replay_history is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "  - {episode: 4, kind: interest_shock, share: 0.2, strength: 0.5}\n",
            "s.yaml:10: interventions[0].episode: must be < the scenario's episodes (4) (got 4)",
        ),
        (
            "  - {episode: 0, kind: interest_shock, share: 0.2, strength: 0.5}\n",
            "s.yaml:10: interventions[0].episode: must be ≥ 1 (got 0)",
        ),
        (
            "  - {episode: 1, kind: interest_shock, share: 1.5, strength: 0.5}\n",
            "s.yaml:10: interventions[0].share: must be ≤ 1 (got 1.5)",
        ),
        ("  - {episode: 1, kind: bogus}\n", "interventions[0]: input tag 'bogus'"),
        (
            "  - {episode: 1, kind: catalog_shock, n_new_items: 3, topics: [9]}\n",
            "interventions[0].topics: topics must be < world.catalog.n_topics (4) (got [9])",
        ),
        (
            "  - {episode: 1, kind: policy_swap, policy: oracle}\n",
            "interventions[0].policy: the 'oracle' policy sees the simulator's ground truth",
        ),
        (
            "  - {episode: 1, kind: policy_swap, policy: nope}\n",
            "unknown policy 'nope'",
        ),
    ],
)
def test_schema_rejects_with_dotted_path(extra: str, message: str):
    with pytest.raises(ScenarioError) as info:
        _load("interventions:\n" + extra)
    assert message in str(info.value)


# ----------------------------------------------------------------- mechanics
def test_interest_shock_is_exogenous_drift_and_common_across_policies():
    a, b = _world("popularity"), _world("random")
    before = a.population.interests.copy()
    users_a = interest_shock(a, a.streams.get(stream_name(0, "interest_shock")), 0.25, 0.5)
    users_b = interest_shock(b, b.streams.get(stream_name(0, "interest_shock")), 0.25, 0.5)
    assert users_a.tolist() == users_b.tolist() and users_a.shape == (5,)  # 0.25 * 20
    np.testing.assert_array_equal(a.population.interests, b.population.interests)
    pop = a.population
    untouched = np.setdiff1d(np.arange(20), users_a)
    np.testing.assert_array_equal(pop.interests[untouched], before[untouched])
    assert not np.allclose(pop.interests[users_a], before[users_a])
    np.testing.assert_allclose(pop.interests.sum(axis=1), 1.0)
    # the drift split stays exact: interests = initial + endogenous + exogenous
    np.testing.assert_allclose(
        pop.interests, pop.initial_interests + pop.drift_endogenous + pop.drift_exogenous
    )
    np.testing.assert_allclose(pop.drift_endogenous, 0.0)


def test_interest_shock_strength_one_lands_on_the_target():
    world = _world()
    users = interest_shock(world, np.random.default_rng(0), 1.0, 1.0, shared_target=True)
    assert users.shape == (20,)
    rows = world.population.interests
    np.testing.assert_allclose(rows, np.broadcast_to(rows[0], rows.shape))


def test_catalog_shock_adds_topic_items_retires_popular_and_notifies():
    world = _world()
    calls = []
    original = world.policy.on_catalog_change
    world.policy.on_catalog_change = lambda view: (calls.append(view), original(view))
    clicks = np.zeros(60)
    clicks[[7, 3, 11]] = [5, 9, 1]
    retire = most_popular_available(world, clicks, 0.05)  # round(0.05 * 60) = 3
    assert retire.tolist() == [3, 7, 11]
    new, retired = catalog_shock(world, np.random.default_rng(0), 4, (2,), retire)
    assert new.tolist() == [60, 61, 62, 63]
    assert retired.tolist() == [3, 7, 11]
    cat = world.catalog
    assert cat.n_items == 64 and cat.available.sum() == 61
    assert not cat.available[[3, 7, 11]].any()
    assert (np.argmax(cat.topics[60:], axis=1) == 2).all()  # the burst is about topic 2
    assert len(calls) == 1 and calls[0].n_items == 64
    assert world.index.n_docs == 61  # rebuilt over the available items only
    _, ids = world.index.search([cat.titles[3]], 60)
    assert 3 not in ids[0].tolist()


def test_catalog_shock_refuses_to_empty_the_catalogue():
    world = _world()
    with pytest.raises(ValueError, match="fewer than a slate"):
        catalog_shock(world, np.random.default_rng(0), 0, (), np.arange(58))


def test_schedule_groups_by_episode():
    s = _load(
        "interventions:\n"
        "  - {episode: 2, kind: interest_shock, share: 0.2, strength: 0.5}\n"
        "  - {episode: 1, kind: catalog_shock, n_new_items: 5}\n"
        "  - {episode: 2, kind: policy_swap, policy: random}\n"
    )
    assert InterventionSchedule(s.interventions).episodes == [1, 2]


# ----------------------------------------------------------------- run loop
def test_run_applies_interventions_and_records_them(tmp_path):
    s = _load(
        "interventions:\n"
        "  - {episode: 1, kind: interest_shock, share: 0.5, strength: 0.8}\n"
        "  - {episode: 2, kind: catalog_shock, n_new_items: 6, topics: [0],\n"
        "     retire_popular_share: 0.1}\n"
        "  - {episode: 3, kind: policy_swap, policy: {name: epsilon-greedy, params: {base: mf}}}\n"
    )
    result = run_scenario(s, tmp_path / "run", show_progress=False)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    entries = manifest["episodes"]
    assert "interventions" not in entries[0]
    assert entries[1]["interventions"][0]["n_users_shocked"] == 10
    shock = entries[2]["interventions"][0]
    assert shock["n_items_added"] == 6 and shock["n_items_retired"] == 6
    assert entries[2]["n_items_available"] == 60
    assert entries[3]["interventions"][0]["episodes_replayed"] == 3
    assert [e["policy"] for e in entries] == ["popularity"] * 3 + ["epsilon-greedy"]
    assert manifest["status"] == "complete"
    # the shock is booked as exogenous drift in the saved truth
    truth = np.load(result.run_dir / "truth" / "episode-0001.npz")
    initial = np.load(result.run_dir / "truth" / "initial.npz")
    np.testing.assert_allclose(
        truth["interests"],
        initial["interests"] + truth["drift_endogenous"] + truth["drift_exogenous"],
        atol=1e-5,
    )
    exo = result.metrics.query("metric == 'interest_drift_exogenous'").set_index("episode")
    assert exo.loc[1, "value"] > 3 * exo.loc[0, "value"]


def test_interventions_are_identical_across_policies(tmp_path):
    extra = "interventions:\n  - {episode: 1, kind: interest_shock, share: 0.5, strength: 0.8}\n"
    runs = []
    for policy in ("popularity", "random"):
        data = _load(extra).model_dump(mode="python")
        data["policy"] = {"name": policy}
        data["episodes"] = 2
        runs.append(
            run_scenario(Scenario.model_validate(data), tmp_path / policy, show_progress=False)
        )
    shocked = [
        json.loads((r.run_dir / "manifest.json").read_text())["episodes"][1]["interventions"]
        for r in runs
    ]
    assert shocked[0] == shocked[1]
