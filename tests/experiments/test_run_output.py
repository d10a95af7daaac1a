"""What a run tells a person: the printed summary, `onefeed list`, metric definitions and units."""

import math
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from experiments.cli.commands import main
from experiments.metrics import (
    available_metrics,
    axis_label,
    describe_metric,
    metric,
    metric_unit,
    readable_name,
)
from experiments.metrics.health import (
    HEALTH_DEFINITIONS,
    health_definition,
    health_markdown_table,
    health_metric_names,
)
from experiments.project_paths import PROJECT_ROOT
from experiments.reporting.run_summary import TERMINAL_WIDTH, format_run_summary, run_summary
from experiments.scenario import load_scenario
from tests.experiments.conftest import HAS_REAL_WORLD

METRICS_DOC = PROJECT_ROOT / "docs" / "metrics.md"
NAN = math.nan


# ----------------------------------------------------------------- definitions and units
def test_health_definitions_fill_in_levels_and_reject_other_names():
    entry = health_definition("health_sid_collapse_l2")
    assert entry is not None and entry.name == "health_sid_collapse_l2"
    assert entry.definition.startswith("Codebook collapse at SID level 2: ")
    assert "<k>" not in entry.definition and entry.unit == "[0, 1]"
    assert health_definition("health_sid_entropy_l13_bits").definition.startswith(
        "Entropy of the items' level-13 "
    )
    assert health_definition("health_sid_collision_rate").unit == "ratio"
    for unknown in ("health_sid_entropy_lx_bits", "sid_collapse_l0", "health_sid_collapse_l0x"):
        assert health_definition(unknown) is None
    # 2 levels: 2 per-level names for each of the two per-level entries, one name per
    # value for each <f> entry, one name for each other entry
    names = health_metric_names(2)
    per_value = [d for d in HEALTH_DEFINITIONS.values() if "<f>" in d.name]
    n_values = sum(len(d.values) for d in per_value)
    assert len(names) == 2 * 2 + n_values + len(HEALTH_DEFINITIONS) - 2 - len(per_value)
    ranker = health_definition("health_ranker_w_profile")
    assert ranker is not None and "feature profile " in ranker.definition
    assert health_definition("health_ranker_w_nonsense") is None
    assert {"health_sid_entropy_l1_bits", "health_sid_collapse_l0"} <= set(names)
    assert "health_sid_collapse_l2" not in names


def test_units_and_labels():
    assert metric_unit("dwell_per_session_s") == "s"  # from the suffix
    assert metric_unit("return_gap_h") == "h"
    assert metric_unit("interest_drift_js_bits") == "bits, [0, 1]"
    assert axis_label("dwell_per_session_s") == "dwell per session (s)"
    assert axis_label("ctr") == "CTR (ratio)"
    assert axis_label("impression_gini") == "impression Gini [0, 1]"
    assert axis_label("health_sid_entropy_l0_bits") == "SID entropy, level 0 (bits)"
    assert axis_label("welfare_rel_oracle") == "welfare relative to oracle (ratio)"
    assert axis_label("unregistered_gap_h") == "unregistered gap (h)"  # suffix only
    assert axis_label("nothing_known") == "nothing known"
    # wrapped for small panels, the unit never split
    assert axis_label("health_sid_collapse_l0", 21) == "SID collapse, level 0\n[0, 1]"
    assert axis_label("health_sid_collapse_l0", 16) == "SID collapse,\nlevel 0 [0, 1]"
    assert readable_name("health_align_click_mrr_chance") == "align click MRR chance"
    assert describe_metric("welfare_rel_oracle").family == "feedback_loop"


def test_a_unit_contradicting_the_name_suffix_is_refused():
    with pytest.raises(ValueError, match="contradicts its suffix"):
        metric("made_up_dwell_s", "engagement", unit="ratio")
    assert "made_up_dwell_s" not in available_metrics()


def _doc_rows() -> dict[str, tuple[str, str]]:
    """``{name: (definition, unit)}`` of the metric tables of docs/metrics.md."""
    rows = {}
    for line in METRICS_DOC.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"\| `([a-z0-9_<>]+)` \| (.*) \| ([^|]*) \| [^|]* \|", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def test_docs_state_every_registered_metrics_unit_as_the_registry_does():
    rows = _doc_rows()
    for name in available_metrics():
        assert name in rows, f"{name} is not in docs/metrics.md"
        assert rows[name][1] == metric_unit(name), name


def test_docs_health_table_is_the_code_table():
    assert health_markdown_table() in METRICS_DOC.read_text(encoding="utf-8")
    documented = {n for n in _doc_rows() if n.startswith("health_")}
    assert documented == set(HEALTH_DEFINITIONS)


# ----------------------------------------------------------------- every health name
TINY_ONEFEED = """\
id: tiny-onefeed-v1
description: a tiny onefeed run that rebuilds its semantic IDs once
seed: 0
episodes: 5
policy:
  name: onefeed
  params:
    min_fit_clicks: 5
    fit_epochs: 1
    enhance_budget: 200
    replay_users: 20
    rebuild_sids_every: 3
world:
  episode_length_days: 1.0
  catalog: {n_items: 200, n_topics: 6, words_per_topic: 12, generic_vocab_size: 10}
  users: {n_users: 80}
output:
  plots: false
"""


@pytest.fixture(scope="module")
def onefeed_run(tmp_path_factory):
    if not HAS_REAL_WORLD:
        pytest.skip("sim.world is not available")
    from experiments.runner.run import run_scenario

    base = tmp_path_factory.mktemp("onefeed")
    path = base / "tiny.yaml"
    path.write_text(TINY_ONEFEED, encoding="utf-8")
    return run_scenario(load_scenario(str(path)), base / "run", show_progress=False)


def test_every_health_value_onefeed_reports_has_a_definition(onefeed_run):
    # fit (1), self-enhancement (2: first labels), rebuild (3: stability),
    # self-enhancement (4, 5: label shift) -> every value the tracker can report
    recorded = set(onefeed_run.metrics["metric"])
    health = {name for name in recorded if name.startswith("health_")}
    assert "health_sid_stability_ari" in health and "health_label_shift_js_bits" in health
    assert [n for n in health if health_definition(n) is None] == []
    assert health == set(health_metric_names(4))  # 3 quantiser levels + the collision code


def _listed_metrics(output: str) -> list[str]:
    section = output.split("metrics (", 1)[1]
    return re.findall(r"^    ([a-z][a-z0-9_]+)  ", section, flags=re.MULTILINE)


def test_onefeed_list_shows_every_metric_a_run_records(onefeed_run):
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output
    listed = _listed_metrics(result.stdout)
    assert len(listed) == len(set(listed))
    assert set(listed) == set(onefeed_run.metrics["metric"])
    assert f"metrics ({len(listed)}, as a run records them" in result.stdout
    for heading in ("Engagement", "Search", "Feedback loop", "Generative-model health"):
        assert f"\n  {heading}" in result.stdout
    assert "health_sid_collapse_l3" in result.stdout and "unit: [0, 1]" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


# ----------------------------------------------------------------- the printed summary
def _table(rows):
    return pd.DataFrame(rows, columns=["episode", "metric", "value"])


TABLE = _table(
    [
        *[(e, "ctr", v) for e, v in enumerate([0.1, 0.2, 0.6])],
        *[(e, "dwell_per_session_s", v) for e, v in enumerate([10.0, 20.0, NAN])],
        *[(e, "health_sid_collapse_l0", v) for e, v in enumerate([NAN, 0.5, 0.5])],
        *[(e, "welfare", v) for e, v in enumerate([1.0, 1.0, 1.0])],
    ]
)


