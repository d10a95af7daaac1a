"""Contracts: every bundled scenario validates; the scenario reference is up to date."""

from pathlib import Path

import pytest

from experiments.scenario import SCENARIOS_DIR, Scenario, load_scenario
from experiments.scenario.reference_docs import DOC_PATH, main, render_scenarios_doc

SCENARIO_FILES = sorted(SCENARIOS_DIR.glob("*.yaml")) + sorted(SCENARIOS_DIR.glob("*.yml"))


def test_there_are_scenarios():
    assert SCENARIOS_DIR / "quickstart.yaml" in SCENARIO_FILES


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_every_scenario_file_validates(path: Path):
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    # the id is versioned and the file is named by the id's name, with or without a
    # version (bundled files kept their names when their ids moved to world model v2)
    assert path.stem.rsplit("-v", 1)[0] == scenario.id.rsplit("-v", 1)[0]


def test_scenario_ids_are_unique():
    ids = [load_scenario(p).id for p in SCENARIO_FILES]
    assert len(ids) == len(set(ids))


def test_quickstart_is_what_it_says():
    scenario = load_scenario("quickstart")
    assert scenario.id == "quickstart-v2"
    assert scenario.episodes == 14
    assert scenario.world.episode_length_days == 1.0
    assert scenario.world.users.n_users == 1000
    assert scenario.world.catalog.n_items == 2000
    assert scenario.policy.name == "onefeed"
    assert scenario.allow_ground_truth  # so `oracle` can be compared on it


def test_scenarios_doc_is_up_to_date():
    assert DOC_PATH.read_text(encoding="utf-8") == render_scenarios_doc(), (
        "docs/scenarios.md is stale: run `python -m experiments.scenario.reference_docs`"
    )


def test_doc_lists_every_key():
    text = render_scenarios_doc()
    for path in (
        "`id`",
        "`world.choice.no_click_logit`",
        "`world.users.n_users`",
        "`output.plots`",
        "`policy.params`",
        "`world.episode_length_days`",
    ):
        assert f"| {path} |" in text
    assert (
        "| `world.choice.no_click_logit` | Utility of the no-click option (utility units). "
        "| utility units | float | `3` | [0, 50] |" in text
    )


def test_docs_gen_check_mode(tmp_path, capsys):
    stale = tmp_path / "scenarios.md"
    stale.write_text("old")
    assert main(["--check", "--out", str(stale)]) == 1
    assert main(["--out", str(stale)]) == 0
    assert main(["--check", "--out", str(stale)]) == 0
