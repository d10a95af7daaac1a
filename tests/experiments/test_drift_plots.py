import base64
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import experiments.reporting.compare_plots
import experiments.reporting.drift_plots
import experiments.reporting.run_plots
from experiments.cli.commands import main
from experiments.reporting.compare_report import collect_per_run
from experiments.reporting.drift_plots import heatmap_figure, lorenz_curve, pca_2d, topic_exposure
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


def _compare_directory(runs, compare):
    """A comparison directory (``runs/<policy>-seed3`` and ``per_run.parquet``) of ``runs``."""
    pairs = []
    for policy, run_dir in runs.items():
        target = compare / "runs" / f"{policy}-seed3"
        shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("plots", "report.*"))
        pairs.append((policy, 3, target))
    collect_per_run(pairs, list(runs)).to_parquet(compare / "per_run.parquet", index=False)
    return compare


def test_plot_a_compare_directory_from_files(runs, tmp_path):
    compare = _compare_directory(runs, tmp_path / "compare")
    result = CliRunner().invoke(main, ["plot", str(compare)])
    assert result.exit_code == 0, result.output
    assert (compare / "plots" / "compare_overview.png").is_file()
    _assert_report(compare, ["compare_overview.png", "lorenz.png", "feed_search_share.png"])
    md = (compare / "report.md").read_text(encoding="utf-8")
    assert "Comparison table" in md and "random" in md and "popularity" in md
    assert isinstance(pd.read_parquet(compare / "per_run.parquet"), pd.DataFrame)


def test_heatmap_ticks_are_integer_topics_and_episodes_at_cell_centres(runs):
    fig = heatmap_figure([("popularity", [runs["popularity"]])])
    ax = fig.axes[0]  # then the colour bar
    n_topics, n_episodes = topic_exposure(runs["popularity"]).shape  # 4 topics, 3 episodes
    # cell (episode e, topic k) spans [e - 0.5, e + 0.5] x [k - 0.5, k + 0.5]
    assert ax.get_ylim() == (-0.5, n_topics - 0.5) and ax.get_xlim() == (-0.5, n_episodes - 0.5)
    for ticks, (low, high) in ((ax.get_yticks(), ax.get_ylim()), (ax.get_xticks(), ax.get_xlim())):
        shown = [t for t in ticks if low <= t <= high]
        assert shown and all(float(t).is_integer() for t in shown), shown
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("episode", "latent topic")


@pytest.fixture
def saved_figures(monkeypatch):
    """Every figure the plot modules save: ``{file name: Figure}``."""
    figures = {}
    for module in (
        experiments.reporting.run_plots,
        experiments.reporting.compare_plots,
        experiments.reporting.drift_plots,
    ):
        real = module._save

        def spy(fig, target, real=real):
            figures[target.name] = fig
            return real(fig, target)

        monkeypatch.setattr(module, "_save", spy)
    return figures


def _assert_every_panel_is_labelled(figures):
    for name, fig in figures.items():
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                assert ax.get_ylabel(), f"{name}: colour bar without a label"
                continue
            assert ax.get_xlabel() and ax.get_ylabel(), f"{name}: {ax.get_title()!r} unlabelled"


def test_every_panel_of_a_run_and_a_comparison_is_labelled(runs, tmp_path, saved_figures):
    result = CliRunner().invoke(main, ["plot", str(runs["random"])])
    assert result.exit_code == 0, result.output
    names = {p.name for p in (runs["random"] / "plots").iterdir()}
    assert set(saved_figures) == names  # every PNG went through a checked figure
    assert {"overview.png", "topic_exposure.png", "lorenz.png"} <= names
    _assert_every_panel_is_labelled(saved_figures)
    saved_figures.clear()
    compare = _compare_directory(runs, tmp_path / "compare")
    result = CliRunner().invoke(main, ["plot", str(compare)])
    assert result.exit_code == 0, result.output
    assert "compare_overview.png" in saved_figures and "compare_ctr.png" in saved_figures
    _assert_every_panel_is_labelled(saved_figures)
