"""End to end on the real world (sim.world) with a tiny scenario."""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from experiments.cli.commands import main
from experiments.metrics import compute_metrics
from experiments.metrics.tracker import iter_episode_contexts
from tests.experiments.conftest import HAS_REAL_WORLD

pytestmark = pytest.mark.skipif(not HAS_REAL_WORLD, reason="sim.world is not available")


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def run(runner, *args):
    return runner.invoke(main, ["run", *[str(a) for a in args]])


def test_same_seed_same_bytes_other_seed_differs(runner, write_scenario, tiny_yaml, tmp_path):
    path = write_scenario(tiny_yaml)
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        result = run(runner, path, "--seed", seed, "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
    for episode in range(3):
        name = f"events.parquet/episode-{episode:04d}.parquet"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    a = pd.read_parquet(tmp_path / "a" / "events.parquet")
    c = pd.read_parquet(tmp_path / "c" / "events.parquet")
    assert len(a) > 0 and not a.equals(c)


def test_run_directory_is_self_consistent(runner, write_scenario, tiny_yaml, tmp_path):
    out = tmp_path / "run"
    text = tiny_yaml.replace("plots: false", "plots: true")
    result = run(runner, write_scenario(text), "--out", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["episodes_finished"] == 3
    events = pd.read_parquet(out / "events.parquet")
    assert sorted(events["episode"].unique()) == [0, 1, 2]
    assert sum(e["n_events"] for e in manifest["episodes"]) == len(events)
    # metrics are pure functions of the result files: recompute them from disk
    # (the context -- truth snapshots, truth/catalog.npz, past episodes -- is rebuilt
    # from the files by iter_episode_contexts, exactly as the run built it)
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert (out / "truth" / "catalog.npz").is_file()
    for episode, episode_events, context in iter_episode_contexts(out):
        truth = np.load(out / "truth" / f"episode-{episode:04d}.npz")
        assert int(truth["episode"]) == episode
        assert len(episode_events) == (events["episode"] == episode).sum()
        expected = compute_metrics(episode_events, context)
        stored = metrics[metrics["episode"] == episode].set_index("metric")["value"]
        for name, value in expected.items():
            np.testing.assert_allclose(stored[name], value, equal_nan=True)
    assert (out / "plots" / "ctr.png").is_file()


def test_ctrl_c_in_episode_2_keeps_episodes_0_and_1(
    runner, write_scenario, tiny_yaml, tmp_path, monkeypatch
):
    import sim.world

    original = sim.world.World.run_episode

    def run_episode(self, episode, progress=None):
        if episode == 2:
            raise KeyboardInterrupt
        return original(self, episode, progress)

    monkeypatch.setattr(sim.world.World, "run_episode", run_episode)
    out = tmp_path / "run"
    result = run(runner, write_scenario(tiny_yaml), "--out", out)
    assert result.exit_code == 130
    assert "Traceback" not in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert manifest["episodes_finished"] == 2
    assert "KeyboardInterrupt" in manifest["reason"]
    assert sorted(pd.read_parquet(out / "events.parquet")["episode"].unique()) == [0, 1]
    assert not (out / "truth" / "episode-0002.npz").exists()


def test_oracle_runs_when_allowed_and_is_labelled(runner, write_scenario, tiny_yaml, tmp_path):
    text = tiny_yaml.replace("policy: popularity", "allow_ground_truth: true\npolicy: oracle")
    out = tmp_path / "run"
    result = run(runner, write_scenario(text), "--out", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["upper_bound"] is True


def test_every_result_file_is_readable_under_umask_022(runner, write_scenario, tiny_yaml, tmp_path):
    out = tmp_path / "run"
    text = tiny_yaml.replace("plots: false", "plots: true")
    old = os.umask(0o022)
    try:
        result = run(runner, write_scenario(text), "--out", out)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"manifest.json", "metrics.parquet", "catalog.npz"}
    modes = {str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes
