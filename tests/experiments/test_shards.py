"""Runs split by users (``onefeed run --shards N``) write the files of a run in one process.

The engine pieces (:mod:`sim.shards`) are checked in-process on a tiny world for several
policies; the run loop with real worker processes (``--backend local``) and with Ray
tasks (``--backend ray``, skipped without the extra) on a tiny scenario; bad options
give one line and exit 2; a sharded ``--resume`` continues an unsharded run exactly.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from experiments.cli import main
from experiments.errors import UserError
from experiments.runner.run import Sharding, resume_run, run_scenario
from experiments.scenario import load_scenario
from policies import make_policy
from sim.config import WorldConfig
from sim.shards import absorb_shards, merge_events, partition_users, simulate_shard
from sim.world import build_world

# New items mid-episode, suggestions, search, conformity and the repeat penalty: every
# path by which one user's episode reaches the driver's world.
WORLD = {
    "catalog": {
        "n_items": 200,
        "n_topics": 6,
        "words_per_topic": 10,
        "generic_vocab_size": 8,
        "new_items_rate_per_day": 40,
        "release_interval_hours": 4,
    },
    "users": {"n_users": 40},
    "episode_length_days": 0.5,
    "choice": {"conformity_weight": 0.3, "repeat_penalty": 1.0},
    "suggestions": {"n_suggestions": 3},
    "serving": {"batch_window_s": 20.0, "max_batch_size": 7},
}

SCENARIO = """\
id: shards-v1
description: sharded run test
seed: 4
episodes: 3
policy:
  name: epsilon-greedy
  params: {epsilon: 0.2}
world:
  episode_length_days: 0.5
  catalog: {n_items: 200, n_topics: 6, new_items_rate_per_day: 30}
  users: {n_users: 30}
  suggestions: {n_suggestions: 2}
output:
  plots: false
"""


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _episodes(policy: str, shards: int, episodes: int = 2, **params) -> list[pa.Table]:
    """Each episode's events, simulated whole or in ``shards`` pickled copies of the world."""
    world = build_world(WorldConfig.model_validate(WORLD), 3, make_policy(policy, **params))
    out = []
    for episode in range(episodes):
        if shards == 1:
            result = world.run_episode(episode)
        else:
            data = pickle.dumps(world)
            parts = [
                simulate_shard(pickle.loads(data), episode, users)
                for users in partition_users(world.n_users, shards)
            ]
            world.simulate(episode, users=np.zeros(0, dtype=np.int64))
            result = absorb_shards(world, episode, parts)
        out.append(result.events)
        world.policy.update(result.events.to_pandas())
    return out


@pytest.mark.parametrize(
    ("policy", "params"),
    [
        ("popularity", {}),
        ("epsilon-greedy", {"epsilon": 0.3}),
        ("mf", {}),
        ("onefeed", {"fit_epochs": 1, "min_fit_clicks": 20, "list_len": 40}),
    ],
)
def test_sharded_episodes_equal_one_process(policy, params):
    whole = _episodes(policy, 1, **params)
    assert sum(e.num_rows for e in whole) > 500
    assert len(set(whole[1].column("event").to_pylist())) >= 6  # feed, search, suggestions
    for shards in (2, 3):
        for a, b in zip(whole, _episodes(policy, shards, **params), strict=True):
            assert _ipc(a) == _ipc(b)  # byte for byte, dictionaries included


def test_partition_and_merge_edge_cases():
    parts = partition_users(5, 3)
    assert [p.tolist() for p in parts] == [[0, 1], [2, 3], [4]]
    assert [p.size for p in partition_users(2, 4)] == [1, 1, 0, 0]  # empty slices allowed
    with pytest.raises(ValueError, match="shards must be >= 1"):
        partition_users(3, 0)
    world = build_world(WorldConfig.model_validate(WORLD), 3, make_policy("popularity"))
    data = pickle.dumps(world)
    parts = [simulate_shard(pickle.loads(data), 0, u) for u in partition_users(40, 2)]
    # A slice missing means a user would be lost: refused.
    world.simulate(0, users=np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match="cover every user exactly once"):
        absorb_shards(world, 0, parts[:1])
    # The merge does not depend on the order the shards come back in (byte for byte:
    # Arrow's equals() treats the NaN dwell times of non-clicks as unequal).
    assert _ipc(merge_events(parts)) == _ipc(merge_events(parts[::-1]))


