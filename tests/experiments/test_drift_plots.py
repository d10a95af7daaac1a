import base64
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from experiments.cli.commands import main
from experiments.reporting.compare_report import collect_per_run
from experiments.reporting.drift_plots import lorenz_curve, pca_2d, topic_exposure
from tests.experiments.conftest import HAS_REAL_WORLD

TINY = """\
id: tiny-plots-v1
description: tiny scenario for the plot tests
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
  metrics: [ctr, welfare, interest_drift, homogenisation_jaccard]
"""


def test_lorenz_curve_hand_values():
    # counts [0, 0, 1, 1] (sorted), total 2: cumulative shares 0, 0, 0, 1/2, 1
    x, y = lorenz_curve(np.array([1, 0, 1, 0]))
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert y.tolist() == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_pca_2d_recovers_a_line():
    # points on the line y = 2x in 3-D: all variance on PC1
    t = np.arange(5.0)
    xy, ratio = pca_2d(np.stack([t, 2 * t, np.zeros(5)], axis=1))
    assert ratio[0] == pytest.approx(1.0)
    assert np.abs(xy[:, 1]).max() == pytest.approx(0.0, abs=1e-9)
    assert np.abs(np.diff(xy[:, 0])) == pytest.approx(np.full(4, np.sqrt(5.0)))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not HAS_REAL_WORLD:
        pytest.skip("sim.world is not available")
    base = tmp_path_factory.mktemp("plots")
    scenario = base / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    out = {}
    for policy in ("popularity", "random"):
        out[policy] = base / policy
        args = ["run", str(scenario), "--policy", policy, "--out", str(out[policy])]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    return out


def _assert_report(root, pngs):
    html = (root / "report.html").read_text(encoding="utf-8")
    md = (root / "report.md").read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == md.count("![")
    for name in pngs:
        assert f"(plots/{name})" in md
        encoded = base64.b64encode((root / "plots" / name).read_bytes()).decode("ascii")
        assert encoded in html


def test_plot_a_run_directory_from_files(runs):
    root = runs["popularity"]
    assert not (root / "plots").exists()
    result = CliRunner().invoke(main, ["plot", str(root)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in (root / "plots").iterdir()}
    expected = {"lorenz.png", "interest_trajectories.png", "topic_exposure.png"}
    assert expected | {"feed_search_share.png", "overview.png", "welfare.png"} <= names
    _assert_report(root, ["overview.png", *sorted(expected)])
    assert "Per-user breakdown" in (root / "report.md").read_text(encoding="utf-8")
    heat = topic_exposure(root)
    assert heat.shape == (4, 3) and np.allclose(heat.sum(axis=0), 1.0)


def test_plot_a_compare_directory_from_files(runs, tmp_path):
    compare = tmp_path / "compare"
    pairs = []
    for policy, run_dir in runs.items():
        target = compare / "runs" / f"{policy}-seed3"
        shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("plots", "report.*"))
        pairs.append((policy, 3, target))
    per_run = collect_per_run(pairs, list(runs))
    per_run.to_parquet(compare / "per_run.parquet", index=False)
    result = CliRunner().invoke(main, ["plot", str(compare)])
    assert result.exit_code == 0, result.output
    assert (compare / "plots" / "compare_overview.png").is_file()
    _assert_report(compare, ["compare_overview.png", "lorenz.png", "feed_search_share.png"])
    md = (compare / "report.md").read_text(encoding="utf-8")
    assert "Comparison table" in md and "random" in md and "popularity" in md
    assert isinstance(pd.read_parquet(compare / "per_run.parquet"), pd.DataFrame)
