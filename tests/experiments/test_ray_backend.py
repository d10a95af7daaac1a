"""The Ray backend of ``onefeed compare``: same outputs as the local backend.

These tests start a local Ray (``ray.init(num_cpus=2)``); without the ``ray`` extra
they are skipped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.cli.compare import execute_compare
from experiments.errors import UserError
from experiments.runner.compare import plan_compare
from experiments.runner.ray_backend import pack_dir, unpack_dir
from experiments.scenario import load_scenario

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _events(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "events.parquet")


def test_compare_on_ray_equals_the_local_backend(tmp_path, local_ray, write_scenario, tiny_yaml):
    scenario = load_scenario(str(write_scenario(tiny_yaml)))
    policies, seeds = ["popularity", "random"], [0, 1]
    local = execute_compare(
        plan_compare(scenario, policies, seeds, tmp_path / "local"), jobs=1, show_progress=False
    )
    remote = execute_compare(
        plan_compare(scenario, policies, seeds, tmp_path / "ray"),
        show_progress=False,
        backend="ray",
    )
    assert [o.status for o in remote.outcomes] == ["complete"] * 4
    pd.testing.assert_frame_equal(local.per_run, remote.per_run)
    pd.testing.assert_frame_equal(local.summary, remote.summary)
    for outcome in remote.outcomes:
        name = Path(outcome.run_dir).name
        assert Path(outcome.run_dir).parent == tmp_path / "ray" / "runs"
        pd.testing.assert_frame_equal(
            _events(tmp_path / "local" / "runs" / name), _events(Path(outcome.run_dir))
        )
    # A second compare with the same --out reuses every run without sending it anywhere.
    again = execute_compare(
        plan_compare(scenario, policies, seeds, tmp_path / "ray"),
        show_progress=False,
        backend="ray",
    )
    assert [o.status for o in again.outcomes] == ["reused"] * 4


def test_pack_and_unpack_mirror_a_directory(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "x.bin").write_bytes(b"\x00\x01")
    (src / "m.json").write_text("{}")
    dst = tmp_path / "dst"
    (dst / "old").mkdir(parents=True)
    (dst / "old" / "stale.txt").write_text("gone")
    unpack_dir(pack_dir(src), dst)
    assert pack_dir(dst) == pack_dir(src) == {"a/x.bin": b"\x00\x01", "m.json": b"{}"}


def test_bad_address_is_one_clear_error(monkeypatch):
    from experiments.runner import ray_backend

    monkeypatch.setattr(ray, "is_initialized", lambda: False)

    def refuse(**kwargs):
        raise ConnectionError("no cluster")

    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(UserError, match=r"--address 10\.0\.0\.1:6379: cannot connect"):
        ray_backend.connect("10.0.0.1:6379")
