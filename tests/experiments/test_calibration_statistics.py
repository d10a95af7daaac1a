"""The calibration report's statistics, records, figures and report section.

Every expected value is computed by hand in the comment next to it.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon

from experiments.calibration.figures import plot_calibration
from experiments.calibration.report_section import calibration_markdown
from experiments.calibration.statistics import (
    STATISTICS,
    CalibrationRecord,
    calibration_records,
    gini,
    item_popularity,
    js_divergence,
    ks_distance,
    lorenz_curve,
    lorenz_gap,
    repeat_consumption_rate,
    top_topic_shares,
    topic_share_divergence,
    topic_shares,
    user_activity,
    with_synthetic,
    write_calibration_json,
)
from experiments.metrics import common
from experiments.reporting.calibration_section import directory_calibration_blocks
from experiments.reporting.report import DirectoryInfo, write_report
from sim.config import CalibrationTolerances

# item 0 is topic 0, item 1 topic 1, item 2 half and half, item 3 topic 0
TOPICS = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])


def frame(users: list[int], items: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {"user": np.asarray(users, dtype=np.int64), "item": np.asarray(items, dtype=np.int64)}
    )


@pytest.fixture
def real() -> pd.DataFrame:
    # user 0: five consumptions (item 0 twice), user 1: six, user 2: two
    return frame(
        [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2],
        [0, 1, 0, 2, 3, 1, 1, 1, 1, 2, 2, 3, 0],
    )


@pytest.fixture
def sim() -> pd.DataFrame:
    return frame([0, 0, 0, 0, 0, 1, 1, 2], [0, 1, 2, 3, 0, 1, 3, 2])


# ------------------------------------------------------------------ popularity
def test_item_popularity_counts_every_item_including_zeros():
    assert item_popularity(frame([0, 0, 1], [0, 0, 2]), 4).tolist() == [2, 0, 1, 0]


def test_item_popularity_rejects_items_outside_the_catalogue():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        item_popularity(frame([0], [3]), 3)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([1, 1, 1, 1], 0.0),  # Σ(2i − n − 1) = 0
        ([0, 0, 0, 1], 0.75),  # (8 − 5)·1 / (4·1) = (n − 1)/n
        ([0, 0, 1, 1], 0.5),  # ((6 − 5) + (8 − 5)) / (4·2)
        ([3, 1, 2], 2 / 9),  # sorted 1, 2, 3: (−2·1 + 0·2 + 2·3) / (3·6)
    ],
)
def test_gini_of_known_counts(counts, expected):
    assert gini(np.array(counts)) == pytest.approx(expected, abs=1e-12)
    assert gini(np.array(counts)) == pytest.approx(common.gini(np.array(counts)), abs=1e-12)


def test_gini_of_nothing_is_nan():
    assert math.isnan(gini(np.zeros(3)))


def test_lorenz_curve_of_known_counts():
    x, y = lorenz_curve(np.array([2, 0, 1, 0]))  # sorted 0, 0, 1, 2 of total 3
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert y == pytest.approx([0.0, 0.0, 0.0, 1 / 3, 1.0])


def test_lorenz_curve_needs_consumption():
    with pytest.raises(ValueError, match="positive total"):
        lorenz_curve(np.zeros(4))


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([1, 1, 1, 1], [1, 1, 1, 1], 0.0),
        ([1, 1, 1, 1], [0, 0, 0, 1], 0.75),  # diagonal vs (0, 0, 0, 0, 1): gap at x = 3/4
        ([1, 3], [1, 1, 1, 1], 0.25),  # (0, 1/4, 1) vs the diagonal: gap at x = 1/2
        ([1, 1], [0, 0, 0, 1], 0.75),  # sizes differ: the diagonal vs the same curve
        # (0, 0, 1) at x = 0, 1/2, 1 vs (0, 0, 0, 1) at thirds: at x = 2/3 the first is
        # (2/3 − 1/2) / (1/2) = 1/3 and the second 0; elsewhere the gap is smaller
        ([0, 1], [0, 0, 1], 1 / 3),
    ],
)
def test_lorenz_gap_of_known_curves(a, b, expected):
    assert lorenz_gap(np.array(a), np.array(b)) == pytest.approx(expected, abs=1e-12)
    assert lorenz_gap(np.array(b), np.array(a)) == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------ users
def test_user_activity_is_raw_counts_per_active_user():
    # user 5: 3 rows, user 2: 1 row (order of first appearance)
    assert user_activity(frame([5, 5, 2, 5], [0, 1, 0, 2])).tolist() == [3.0, 1.0]


def test_ks_of_identical_samples_is_zero_and_of_disjoint_ones_is_one():
    sample = np.array([0.5, 1.0, 1.5, 1.0])
    assert ks_distance(sample, sample.copy()) == 0.0
    assert ks_distance(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    # ECDFs of {1, 2} and {2, 3}: gap 1/2 on [1, 2) and [2, 3)
    assert ks_distance(np.array([1.0, 2.0]), np.array([2.0, 3.0])) == 0.5
    assert math.isnan(ks_distance(np.array([]), sample))


def test_repeat_rate_counts_a_pair_only_for_the_same_user():
    # user 0 consumes item 5 twice (one repeat); user 1's item 5 is new to user 1
    log = frame([0, 0, 0, 1, 1], [5, 6, 5, 5, 7])
    assert repeat_consumption_rate(log) == pytest.approx(1 / 5)
    assert repeat_consumption_rate(frame([0, 1], [5, 6])) == 0.0


# ------------------------------------------------------------------ topics
def test_topic_shares_sum_item_topic_rows_over_consumptions():
    # items 0, 2, 3 → (1, 0) + (0.5, 0.5) + (1, 0) = (2.5, 0.5) over 3
    assert topic_shares(frame([0, 0, 1], [0, 2, 3]), TOPICS, 4) == pytest.approx([5 / 6, 1 / 6])


def test_js_divergence_of_known_distributions():
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    # m = (3/4, 1/4): KL(p‖m) = ½ log2(2/3) + ½ log2(2), KL(q‖m) = log2(4/3)
    expected = 0.5 * (0.5 * math.log2(2 / 3) + 0.5) + 0.5 * math.log2(4 / 3)
    assert js_divergence(p, q) == pytest.approx(expected, abs=1e-12)
    assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-12)
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert js_divergence(np.array([0.2, 0.3, 0.5]), np.array([0.2, 0.3, 0.5])) == 0.0
    # the distance scipy returns is the square root: 0.5579 bits^½ for 0.3113 bits
    assert jensenshannon(p, q, base=2) > js_divergence(p, q)


def test_topic_shares_matched_by_rank_ignore_the_labels():
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.2, 0.7])
    assert topic_share_divergence(p, q, match_by_rank=True) == 0.0
    assert topic_share_divergence(p, q, match_by_rank=False) > 0.3
    # by rank, a shorter vector is padded with zeros: (0.5, 0.5, 0) vs itself
    assert (
        topic_share_divergence(np.array([0.5, 0.5]), np.array([0, 0.5, 0.5]), match_by_rank=True)
        == 0.0
    )


def test_top_topic_share_with_two_topics():
    log = frame(
        [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2],
        [0, 0, 0, 1, 2, 1, 1, 1, 1, 2, 2, 0, 0, 0, 0],
    )
    # user 0: (3.5, 1.5) → 3.5/5 = 0.7; user 1: (1, 5) → 5/6; user 2 has only 4 rows
    assert top_topic_shares(log, TOPICS, 4, top_topics=1) == pytest.approx([0.7, 5 / 6])
    assert top_topic_shares(log, TOPICS, 4, top_topics=2) == pytest.approx([1.0, 1.0])


# ------------------------------------------------------------------ records
def test_record_order_and_names_follow_the_tolerances(real, sim):
    records = calibration_records(real, sim, TOPICS, 4, 1, CalibrationTolerances())
    assert [r.statistic for r in records] == list(STATISTICS)
    assert list(STATISTICS) == list(CalibrationTolerances.model_fields)


def test_records_of_a_log_against_itself_are_all_zero_and_within(real):
    records = calibration_records(real, real.copy(), TOPICS, 4, 1, CalibrationTolerances())
    assert [r.distance for r in records] == [0.0] * 6
    assert all(r.within for r in records)


def test_records_hold_the_hand_computed_values(real, sim):
    tolerances = CalibrationTolerances(repeat_consumption_rate=0.2)
    by_name = {r.statistic: r for r in calibration_records(real, sim, TOPICS, 4, 1, tolerances)}
    # real counts per item (3, 5, 3, 2), sorted 2, 3, 3, 5:
    # Gini (−3·2 − 1·3 + 1·3 + 3·5) / (4·13) = 9/52
    gini_rec = by_name["item_popularity_gini"]
    assert gini_rec.real == pytest.approx(9 / 52)
    # sim counts (2, 2, 2, 2) → 0
    assert gini_rec.simulated == pytest.approx(0.0)
    assert gini_rec.distance == pytest.approx(9 / 52)
    assert not gini_rec.within  # default tolerance 0.03
    # repeats: real user 0 item 0, user 1 item 1 ×3 and item 2 ×1 → 5/13; sim user 0 item 0 → 1/8
    repeat = by_name["repeat_consumption_rate"]
    assert (repeat.real, repeat.simulated) == (pytest.approx(5 / 13), pytest.approx(1 / 8))
    assert repeat.distance == pytest.approx(5 / 13 - 1 / 8)
    assert repeat.within is False  # 0.2596 > 0.2
    # mean activity 13/3 real, 8/3 simulated; the KS distance compares the raw counts
    activity = by_name["user_activity"]
    assert (activity.real, activity.simulated) == (pytest.approx(13 / 3), pytest.approx(8 / 3))
    assert activity.measure == "KS"
    assert by_name["topic_shares"].real is None
    assert by_name["topic_shares"].measure == "JS divergence (base 2)"


def test_within_is_distance_at_most_tolerance():
    def record(distance):
        return CalibrationRecord("x", distance, 0.1, "KS", None, None, "")

    assert record(0.1).within
    assert not record(0.1000001).within
    assert not record(float("nan")).within


def test_rank_matching_is_passed_through(sim):
    # shares (5/8, 3/8); the simulated world swaps the topic labels: (3/8, 5/8)
    swapped = TOPICS[:, ::-1].copy()
    kwargs = {"sim_item_topics": swapped}
    records = calibration_records(sim, sim, TOPICS, 4, 1, CalibrationTolerances(), **kwargs)
    p, q = np.array([5 / 8, 3 / 8]), np.array([3 / 8, 5 / 8])
    assert records[3].distance == pytest.approx(jensenshannon(p, q, base=2) ** 2)
    assert records[3].distance > 0.04
    ranked = calibration_records(
        sim, sim, TOPICS, 4, 1, CalibrationTolerances(), match_topics_by_rank=True, **kwargs
    )
    assert ranked[3].distance == 0.0
    assert ranked[3].measure == "JS divergence (base 2), topics matched by rank"


def test_calibration_json_is_a_list_of_records(tmp_path, real, sim):
    records = calibration_records(real, sim, TOPICS, 4, 1, CalibrationTolerances())
    records = with_synthetic(
        records, [CalibrationRecord("user_activity", 0.5, 0.1, "KS", None, None, "")]
    )
    paths = write_calibration_json(tmp_path / "calibration.json", records, {"dataset": "tiny"})
    assert paths == [tmp_path / "calibration.json", tmp_path / "calibration.meta.json"]
    rows = json.loads(paths[0].read_text())
    assert isinstance(rows, list) and len(rows) == 6
    for row in rows:
        assert list(row)[:4] == ["statistic", "distance", "tolerance", "within"]
        assert set(row) == {
            "statistic", "distance", "tolerance", "within", "measure",
            "real", "simulated", "summary", "synthetic_distance",
        }  # fmt: skip
    assert [r["synthetic_distance"] for r in rows] == [None, None, 0.5, None, None, None]
    assert rows[1]["real"] == pytest.approx(9 / 52)
    assert json.loads(paths[1].read_text()) == {"dataset": "tiny"}
    assert write_calibration_json(tmp_path / "c.json", records) == [tmp_path / "c.json"]


def test_undefined_values_are_written_as_null(tmp_path):
    record = CalibrationRecord("top_topic_share", float("nan"), 0.1, "KS", float("nan"), 0.5, "")
    (path,) = write_calibration_json(tmp_path / "calibration.json", [record])
    (row,) = json.loads(path.read_text())
    assert (row["distance"], row["real"], row["within"]) == (None, None, False)


# ------------------------------------------------------------------ figures and report
def test_figures_are_written(tmp_path, real, sim):
    synthetic = frame([0, 0, 1, 1, 1, 1, 1], [0, 1, 2, 2, 0, 1, 2])
    paths = plot_calibration(
        real,
        sim,
        TOPICS,
        4,
        1,
        tmp_path / "calibration",
        topic_names=["drama", "comedy"],
        synthetic=synthetic,
        synthetic_item_topics=np.array([[0.2, 0.8], [1.0, 0.0], [0.5, 0.5]]),
        synthetic_n_items=3,
    )
    assert [p.name for p in paths] == [
        "item_popularity_lorenz.png",
        "user_activity.png",
        "topic_shares.png",
        "top_topic_share.png",
    ]
    assert all(p.is_file() and p.read_bytes()[:4] == b"\x89PNG" for p in paths)
    assert sorted(p.name for p in (tmp_path / "calibration").iterdir()) == sorted(
        p.name for p in paths
    )  # no temporary file left behind


def test_markdown_section_has_the_table_and_the_links(tmp_path, real, sim):
    records = calibration_records(real, sim, TOPICS, 4, 1, CalibrationTolerances())
    figure = tmp_path / "calibration" / "item_popularity_lorenz.png"
    text = calibration_markdown(records, [figure], tmp_path)
    assert text.startswith("## Calibration against the real log\n")
    assert (
        "| statistic | measure | real | simulated | distance | tolerance | within | "
        "synthetic world distance |" in text
    )
    # Gini 9/52 = 0.1731 real, 0 simulated, distance 0.1731 > 0.03
    assert (
        "| item_popularity_gini | absolute difference | 0.1731 | 0 | 0.1731 | 0.03 | no | — |"
        in text
    )
    assert "![item_popularity_lorenz](calibration/item_popularity_lorenz.png)" in text


def test_run_report_includes_the_section_when_calibration_json_is_present(tmp_path, real, sim):
    table = pd.DataFrame({"episode": [0, 1], "metric": ["ctr", "ctr"], "value": [0.1, 0.2]})
    manifest = {"scenario": {"world": {"users": {"n_users": 3}}}, "episodes_finished": 0}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    info = DirectoryInfo(root=tmp_path, kind="run", title="Run", sources=[], table=table)
    write_report(info, [])
    assert "Calibration against the real log" not in (tmp_path / "report.md").read_text()
    assert directory_calibration_blocks(tmp_path) == []

    records = calibration_records(real, sim, TOPICS, 4, 1, CalibrationTolerances())
    write_calibration_json(tmp_path / "calibration.json", records)
    (figure,) = [
        p
        for p in plot_calibration(
            real, sim, TOPICS, 4, 1, tmp_path / "calibration", topic_names=["a", "b"]
        )
        if p.stem == "topic_shares"
    ]
    write_report(info, [])
    md = (tmp_path / "report.md").read_text()
    assert "## Calibration against the real log" in md
    assert "| repeat_consumption_rate | absolute difference |" in md
    assert "![topic_shares](calibration/topic_shares.png)" in md
    assert md.index("item_popularity_lorenz.png") < md.index("user_activity.png")
    html = (tmp_path / "report.html").read_text()
    assert "<h2>Calibration against the real log</h2>" in html and figure.is_file()


def test_a_malformed_calibration_json_gives_a_note(tmp_path):
    (tmp_path / "calibration.json").write_text('{"statistic": "x"}')
    blocks = directory_calibration_blocks(tmp_path)
    assert blocks[-1] == ("p", "calibration.json is not a list of records.")


def test_the_section_reads_dicts_with_missing_detail(tmp_path):
    row = {"statistic": "user_activity", "distance": 0.2, "tolerance": 0.1, "within": False}
    (tmp_path / "calibration.json").write_text(json.dumps([row]))
    blocks = dict(directory_calibration_blocks(tmp_path))
    assert blocks["table"].iloc[0].tolist() == ["user_activity", "—", "—", "—", 0.2, 0.1, "no", "—"]
    assert "img" not in blocks
