"""Fixtures for application tests: tiny scenario files and a fake world."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import experiments.runner.run
from tests.experiments.fake_world import build_fake_world

HAS_REAL_WORLD = importlib.util.find_spec("sim.world") is not None

TINY_YAML = """\
# A tiny scenario for tests.
id: tiny-v1
description: tiny test scenario
seed: 3
episodes: 3
policy: popularity
world:
  catalog:
    n_items: 40
    n_topics: 4
  users:
    n_users: 12
  feed:
    slate_size: 5
output:
  plots: false
"""


@pytest.fixture
def tiny_yaml() -> str:
    return TINY_YAML


@pytest.fixture
def write_scenario(tmp_path: Path):
    """Write YAML text to ``tmp_path/<name>`` and return its path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def fake_world(monkeypatch):
    """Make ``run_scenario`` (and so ``onefeed run``) use the fake world."""
    monkeypatch.setattr(experiments.runner.run, "_default_build_world", lambda: build_fake_world)
    return build_fake_world
