import pytest

from experiments.errors import ScenarioError, UserError
from experiments.scenario import (
    SCENARIOS_DIR,
    Scenario,
    load_scenario,
    resolve_scenario_path,
    with_overrides,
)
from experiments.scenario.marked_yaml import format_path


def error_of(path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


def test_tiny_scenario_loads(write_scenario, tiny_yaml):
    scenario = load_scenario(write_scenario(tiny_yaml))
    assert isinstance(scenario, Scenario)
    assert scenario.id == "tiny-v1"
    assert scenario.seed == 3 and scenario.episodes == 3
    assert scenario.policy.name == "popularity" and scenario.policy.params == {}
    assert scenario.world.users.n_users == 12
    assert scenario.output.plots is False
    with pytest.raises(Exception, match="frozen"):
        scenario.seed = 4  # type: ignore[misc]


def test_policy_mapping_form(write_scenario, tiny_yaml):
    text = tiny_yaml.replace(
        "policy: popularity", "policy:\n  name: popularity\n  params: {window_episodes: 2}"
    )
    scenario = load_scenario(write_scenario(text))
    assert scenario.policy.params == {"window_episodes": 2}


def test_yaml_syntax_error(write_scenario):
    path = write_scenario("id: a-v1\nepisodes: [1\n")
    assert error_of(path) == (
        f"{path}:3:1: YAML syntax error: expected ',' or ']', but got '<stream end>'"
    )


def test_unknown_key_names_path_line_and_suggestion(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml.replace("    n_users: 12", "    n_user: 12"))
    assert error_of(path) == f"{path}:12: world.users.n_user: unknown key (did you mean 'n_users'?)"


def test_unknown_key_without_close_match_lists_allowed(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml + "colour: blue\n")
    assert error_of(path) == (
        f"{path}:17: colour: unknown key; allowed keys: "
        "id, description, seed, episodes, allow_ground_truth, policy, warmup, world, "
        "interventions, output"
    )


def test_wrong_type(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml.replace("n_items: 40", "n_items: many"))
    assert error_of(path) == f"{path}:9: world.catalog.n_items: must be an integer (got 'many')"


def test_out_of_range(write_scenario, tiny_yaml):
    text = tiny_yaml.replace("  feed:", "  choice:\n    no_click_logit: -1\n  feed:")
    path = write_scenario(text)
    assert error_of(path) == f"{path}:14: world.choice.no_click_logit: must be ≥ 0 (got -1)"


def test_several_problems_one_line_each_in_file_order(write_scenario, tiny_yaml):
    text = tiny_yaml.replace("episodes: 3", "episodes: 0").replace("n_topics: 4", "n_topics: x")
    path = write_scenario(text)
    assert error_of(path).splitlines() == [
        f"{path}:5: episodes: must be ≥ 1 (got 0)",
        f"{path}:10: world.catalog.n_topics: must be an integer (got 'x')",
    ]


def test_unknown_policy_lists_known(write_scenario, tiny_yaml):
    from policies import available_policies

    path = write_scenario(tiny_yaml.replace("policy: popularity", "policy: no-such-policy"))
    known = ", ".join(available_policies())
    assert (
        error_of(path)
        == f"{path}:6: policy: unknown policy 'no-such-policy'; known policies: {known}"
    )


def test_bad_policy_params(write_scenario, tiny_yaml):
    text = tiny_yaml.replace("policy: popularity", "policy: {name: popularity, params: {k: 1}}")
    message = error_of(write_scenario(text))
    assert ":6: policy: invalid params for policy 'popularity': " in message
    assert "'k'" in message


def test_missing_required_key(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml.replace("episodes: 3\n", ""))
    # the document starts on line 2, after the comment
    assert error_of(path) == f"{path}:2: episodes: required key is missing"


def test_unversioned_id(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml.replace("id: tiny-v1", "id: tiny"))
    assert error_of(path).startswith(f"{path}:2: id: must be a versioned id like 'quickstart-v1'")


def test_cross_field_world_error(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml.replace("slate_size: 5", "slate_size: 50"))
    assert error_of(path) == (
        f"{path}:7: world: feed.slate_size (50) must be <= catalog.n_items (40)"
    )


def test_unknown_metric(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml + "  metrics: [ctr, happiness]\n")
    assert error_of(path).startswith(f"{path}:17: output.metrics: unknown metric 'happiness'")


def test_duplicate_key(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml + "seed: 4\n")
    assert error_of(path) == f"{path}:17: seed: duplicate key (first given on line 4)"


def test_not_a_mapping(write_scenario):
    assert error_of(write_scenario("- a\n- b\n")).endswith(
        ":1: a scenario must be a mapping of keys (id, episodes, policy, world, ...), "
        "but the document is a list"
    )
    assert error_of(write_scenario("", "empty.yaml")).endswith("but the document is empty")


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert error_of(missing).startswith(f"{missing}: scenario file not found")


def test_bare_name_resolves_in_scenarios_dir():
    assert resolve_scenario_path("quickstart") == SCENARIOS_DIR / "quickstart.yaml"
    assert load_scenario("quickstart").id == "quickstart-v2"
    message = error_of("no-such-scenario")
    assert message.startswith("no-such-scenario: scenario file not found")
    assert "quickstart" in message


def test_overrides(write_scenario, tiny_yaml):
    scenario = load_scenario(write_scenario(tiny_yaml))
    changed = with_overrides(scenario, seed=9, policy="random")
    assert (changed.seed, changed.policy.name) == (9, "random")
    assert with_overrides(scenario) is scenario
    with pytest.raises(UserError, match=r"^--policy: unknown policy 'nope'; known policies: "):
        with_overrides(scenario, policy="nope")
    with pytest.raises(UserError, match=r"^--seed: must be ≥ 0"):
        with_overrides(scenario, seed=-1)


def test_format_path():
    assert format_path(("world", "users", 0, "rate")) == "world.users[0].rate"
    assert format_path(()) == ""


def test_more_than_one_document(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml + "---\nid: other-v1\n")
    assert error_of(path) == (
        f"{path}:17:1: YAML syntax error: "
        "expected a single document in the stream, but found another document"
    )


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: caf\xe9-v1\n".encode("latin-1"))
    assert error_of(path).startswith(f"{path}: not UTF-8 text")


def test_ground_truth_policy_needs_explicit_permission(write_scenario, tiny_yaml):
    path = write_scenario(tiny_yaml.replace("policy: popularity", "policy: oracle"))
    assert error_of(path) == (
        f"{path}:6: policy: the 'oracle' policy sees the simulator's ground truth (an upper "
        "bound); set `allow_ground_truth: true` in the scenario to run it"
    )
    allowed = load_scenario(
        write_scenario(
            tiny_yaml.replace("policy: popularity", "allow_ground_truth: true\npolicy: oracle")
        )
    )
    assert allowed.policy.name == "oracle" and allowed.allow_ground_truth
    plain = load_scenario(write_scenario(tiny_yaml))
    with pytest.raises(UserError, match=r"^--policy: the 'oracle' policy sees"):
        with_overrides(plain, policy="oracle")
