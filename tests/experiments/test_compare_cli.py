"""``onefeed compare`` end to end on the real world, and warm-start episodes."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import experiments.runner.run
import experiments.runner.run_dir as rundir_module
from experiments.cli.commands import main
from experiments.reporting.compare_report import PER_RUN_COLUMNS, SUMMARY_COLUMNS
from experiments.runner.run import run_scenario
from experiments.scenario import scenario_from_data
from experiments.scenario.marked_yaml import load_marked_yaml
from policies import make_policy
from tests.experiments.conftest import HAS_REAL_WORLD, TINY_YAML

pytestmark = pytest.mark.skipif(not HAS_REAL_WORLD, reason="sim.world is not available")

# A few metrics only: every compare draws its plots and report, a few figures per metric.
FEW_METRICS = TINY_YAML.replace(
    "  plots: false\n", "  plots: false\n  metrics: [ctr, search_share, impression_gini]\n"
)
TWO_EPISODES = FEW_METRICS.replace("episodes: 3", "episodes: 2")


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def compare(runner, *args):
    return runner.invoke(main, ["compare", *[str(a) for a in args]])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--policies", "random,nope"], "--policies: unknown policy 'nope'; known policies: "),
        (["--policies", "random", "--seeds", "3-1"], "--seeds: range '3-1' is reversed"),
        (["--policies", "random", "--seeds", "x"], "--seeds: cannot read 'x'"),
        (["--policies", "random,oracle"], "--policies: 'oracle' sees the simulator's ground"),
        (["--policies", "random", "--reference", "mf"], "--reference: 'mf' is not one of"),
        (["--policies", "random", "--metrics", "ctr,nope"], "--metrics: unknown metric 'nope'"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(runner, write_scenario, tmp_path, args, fragment):
    out = tmp_path / "out"
    result = compare(runner, write_scenario(TWO_EPISODES), *args, "--out", out)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(fragment) and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    assert not out.exists()  # checked before anything runs or is written


def test_compare_jobs_1_and_2_agree(runner, write_scenario, tmp_path, monkeypatch):
    path = write_scenario(TWO_EPISODES)
    args = ["--policies", "random,popularity", "--seeds", "0,1", "--no-progress"]
    one = compare(runner, path, *args, "--jobs", 1, "--out", tmp_path / "one")
    assert one.exit_code == 0, one.output
    two = compare(runner, path, *args, "--jobs", 2, "--out", tmp_path / "two")
    assert two.exit_code == 0, two.output
    a = pd.read_parquet(tmp_path / "one" / "per_run.parquet")
    b = pd.read_parquet(tmp_path / "two" / "per_run.parquet")
    assert list(a.columns) == PER_RUN_COLUMNS
    pd.testing.assert_frame_equal(a, b)
    assert list(a["policy"].unique()) == ["random", "popularity"]
    assert sorted(a["seed"].unique()) == [0, 1] and sorted(a["episode"].unique()) == [0, 1]
    summary = pd.read_parquet(tmp_path / "one" / "summary.parquet")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert summary.loc[summary["policy"] == "random", "diff"].isna().all()  # the reference
    assert summary.loc[summary["policy"] == "popularity", "diff"].notna().any()
    for name in (
        "summary.md",
        "compare.json",
        "plots/compare_ctr.png",
        "plots/compare_overview.png",
    ):
        assert (tmp_path / "one" / name).is_file()
    plan = json.loads((tmp_path / "one" / "compare.json").read_text())
    assert plan["status"] == "complete" and plan["reference"] == "random"
    for run in ("random-seed0", "popularity-seed1"):
        manifest = json.loads((tmp_path / "one" / "runs" / run / "manifest.json").read_text())
        assert manifest["status"] == "complete"
        assert (tmp_path / "one" / "runs" / run / "metrics.parquet").is_file()
    # the printed table: a row per policy, a Δ row against the reference
    assert "random (reference)" in one.output and "Δ vs random" in one.output
    # re-running into the same directory reuses the complete runs
    again = compare(runner, path, *args, "--jobs", 1, "--out", tmp_path / "one")
    assert again.exit_code == 0 and "4 reused" in again.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one" / "per_run.parquet"), a)
    # ... but not runs made by other code: a changed source redoes them.
    monkeypatch.setattr(rundir_module, "code_digest", lambda: "some-other-code")
    redone = compare(runner, path, *args, "--jobs", 1, "--out", tmp_path / "one")
    assert redone.exit_code == 0 and "reused" not in redone.output


def test_common_random_numbers_and_upper_bound_label(runner, write_scenario, tmp_path):
    text = TWO_EPISODES.replace("episodes: 2", "episodes: 1\nallow_ground_truth: true")
    out = tmp_path / "crn"
    result = compare(
        runner, write_scenario(text), "--policies", "oracle,random", "--seeds", "5",
        "--jobs", 1, "--out", out, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "oracle (upper bound)" in result.output and "random (reference)" in result.output
    assert "one seed only" in result.output
    assert "oracle (upper bound)" in (out / "summary.md").read_text()
    first = np.load(out / "runs" / "oracle-seed5" / "truth" / "initial.npz")
    second = np.load(out / "runs" / "random-seed5" / "truth" / "initial.npz")
    for name in ("interests", "satiation", "drift_endogenous", "drift_exogenous"):
        np.testing.assert_array_equal(first[name], second[name])
    # and the catalogue: same seed, different policy -> the same items
    from sim.world import build_world

    config = scenario_from_data(load_marked_yaml(text, "s.yaml")).world
    w1 = build_world(config, 5, make_policy("popularity"))
    w2 = build_world(config, 5, make_policy("random"))
    for name in ("topics", "quality", "created_s", "available", "title_words"):
        np.testing.assert_array_equal(getattr(w1.catalog, name), getattr(w2.catalog, name))
    assert w1.catalog_view().titles == w2.catalog_view().titles
    np.testing.assert_array_equal(w1.truth_snapshot().interests, w2.truth_snapshot().interests)


WARM_YAML = FEW_METRICS.replace(
    "policy: popularity", "policy: popularity\nwarmup:\n  episodes: 2\n  policy: random"
).replace("episodes: 3", "episodes: 4")


def test_warmup_serves_then_hands_over_with_past_logs(tmp_path, monkeypatch):
    calls: list[tuple[str, str, tuple[int, ...]]] = []
    real_make = experiments.runner.run.make_policy

    def spy_make(name, **params):
        policy = real_make(name, **params)
        recommend, update = policy.recommend, policy.update

        def spy_recommend(batch):
            calls.append(("recommend", name, (batch.episode,)))
            return recommend(batch)

        def spy_update(events):
            calls.append(("update", name, tuple(sorted(set(events["episode"].tolist())))))
            return update(events)

        policy.recommend, policy.update = spy_recommend, spy_update
        return policy

    monkeypatch.setattr(experiments.runner.run, "make_policy", spy_make)
    scenario = scenario_from_data(load_marked_yaml(WARM_YAML, "w.yaml"))
    result = run_scenario(scenario, tmp_path / "run", show_progress=False)
    served = {(who, ep[0]) for kind, who, ep in calls if kind == "recommend"}
    assert {e for who, e in served if who == "random"} == {0, 1}
    assert {e for who, e in served if who == "popularity"} == {2, 3}
    # popularity's first calls: update with episode 0's log, then 1's, then it serves 2
    mine = [(kind, ep) for kind, who, ep in calls if who == "popularity"]
    assert mine[:3] == [("update", (0,)), ("update", (1,)), ("recommend", (2,))]
    assert ("update", (2,)) in mine and ("update", (3,)) in mine
    # the log and the manifest tell the phases apart
    events = pd.read_parquet(tmp_path / "run" / "events.parquet")
    shown = events[events["event"].astype(str) == "impression"]
    origins = shown.groupby("episode")["origin"].agg(lambda s: set(s.astype(str)))
    assert origins[0] == origins[1] == {"exploration"}  # random's slates
    assert origins[2] == origins[3] == {"retrieval"}  # popularity's slates
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [e["phase"] for e in manifest["episodes"]] == ["warmup"] * 2 + ["measured"] * 2
    assert [e["policy"] for e in manifest["episodes"]] == ["random"] * 2 + ["popularity"] * 2
    assert "warm_start_s" in manifest["timings_s"]
    assert sorted(result.metrics["episode"].unique()) == [0, 1, 2, 3]


def test_compare_with_warmup_leaves_warmup_out(runner, write_scenario, tmp_path):
    out = tmp_path / "warm"
    result = compare(
        runner, write_scenario(WARM_YAML), "--policies", "popularity,mf", "--seeds", "0-1",
        "--jobs", 1, "--out", out, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 warm-up episodes are left out" in result.output
    per_run = pd.read_parquet(out / "per_run.parquet")
    summary = pd.read_parquet(out / "summary.parquet").set_index(["policy", "metric"])
    # warm-up episodes are identical across policies under one seed (same warm-up policy)
    warm = per_run[per_run["episode"] < 2].pivot_table(
        index=["seed", "episode", "metric"], columns="policy", values="value", dropna=False
    )
    np.testing.assert_array_equal(warm["popularity"], warm["mf"])
    measured = per_run[(per_run["episode"] >= 2) & (per_run["metric"] == "ctr")]
    expected = measured.groupby("policy")["value"].mean()  # equal episodes per seed
    assert summary.loc[("mf", "ctr"), "mean"] == pytest.approx(expected["mf"])
    assert json.loads((out / "compare.json").read_text())["warmup_episodes"] == 2
