"""The compare report: metric families, intervention markers, and one compare → full report."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

import experiments.reporting.compare_plots
import experiments.reporting.drift_plots
import experiments.reporting.run_plots
from experiments.cli.commands import main
from experiments.metrics import available_metrics
from experiments.reporting.compare_report import (
    FAMILIES,
    OTHER_FAMILY,
    family_table,
    group_by_family,
    metric_family,
    summarize,
    summary_markdown,
)
from experiments.reporting.run_plots import (
    Marker,
    draw_markers,
    intervention_markers,
    markers_from_scenario,
)
from tests.experiments.conftest import HAS_REAL_WORLD

HEADINGS = (
    "Engagement",
    "Search",
    "Feedback loop",
    "Credit: candidate sources",
    "Generative-model health",
)


# ----------------------------------------------------------------- families
def test_every_registered_metric_has_a_family():
    unclassified = [m for m in available_metrics() if metric_family(m) == OTHER_FAMILY]
    assert unclassified == [], "map the module registering them in compare_report"
    assert metric_family("ctr") == "engagement"
    assert metric_family("search_share") == "search"
    assert metric_family("welfare") == "feedback_loop"
    assert metric_family("welfare_rel_oracle") == "feedback_loop"
    assert metric_family("health_codebook_entropy_l0") == "health"
    assert metric_family("ctr_source_sid_beam") == "credit"
    assert metric_family("not_a_metric") == OTHER_FAMILY
    assert list(FAMILIES.values()) == list(HEADINGS)


def test_group_by_family_keeps_empty_families_and_adds_other_last():
    groups = group_by_family(["welfare", "zzz", "ctr", "health_x", "clicks_per_session"])
    assert groups == [
        ("engagement", ["clicks_per_session", "ctr"]),
        ("search", []),
        ("feedback_loop", ["welfare"]),
        ("credit", []),
        ("health", ["health_x"]),
        (OTHER_FAMILY, ["zzz"]),
    ]
    assert [f for f, _ in group_by_family(["ctr"])] == list(FAMILIES)


def _per_run() -> pd.DataFrame:
    rows = []
    for p, policy in enumerate(("pop", "oracle")):
        for seed in (0, 1, 2):
            for metric in ("ctr", "welfare", "health_collision_rate"):
                rows.append((policy, seed, 0, metric, 0.1 * (seed + 1) + p))
    return pd.DataFrame(rows, columns=["policy", "seed", "episode", "metric", "value"])


def test_markdown_and_family_table_by_family_with_labels():
    summary = summarize(_per_run(), "pop")
    label = {"pop": "pop", "oracle": "oracle (upper bound)"}.get
    md = summary_markdown(summary, "t", "pop", 3, label=label)
    positions = [md.index(f"## {heading}\n") for heading in HEADINGS]
    assert positions == sorted(positions)
    search = md[md.index("## Search") : md.index("## Feedback loop")]
    assert "No values" in search  # an empty family still has its heading, and says why
    assert md.index("### `welfare`") > md.index("## Feedback loop")
    assert md.index("### `health_collision_rate`") > md.index("## Generative-model health")
    assert "| oracle (upper bound) | 1.2 | [0.952, 1.45] | +1 | [+1, +1] * |" in md
    table = family_table(summary, ["ctr"], "pop", label)
    assert list(table.columns) == [
        "metric", "policy", "mean", "95% CI", "Δ vs pop", "95% CI of Δ",
    ]  # fmt: skip
    assert table["policy"].tolist() == ["pop", "oracle (upper bound)"]
    assert table["Δ vs pop"].tolist() == ["(reference)", "+1"]


# ----------------------------------------------------------------- markers
def test_markers_read_from_manifests_and_drawn(tmp_path):
    scenario = {
        "interventions": [
            {"episode": 3, "kind": "catalog_shock", "n_new_items": 5},
            {"episode": 1, "kind": "interest_shock", "share": 0.2},
            {"episode": 3, "kind": "policy_swap", "policy": {"name": "random", "params": {}}},
        ]
    }
    expected = [Marker(1, "interest shock"), Marker(3, "catalogue shock + policy swap → random")]
    assert markers_from_scenario(scenario) == expected
    for name in ("a", "b"):  # two runs of one comparison: merged, not repeated
        (tmp_path / name).mkdir()
        manifest = {"scenario": scenario, "policy": {"name": name}}
        (tmp_path / name / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "c").mkdir()  # no manifest: no markers, no error
    assert intervention_markers([tmp_path / d for d in ("a", "b", "c")]) == expected
    assert markers_from_scenario({"interventions": []}) == []
    ax = Figure().add_subplot(1, 1, 1)
    assert draw_markers(ax, expected, last_episode=2) == [1]  # episode 3 not plotted
    assert [line.get_xdata()[0] for line in ax.lines] == [0.5]
    assert [t.get_text() for t in ax.texts] == [" e1: interest shock"]
    assert draw_markers(ax, expected) == [1, 3]


def test_run_plots_mark_the_run_manifest_interventions(tmp_path, marker_calls):
    scenario = {"interventions": [{"episode": 2, "kind": "interest_shock"}]}
    (tmp_path / "manifest.json").write_text(json.dumps({"scenario": scenario}))
    table = pd.DataFrame(
        [(e, m, float(e)) for e in range(3) for m in ("ctr", "welfare")],
        columns=["episode", "metric", "value"],
    )
    table.to_parquet(tmp_path / "metrics.parquet")
    paths = experiments.reporting.run_plots.plot_run(tmp_path)
    assert {p.name for p in paths} == {"ctr.png", "welfare.png", "overview.png"}
    assert marker_calls == [[2]] * 4  # two metric plots, two overview panels


# ----------------------------------------------------------------- compare → report
TINY_SHOCKS = """\
id: tiny-shocks-v1
description: tiny comparison with interventions
seed: 3
episodes: 3
policy: popularity
allow_ground_truth: true
world:
  catalog: {n_items: 40, n_topics: 4}
  users: {n_users: 12}
  feed: {slate_size: 5}
