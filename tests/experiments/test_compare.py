"""``experiments.runner.compare`` and ``compare_report``: parsing, planning, summaries, tables."""

import math

import numpy as np
import pandas as pd
import pytest

from experiments.errors import UserError
from experiments.reporting.compare_report import (
    SUMMARY_COLUMNS,
    format_table,
    run_values,
    summarize,
    summary_markdown,
)
from experiments.runner.compare import parse_policies, parse_seeds, plan_compare
from experiments.scenario import scenario_from_data
from experiments.scenario.marked_yaml import load_marked_yaml
from tests.experiments.conftest import TINY_YAML


def scenario(text: str = TINY_YAML):
    return scenario_from_data(load_marked_yaml(text, "s.yaml"))


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("0-4", [0, 1, 2, 3, 4]), ("0,2,5", [0, 2, 5]), ("7", [7]), (" 3 - 4 , 0", [3, 4, 0])],
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cannot read ''"),
        ("a-b", "cannot read 'a-b'"),
        ("-1", "cannot read '-1'"),
        ("1,,2", "cannot read ''"),
        ("4-2", "reversed"),
        ("0-2,1", "seed 1 is given twice"),
        ("1.5", "cannot read '1.5'"),
    ],
)
def test_parse_seeds_rejects(text, message):
    with pytest.raises(UserError, match=message) as info:
        parse_seeds(text)
    assert str(info.value).startswith("--seeds: ") and "\n" not in str(info.value)


def test_parse_policies():
    assert parse_policies("popularity, random") == ["popularity", "random"]
    with pytest.raises(UserError, match=r"unknown policy 'nope'; known policies: .*popularity"):
        parse_policies("popularity,nope")
    with pytest.raises(UserError, match="given twice"):
        parse_policies("random,random")
    with pytest.raises(UserError, match="empty policy name"):
        parse_policies("random,")


def test_plan_reference_upper_bound_and_ground_truth(tmp_path):
    base = scenario()
    with pytest.raises(UserError, match="allow_ground_truth: true"):
        plan_compare(base, ["oracle", "random"], [0], tmp_path / "a")
    allowed = scenario(TINY_YAML.replace("episodes: 3", "episodes: 3\nallow_ground_truth: true"))
    plan = plan_compare(allowed, ["oracle", "random", "popularity"], [0, 1], tmp_path / "b")
    assert plan.reference == "random"  # the first policy that is not an upper bound
    assert plan.upper_bounds == {"oracle"}
    assert plan.label("oracle") == "oracle (upper bound)" and plan.label("random") == "random"
    assert [t.name for t in plan.tasks][:3] == ["oracle-seed0", "oracle-seed1", "random-seed0"]
    task = plan.tasks[2]
    assert task.scenario["seed"] == 0 and task.scenario["policy"]["name"] == "random"
    assert task.scenario["output"]["plots"] is False
    # the scenario's own policy keeps its parameters, others get defaults
    assert plan.tasks[-1].scenario["policy"] == base.policy.model_dump(mode="json")
    with pytest.raises(UserError, match="--reference: 'mf' is not one of"):
        plan_compare(allowed, ["random"], [0], tmp_path / "c", reference="mf")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("x")
    with pytest.raises(UserError, match="not an earlier compare's output"):
        plan_compare(base, ["random"], [0], tmp_path / "d")


def per_run_table() -> pd.DataFrame:
    """Policies a (reference) and b, seeds 0-2, metric m; episode 0 is warm-up."""
    rows = []
    measured = {"a": [1.0, 2.0, 3.0], "b": [2.0, 3.0, 5.0]}
    for policy, values in measured.items():
        for seed, value in enumerate(values):
            rows.append((policy, seed, 0, "m", 100.0))  # warm-up: must not count
            rows.append((policy, seed, 1, "m", value - 0.5))
            rows.append((policy, seed, 2, "m", value + 0.5))  # mean of 1 and 2 = value
            rows.append((policy, seed, 1, "n", np.nan if seed == 0 else 1.0))
            rows.append((policy, seed, 2, "n", np.nan))
    table = pd.DataFrame(rows, columns=["policy", "seed", "episode", "metric", "value"])
    return table


def test_run_values_mean_over_measured_episodes():
    values = run_values(per_run_table(), warmup_episodes=1)
    m = values[values["metric"] == "m"].set_index(["policy", "seed"])["value"]
    assert m[("a", 0)] == 1.0 and m[("b", 2)] == 5.0
    n = values[values["metric"] == "n"].set_index(["policy", "seed"])["value"]
    assert math.isnan(n[("a", 0)]) and n[("a", 1)] == 1.0  # NaN episodes are skipped


def test_summarize_known_values():
    summary = summarize(per_run_table(), "a", warmup_episodes=1)
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert list(summary["policy"]) == ["a", "a", "b", "b"]
    row = summary.set_index(["policy", "metric"])
    # a: [1, 2, 3] -> 2 ± 2.4841 (t_{0.975,2} = 4.3027, s = 1, sqrt(3))
    assert row.loc[("a", "m"), "mean"] == 2.0
    assert row.loc[("a", "m"), "ci_high"] == pytest.approx(4.4841, abs=1e-4)
    assert row.loc[("a", "m"), ["diff", "diff_ci_low", "diff_ci_high"]].isna().all()
    # b - a = [1, 1, 2] -> 4/3 ± 1.4342
    assert row.loc[("b", "m"), "diff"] == pytest.approx(4 / 3)
    assert row.loc[("b", "m"), "diff_ci_low"] == pytest.approx(4 / 3 - 1.4342, abs=1e-4)
    # metric n: values [nan, 1, 1] per policy -> mean 1, zero-width interval
    assert row.loc[("b", "n"), "mean"] == 1.0 and row.loc[("b", "n"), "diff"] == 0.0


def test_format_table_marks_and_one_seed():
    summary = summarize(per_run_table(), "a", warmup_episodes=1)
    text = format_table(summary, ["m", "zzz"], "a", 3, 1, label=lambda p: p.upper())
    lines = text.splitlines()
    assert lines[0].split() == ["policy", "m"]
    assert lines[2].startswith("A (reference)") and "2 [-0.484, 4.48]" in lines[2]
    assert lines[4].startswith("  Δ vs a") and not lines[4].endswith("*")
    assert "1 warm-up episodes are left out" in text
    one = summarize(per_run_table()[lambda t: t["seed"] == 1], "a", warmup_episodes=1)
    assert one[["ci_low", "ci_high", "diff_ci_low", "diff_ci_high"]].isna().all().all()
    text = format_table(one, ["m"], "a", 1, 1)
    assert "one seed only" in text and "[" not in text.splitlines()[2]
    markdown = summary_markdown(one, "t", "a", 1)
    assert "| a | 2 | n/a | (reference) |  |" in markdown
    assert "| b | 3 | n/a | +1 | n/a |" in markdown


def test_table_marks_interval_excluding_zero():
    table = per_run_table()
    table.loc[table["policy"] == "b", "value"] = (
        table.loc[table["policy"] == "a", "value"].to_numpy() + 0.5
    )
    summary = summarize(table, "a", warmup_episodes=1)
    text = format_table(summary, ["m"], "a", 3, 1)
    assert "+0.5 [+0.5, +0.5] *" in text
