"""The content-gap and narrowing analyses: hand-computed values on hand-made runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments.validation.__main__ import main
from experiments.validation.content_gap import content_gap_markdown, gap_table
from experiments.validation.narrowing import (
    RunTrajectory,
    entropy_nats,
    load_run,
    narrowing_markdown,
    narrowing_table,
    write_narrowing,
)


def _ctr(content, words, random, oracle) -> pd.DataFrame:
    return pd.DataFrame(
        {"content": content, "content-word-groups": words, "random": random, "oracle": oracle},
        index=pd.Index([0, 1], name="seed"),
    )


def test_gap_table_by_hand():
    per_version = {
        # seed 0: share 0.05 / 0.06 = 0.8333, lift (0.05 - 0.03) / (0.06 - 0.03) = 0.6667
        # seed 1: share 0.04 / 0.05 = 0.8, lift (0.04 - 0.02) / (0.05 - 0.02) = 0.6667
        "v1": _ctr([0.05, 0.04], [0.05, 0.04], [0.03, 0.02], [0.06, 0.05]),
        # seed 0: share 0.03 / 0.06 = 0.5, lift 0; seed 1: share 0.025 / 0.05 = 0.5, lift 1/6
        "v2": _ctr([0.03, 0.025], [0.04, 0.04], [0.03, 0.02], [0.06, 0.05]),
    }
    gaps = gap_table(per_version).set_index(["arm", "quantity"])
    share = gaps.loc[("content", "share")]
    assert share["v1"].mean == pytest.approx((0.05 / 0.06 + 0.8) / 2)
    assert share["v2"].mean == pytest.approx(0.5) and share["v2"].n == 2
    # v2 - v1 per seed: 0.5 - 0.8333 = -0.3333 and 0.5 - 0.8 = -0.3
    assert share["v2 - v1"].mean == pytest.approx((-1 / 3 - 0.3) / 2)
    lift = gaps.loc[("content", "lift share")]
    assert lift["v1"].mean == pytest.approx(2 / 3) and lift["v2"].mean == pytest.approx(1 / 12)
    text = content_gap_markdown(per_version, gap_table(per_version), "qs", 2)
    assert "| content | share | 0.817 [" in text and "| oracle | 0.055 [" in text


def _trajectory() -> RunTrajectory:
    # user 0 narrows from (0.5, 0.5) to (0.9, 0.1), user 1 stays at (0.5, 0.5),
    # user 2 broadens from (0.9, 0.1) to (0.6, 0.4); two episodes.
    interests = np.array(
        [
            [[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]],
            [[0.7, 0.3], [0.5, 0.5], [0.8, 0.2]],
            [[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]],
        ]
    )
    return RunTrajectory("p", 0, interests, clicks=np.array([9, 0, 3]))


def test_entropy_by_hand():
    # H(0.5, 0.5) = ln 2 = 0.6931; H(0.9, 0.1) = -(0.9 ln 0.9 + 0.1 ln 0.1) = 0.3251
    h = entropy_nats(np.array([[0.5, 0.5], [0.9, 0.1], [1.0, 0.0]]))
    assert h == pytest.approx([0.693147, 0.325083, 0.0], abs=1e-6)


def test_narrowing_table_by_hand():
    (row,) = narrowing_table([_trajectory()]).to_dict(orient="records")
    ln2, h91, h64 = 0.693147, 0.325083, 0.673012  # H(0.6, 0.4) = 0.6730
    assert row["entropy_initial"] == pytest.approx((ln2 + ln2 + h91) / 3, abs=1e-6)
    assert row["delta"] == pytest.approx(((h91 - ln2) + 0 + (h64 - h91)) / 3, abs=1e-6)
    assert row["share_narrowed"] == pytest.approx(1 / 3)  # only user 0
    assert row["share_narrowed_0.25"] == pytest.approx(1 / 3)  # user 0 fell by 0.368
    # dominant share: user 0 0.5 -> 0.9, user 1 0.5 -> 0.5, user 2 0.9 -> 0.6
    assert row["max_share_delta"] == pytest.approx((0.4 + 0 - 0.3) / 3)
    assert row["same_dominant_topic"] == pytest.approx(1.0)  # argmax 0 stays 0 (tie -> 0)
    # terciles of three users are the users themselves; by clicks: user 1 low, 2 mid, 0 high
    assert row["delta_by_clicks_high"] == pytest.approx(h91 - ln2, abs=1e-6)
    assert row["delta_by_clicks_low"] == pytest.approx(0.0)
    # windows of 30 episodes: one window over both episodes, equal to the change
    assert row["window_0_1"] == pytest.approx(row["delta"])
    assert row["entropy_ep1"] == pytest.approx(row["entropy_final"])
    # population-mean interest in topic 0: (0.5+0.5+0.9)/3 -> (0.9+0.5+0.6)/3, gain +0.0333
    assert row["top_gaining_topics"].startswith("0:+0.033")


def test_narrowing_markdown_has_a_column_per_policy():
    runs = [_trajectory(), RunTrajectory("q", 1, _trajectory().interests, np.zeros(3))]
    text = narrowing_markdown(narrowing_table(runs), "t")
    assert "| quantity | p (n=1) | q (n=1) |" in text
    assert "share of users whose entropy fell | 0.333 | 0.333 |" in text


def _write_run(root, policy: str, seed: int) -> None:
    run = root / "runs" / f"{policy}-seed{seed}"
    (run / "truth").mkdir(parents=True)
    manifest = {"policy": {"name": policy, "params": {}}, "seed": seed}
    (run / "manifest.json").write_text(json.dumps(manifest))
    interests = _trajectory().interests.astype(np.float32)
    np.savez(run / "truth" / "initial.npz", interests=interests[0])
    for e in range(2):
        np.savez(run / "truth" / f"episode-{e:04d}.npz", interests=interests[e + 1])
    events = pd.DataFrame(
        {"user_id": [0, 0, 2, 1], "event": ["click", "search_click", "impression", "skip"]}
    )
    (run / "events.parquet").mkdir()
    events.to_parquet(run / "events.parquet" / "episode-0000.parquet")


def test_load_run_and_write_narrowing(tmp_path):
    _write_run(tmp_path, "p", 0)
    _write_run(tmp_path, "p", 1)
    run = load_run(tmp_path / "runs" / "p-seed1")
    assert run.seed == 1 and run.interests.shape == (3, 3, 2)
    assert run.clicks.tolist() == [2, 0, 0]  # a feed and a search click of user 0
    path = write_narrowing(tmp_path)
    assert "| p (n=2) |" in path.read_text() and (tmp_path / "narrowing.parquet").exists()
    assert main(["narrowing", str(tmp_path)]) == 0


def test_narrowing_cli_needs_a_compare_dir(tmp_path, capsys):
    assert main(["narrowing", str(tmp_path)]) == 2
    assert "compare directory" in capsys.readouterr().err


def test_load_run_without_truth_says_so(tmp_path):
    run = tmp_path / "r"
    (run / "truth").mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"policy": {"name": "p"}, "seed": 0}))
    with pytest.raises(FileNotFoundError, match="truth_snapshots"):
        load_run(run)