output:
  plots: false
  metrics: [ctr, search_share, impression_gini, welfare]
interventions:
  - {episode: 1, kind: interest_shock, share: 0.5, strength: 0.5}
  - {episode: 2, kind: catalog_shock, n_new_items: 5, topics: [1]}
"""

PER_EPISODE_PLOTS = {
    "compare_ctr.png",
    "compare_search_share.png",
    "compare_impression_gini.png",
    "compare_welfare.png",
    "compare_overview.png",
    "compare_family_engagement.png",
    "compare_family_search.png",
    "compare_family_feedback_loop.png",
    "topic_exposure.png",
    "feed_search_share.png",
}


@pytest.fixture
def marker_calls(monkeypatch):
    """Record the marker episodes every per-episode plot was given."""
    calls: list[list[int]] = []
    real = experiments.reporting.run_plots.draw_markers

    def spy(ax, markers, **kwargs):
        calls.append([m.episode for m in markers])
        return real(ax, markers, **kwargs)

    for module in (
        experiments.reporting.run_plots,
        experiments.reporting.compare_plots,
        experiments.reporting.drift_plots,
    ):
        monkeypatch.setattr(module, "draw_markers", spy)
    return calls


@pytest.mark.skipif(not HAS_REAL_WORLD, reason="sim.world is not available")
def test_compare_writes_the_full_report(tmp_path, monkeypatch, marker_calls):
    monkeypatch.chdir(tmp_path)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(TINY_SHOCKS, encoding="utf-8")
    out = tmp_path / "out"
    args = ["compare", str(scenario), "--policies", "popularity,oracle", "--seeds", "0-1"]
    result = CliRunner().invoke(main, [*args, "--jobs", "1", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    for name in ("compare.json", "per_run.parquet", "summary.parquet", "summary.md"):
        assert (out / name).is_file()
    plots = {p.name for p in (out / "plots").iterdir()}
    assert PER_EPISODE_PLOTS | {"lorenz.png", "interest_trajectories.png"} <= plots
    # every per-episode plot marked both interventions, one call per panel: 4 metric
    # plots, the overview (ctr, impression_gini), the family figures (1 + 1 + 2 panels),
    # the heatmap (one per policy) and the feed/search shares (two panels)
    assert len(marker_calls) == 4 + 2 + 4 + 2 + 2
    assert all(c == [1, 2] for c in marker_calls)
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    for heading in HEADINGS:
        assert f"### {heading}\n" in md and f"<h3>{heading}</h3>" in page
        assert f"## {heading}\n" in (out / "summary.md").read_text(encoding="utf-8")
    for text in (md, page, (out / "summary.md").read_text(encoding="utf-8"), result.output):
        assert "oracle (upper bound)" in text
    assert "episode 1: interest shock; episode 2: catalogue shock" in md
    assert "| ctr | popularity | " in md and "Δ vs popularity" in md
    for name in ("compare_overview.png", "compare_family_search.png", "lorenz.png"):
        assert f"(plots/{name})" in md
    assert page.count('src="data:image/png;base64,') == md.count("![")
    assert json.loads((out / "compare.json").read_text())["overview_metrics"]
    # `onefeed plot OUT` redraws the same report and plots from the files
    first = md
    (out / "report.md").unlink()
    redrawn = CliRunner().invoke(main, ["plot", str(out)])
    assert redrawn.exit_code == 0, redrawn.output
    assert (out / "report.md").read_text(encoding="utf-8") == first
    assert {p.name for p in (out / "plots").iterdir()} == plots
    assert np.isfinite(pd.read_parquet(out / "summary.parquet")["mean"]).any()
