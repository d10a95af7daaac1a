"""Checkpoint and resume: a run killed with SIGKILL mid-episode resumes exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.errors import UserError
from experiments.runner.checkpoint import CHECKPOINT_NAME
from experiments.runner.run import resume_run, run_scenario
from experiments.scenario import load_scenario

# epsilon-greedy draws from its own stream while serving and popularity re-ranks on new
# items: both must come back from the checkpoint exactly.
SCENARIO = """\
id: resume-v1
description: resume test
seed: 5
episodes: 4
policy:
  name: epsilon-greedy
  params: {{epsilon: 0.2}}
world:
  episode_length_days: {days}
  catalog: {{n_items: 300, n_topics: 6, new_items_rate_per_day: 30}}
  users: {{n_users: {n_users}}}
output:
  plots: false
"""


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from experiments.cli import main; main()", *args]


def _manifest(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def _same_outputs(a: Path, b: Path) -> None:
    files = sorted(p.name for p in (a / "events.parquet").iterdir())
    assert files == sorted(p.name for p in (b / "events.parquet").iterdir())
    assert len(files) == 4
    for name in files:
        ea = pd.read_parquet(a / "events.parquet" / name)
        eb = pd.read_parquet(b / "events.parquet" / name)
        pd.testing.assert_frame_equal(ea, eb)
    pd.testing.assert_frame_equal(pd.read_parquet(a / "metrics.parquet"),
                                  pd.read_parquet(b / "metrics.parquet"))  # fmt: skip


def test_sigkill_mid_episode_then_resume_equals_an_uninterrupted_run(tmp_path):
    path = tmp_path / "resume.yaml"
    path.write_text(SCENARIO.format(n_users=1500, days=0.5))
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    child = subprocess.Popen(
        _cli("run", str(path), "--out", str(killed), "--no-progress"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while (
            _manifest(killed).get("episodes_finished", 0) < 2
            or not (killed / CHECKPOINT_NAME).is_file()
        ):
            assert child.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.05)  # into episode 2 (the checkpoint is written just before it)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    manifest = _manifest(killed)
    assert manifest["status"] == "incomplete" and manifest["episodes_finished"] == 2, (
        "not killed during episode 2"
    )
    done = subprocess.run(_cli("run", "--resume", str(killed), "--no-progress"),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _manifest(killed)["status"] == "complete"
    assert not (killed / CHECKPOINT_NAME).exists()
    run_scenario(load_scenario(str(path)), whole, show_progress=False)
    _same_outputs(killed, whole)


def test_resume_in_process_after_an_interruption_and_refusals(tmp_path, monkeypatch):
    path = tmp_path / "resume.yaml"
    path.write_text(SCENARIO.format(n_users=60, days=1.0))
    scenario = load_scenario(str(path))
    stopped, whole = tmp_path / "stopped", tmp_path / "whole"
    import sim.world

    real = sim.world.World.run_episode

    def stop_in_episode_3(self, episode, progress=None):
        if episode == 3:
            raise KeyboardInterrupt
        return real(self, episode, progress)

    monkeypatch.setattr(sim.world.World, "run_episode", stop_in_episode_3)
    with pytest.raises(KeyboardInterrupt):
        run_scenario(scenario, stopped, show_progress=False)
    monkeypatch.setattr(sim.world.World, "run_episode", real)
    assert _manifest(stopped)["episodes_finished"] == 3
    resume_run(stopped, show_progress=False)
    run_scenario(scenario, whole, show_progress=False)
    _same_outputs(stopped, whole)
    with pytest.raises(UserError, match="already complete"):
        resume_run(stopped)
    with pytest.raises(UserError, match="not a run directory"):
        resume_run(tmp_path)