def test_run_summary_means_last_values_and_constants():
    summary = run_summary(TABLE).set_index("metric")
    # by family: engagement (ctr, dwell), feedback loop (welfare), health
    assert list(summary.index) == [
        "ctr",
        "dwell_per_session_s",
        "welfare",
        "health_sid_collapse_l0",
    ]
    assert summary.loc["ctr", "mean"] == pytest.approx(0.3)  # (0.1 + 0.2 + 0.6) / 3
    assert summary.loc["ctr", "last"] == pytest.approx(0.6)
    assert summary.loc["dwell_per_session_s", "mean"] == pytest.approx(15.0)  # NaN skipped
    assert math.isnan(summary.loc["dwell_per_session_s", "last"])
    assert summary.loc["dwell_per_session_s", "unit"] == "s"
    assert list(summary["constant"]) == [False, False, True, True]
    warm = run_summary(TABLE, warmup_episodes=1).set_index("metric")
    assert warm.loc["ctr", "mean"] == pytest.approx(0.4)  # (0.2 + 0.6) / 2


def test_format_run_summary_labels_columns_and_says_where_the_files_are(tmp_path):
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "ctr.png").write_bytes(b"png")
    for name in ("report.md", "report.html"):
        (tmp_path / name).write_text("x")
    text = format_run_summary(run_summary(TABLE), tmp_path, episodes=(0, 2))
    lines = text.splitlines()
    header = lines[0]
    assert "metric" in header and "mean (ep 0-2)" in header and "last (ep 2)" in header
    assert "unit" in header
    assert lines[1] == "Engagement" and "Generative-model health" in lines
    ctr = next(line for line in lines if line.startswith("  ctr "))
    assert ctr.split() == ["ctr", "0.3", "0.6", "ratio"]
    dwell = next(line for line in lines if line.startswith("  dwell_per_session_s"))
    assert dwell.split() == ["dwell_per_session_s", "15", "n/a", "s"]
    assert next(line for line in lines if "health_sid_collapse_l0" in line).endswith("constant")
    _assert_numbers_under_headings(lines)
    assert f"report:        {tmp_path / 'report.md'}" in text
    assert str(tmp_path / "report.html") in text
    assert f"plots:         {tmp_path / 'plots'}/ (1 PNG" in text
    assert "mean: over the 3 episodes" in text
    # within the width, but for the file paths, whose length is the user's
    assert max(len(line) for line in lines if str(tmp_path) not in line) <= TERMINAL_WIDTH
    bare = tmp_path / "bare"
    bare.mkdir()
    text = format_run_summary(run_summary(TABLE), bare, episodes=(0, 2))
    assert f"no report or plots (output.plots is off); draw them: onefeed plot {bare}" in text


def test_format_run_summary_names_the_warm_up(tmp_path):
    text = format_run_summary(run_summary(TABLE, 1), tmp_path, episodes=(1, 2), warmup_episodes=1)
    assert "mean (ep 1-2)" in text
    assert "mean: over the 2 episodes after the 1 warm-up episodes" in text


def _assert_numbers_under_headings(lines: list[str]) -> None:
    """Both numbers of every metric line end where their column heading ends."""
    header = lines[0]
    mean_end = header.index(")") + 1
    last_end = header.index(")", mean_end) + 1
    table = lines[: lines.index("")]  # the table ends at the first blank line
    metric_lines = [line for line in table[1:] if line.startswith("  ")]
    assert metric_lines
    for line in metric_lines:
        spans = [m.span() for m in re.finditer(r"\S+", line)]
        assert spans[1][1] == mean_end and spans[2][1] == last_end, line


def test_long_names_and_large_values_stay_aligned(tmp_path):
    rows = [(e, "echo_chamber_topic_assortativity", 0.1 * e) for e in range(4)]
    rows += [(e, "novelty_bits", 1000.0 + e) for e in range(4)]
    text = format_run_summary(run_summary(_table(rows)), Path(tmp_path), episodes=(0, 3))
    lines = text.splitlines()
    _assert_numbers_under_headings(lines)
    values = [line.split()[1:3] for line in lines if line.startswith("  ")][1:]
    assert values == [["0.15", "0.3"], ["1002", "1003"]]  # mean of 0, .1, .2, .3; last