def _run(tmp_path: Path, name: str, **options) -> Path:
    path = tmp_path / "shards.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / name
    run_scenario(load_scenario(str(path)), out, show_progress=False, **options)
    return out


def _same_run(a: Path, b: Path) -> None:
    files = sorted(p.name for p in (a / "events.parquet").iterdir())
    assert len(files) == 3 and files == sorted(p.name for p in (b / "events.parquet").iterdir())
    for name in files:
        pd.testing.assert_frame_equal(
            pd.read_parquet(a / "events.parquet" / name),
            pd.read_parquet(b / "events.parquet" / name),
        )
    pd.testing.assert_frame_equal(
        pd.read_parquet(a / "metrics.parquet"), pd.read_parquet(b / "metrics.parquet")
    )


def test_sharded_run_on_local_processes_equals_one_process(tmp_path):
    whole = _run(tmp_path, "whole")
    sharded = _run(tmp_path, "sharded", shards=2, backend="local")
    _same_run(whole, sharded)
    import json

    episodes = json.loads((sharded / "manifest.json").read_text())["episodes"]
    assert [(e["shards"], e["backend"]) for e in episodes] == [(2, "local")] * 3


def test_sharded_resume_continues_an_unsharded_run(tmp_path, monkeypatch):
    whole = _run(tmp_path, "whole")
    import sim.world

    real = sim.world.World.run_episode

    def stop_in_episode_2(self, episode, progress=None):
        if episode == 2:
            raise KeyboardInterrupt
        return real(self, episode, progress)

    monkeypatch.setattr(sim.world.World, "run_episode", stop_in_episode_2)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "stopped")
    monkeypatch.setattr(sim.world.World, "run_episode", real)
    resume_run(tmp_path / "stopped", show_progress=False, shards=2)
    _same_run(whole, tmp_path / "stopped")


def test_sharding_options_are_checked_before_anything_runs():
    assert Sharding().start() is None
    for shards, backend, address, message in [
        (0, "local", None, "--shards: 0: must be at least 1"),
        (-2, "local", None, "--shards: -2: must be at least 1"),
        (1, "ray", None, "--backend / --address: only with --shards 2 or more"),
        (1, "local", "auto", "--backend / --address: only with --shards 2 or more"),
        (2, "local", "auto", "--address: only with --backend ray"),
    ]:
        with pytest.raises(UserError) as caught:
            Sharding(shards, backend, address).start()
        assert str(caught.value) == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shards", "0"], "--shards: 0: must be at least 1"),
        (["--shards", "two"], "--shards: 'two' is not a valid integer (see: onefeed run --help)"),
        (["--shards", "2", "--backend", "spark"], None),
        (
            ["--shards", "1", "--backend", "ray"],
            "--backend / --address: only with --shards 2 or more",
        ),
    ],
)
def test_bad_shard_options_on_the_command_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "shards.yaml"
    path.write_text(SCENARIO)
    result = CliRunner().invoke(main, ["run", str(path), *args], prog_name="onefeed")
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    if message is None:
        assert lines[0].startswith("--backend: 'spark' is not one of")
    else:
        assert lines[0] == message
    assert not (tmp_path / "runs").exists()  # nothing written


def test_sharded_run_on_ray_equals_one_process(tmp_path):
    ray_module = pytest.importorskip(
        "ray", reason="the ray extra is not installed (pip install -e '.[ray]')"
    )
    whole = _run(tmp_path, "whole")
    ray_module.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        sharded = _run(tmp_path, "ray", shards=2, backend="ray")
    finally:
        ray_module.shutdown()
    _same_run(whole, sharded)
