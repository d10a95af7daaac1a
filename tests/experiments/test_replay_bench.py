"""Bench runner: tuning picks by validation, deterministic reuse, adapter extras."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from experiments.replay import bench
from experiments.replay.models import ModelSpec
from experiments.replay.protocol import ReplayDataset, TrainData
from experiments.replay.report import protocol_check, render_table, result_records
from experiments.replay.split import make_stage


class Oracle:
    """Scores the item after the last one highly when ``good``; counts fits per seed."""

    deterministic = False
    fits: ClassVar[list[tuple[str, int]]] = []

    def __init__(self, good: bool = True) -> None:
        self.good = good
        self.name = "oracle"

    def fit(self, data: TrainData, seed: int) -> None:
        Oracle.fits.append((data.stage, seed))
        self.n = data.dataset.n_items

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(histories), self.n), dtype=np.float32)
        for row, h in enumerate(histories):
            if len(h) and self.good:
                out[row, (h[-1] + 1) % self.n] = 1.0
        return out


def stages():
    seqs = [np.arange(s, s + 5) % 8 for s in range(8)]
    ds = ReplayDataset("tiny", 8, seqs)
    return {s: make_stage(ds, s) for s in ("valid", "test")}


def test_tuning_picks_best_validation_setting_and_runs_each_seed() -> None:
    Oracle.fits = []
    spec = ModelSpec("oracle", lambda p: Oracle(**p), [{"good": False}, {"good": True}], False)
    res = bench.run_model(spec, stages(), [0, 1], progress=False)
    assert res.params == [{"fit": {"good": True}, "score": {}}] * 2
    assert res.per_seed[0]["recall@5"] == 1.0 and res.valid == [1.0, 1.0]
    # per seed: two validation fits, then one refit on the test stage
    assert Oracle.fits == [
        ("valid", 0),
        ("valid", 0),
        ("test", 0),
        ("valid", 1),
        ("valid", 1),
        ("test", 1),
    ]
    assert [t["fit"] for t in res.tuning[0]] == [{"good": False}, {"good": True}]
    assert res.cpu_s >= 0 and len(res.outcomes) == 2


class Scaled(Oracle):
    """One fit, several score-time settings: ``shift`` moves the hit down the ranking."""

    def __init__(self, good: bool = True) -> None:
        super().__init__(good)
        self.shift = 0

    def score_grid(self) -> list[dict]:
        return [{"shift": 3}, {"shift": 0}, {"shift": 1}]

    def set_score_params(self, shift: int) -> None:
        self.shift = shift

    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(histories), self.n), dtype=np.float32)
        for row, h in enumerate(histories):
            # the right item gets 1; `shift` decoys (never the history) get 2
            out[row, (h[-1] + 1) % self.n] = 1.0
            decoys = [i for i in range(self.n) if i not in h and i != (h[-1] + 1) % self.n]
            out[row, decoys[: self.shift]] = 2.0
        return out


def test_score_settings_are_tuned_on_one_fit_and_recorded() -> None:
    Oracle.fits = []
    spec = ModelSpec("scaled", lambda p: Scaled(), [{}], False)
    res = bench.run_model(spec, stages(), [0], progress=False)
    assert Oracle.fits == [("valid", 0), ("test", 0)]  # one fit per stage
    assert res.params == [{"fit": {}, "score": {"shift": 0}}]
    tried = res.tuning[0]
    assert [t["score"] for t in tried] == [{"shift": 3}, {"shift": 0}, {"shift": 1}]
    # shift 1: the target lands at rank 1 → NDCG 1/log2(3); shift 3 → rank 3 → 1/log2(5)
    assert tried[2]["valid_ndcg@10"] == pytest.approx(1 / np.log2(3))
    assert tried[0]["valid_ndcg@10"] == pytest.approx(1 / np.log2(5))
    assert res.per_seed[0]["ndcg@10"] == 1.0


def test_deterministic_models_are_run_once() -> None:
    Oracle.fits = []
    spec = ModelSpec("oracle", lambda p: Oracle(), [{}], True)
    res = bench.run_model(spec, stages(), [0, 1, 2], progress=False)
    assert Oracle.fits == [("test", 0)]  # single setting: no validation pass
    assert len(res.per_seed) == 3 and res.std("ndcg@10") == 0.0


class Broken(Oracle):
    def score(self, histories: list[np.ndarray]) -> np.ndarray:
        raise ZeroDivisionError("boom")


def test_a_failing_model_fails_the_run_with_its_name() -> None:
    spec = ModelSpec("broken", lambda p: Broken(), [{}], False)
    with pytest.raises(bench.ModelFailed, match=r"'broken' failed on seed 3: ZeroDivisionError"):
        bench.run_model(spec, stages(), [3], progress=False)


class Reporting(Oracle):
    calls: ClassVar[list[tuple[str, int | None]]] = []

    def fit(self, data: TrainData, seed: int) -> None:
        super().fit(data, seed)
        self.stage = data.stage

    def test_reports(self, stage) -> dict:
        Reporting.calls.append(("test", None))
        return {"query_head": {"query_hit@10": 0.25, "users": len(stage.targets)}}

    def valid_reports(self, stages_, seed: int) -> dict:
        Reporting.calls.append((self.stage, seed))
        return {"self_enhancement": [{"round": 0}]}


def test_valid_reports_only_for_chosen_seeds_from_the_validation_model() -> None:
    """valid_reports force a validation pass and get that fitted model (no refit)."""
    Oracle.fits, Reporting.calls = [], []
    spec = ModelSpec("onefeed", lambda p: Reporting(), [{}], False)
    res = bench.run_model(spec, stages(), [0, 1, 2], progress=False, report_seeds=[1])
    assert ("valid", 1) in Reporting.calls and ("valid", 0) not in Reporting.calls
    assert Oracle.fits == [("test", 0), ("valid", 1), ("test", 1), ("test", 2)]
    assert res.valid[1] is not None and res.valid[0] is None
    recs = result_records("tiny", [res])
    extras = {e["seed"]: e for e in recs[0]["extras"]}
    assert extras[0]["query_head"] == {"query_hit@10": 0.25, "users": 8}
    assert extras[1]["self_enhancement"] == [{"round": 0}]
    assert set(extras[1]["timing"]) >= {"valid_s", "valid_reports_s", "test_s", "test_reports_s"}
    # default: the first seed only
    Reporting.calls.clear()
    bench.run_model(spec, stages(), [5, 6], progress=False)
    assert [c for c in Reporting.calls if c[0] == "valid"] == [("valid", 5)]


def test_needs_hand_the_chosen_settings_of_other_rows() -> None:
    seen: list[dict] = []

    def builder(chosen: dict, fit: dict) -> Oracle:
        seen.append(chosen)
        return Oracle()

    base = ModelSpec("oracle", lambda p: Oracle(**p), [{"good": False}, {"good": True}], True)
    dependent = ModelSpec("dep", lambda p: Oracle(), [{}], True, needs=("oracle",), builder=builder)
    first = bench.run_model(base, stages(), [0], progress=False)
    bench.run_model(dependent, stages(), [0], progress=False, chosen={"oracle": first})
    assert seen and seen[0] == {"oracle": {"fit": {"good": True}, "score": {}}}
    with pytest.raises(ValueError, match="needs the rows"):
        bench.run_model(dependent, stages(), [0], progress=False, chosen={})


def test_protocol_check_and_table() -> None:
    res = bench.ModelResult(
        "popularity-all",
        [0],
        [{"recall@5": 0.00796, "ndcg@5": 0.00443, "recall@10": 0.01516, "ndcg@10": 0.00676}],
        [{}],
        [None],
        1.0,
        2.0,
        100.0,
    )
    check = protocol_check("beauty", [res])
    # rounded to 4 decimals: 0.0080, 0.0044, 0.0152, 0.0068 — the published row exactly
    assert check["passed"]
    assert abs(check["relative_gap"]["ndcg@10"] - 0.00004 / 0.0068) < 1e-12
    table = render_table("beauty", [res])
    assert "TIGER" in table and "PASS" in table and "popularity-all" in table
    res.per_seed[0]["ndcg@10"] = 0.00686  # rounds to 0.0069: not the published row
    assert not protocol_check("beauty", [res])["passed"]
    assert protocol_check("ml-100k", [res]) is None


def test_render_extras_shows_query_head_and_curves() -> None:
    from experiments.replay.report import render_extras

    res = bench.ModelResult("onefeed", [0], [{}], [{}], [None])
    res.seed_time_s = [12.0]
    metrics = {"recall@5": 0.01, "ndcg@5": 0.01, "recall@10": 0.02, "ndcg@10": 0.015}
    res.extras["per_seed"] = [
        {
            "seed": 0,
            "query_head": {
                "query_hit@10": 0.1,
                "model_recall": 0.2,
                "merged_recall": 0.25,
                "expansion_gain": 0.05,
                "expansion_gain_ci95": [0.01, 0.09],
                "budget": 50,
                "examples": [{"last_item": "a", "query": "red rose", "target": "b", "hit": True}],
            },
            "self_enhancement": [
                {"round": 0, "feedback": metrics, "control": metrics, "time_s": 1},
                {
                    "round": 1,
                    "feedback": metrics,
                    "control": metrics,
                    "feedback_positives": 9,
                    "control_positives": 9,
                    "time_s": 2,
                },
            ],
            "timing": {"test_s": 10.0, "valid_s": 3.0},
        }
    ]
    for md in (False, True):
        text = render_extras([res], markdown=md, self_enhance_note="NOTE")
        assert "Query-Hit@10" in text and "0.0500" in text and "red rose" in text
        assert "control N@10" in text and "NOTE" in text and "10.0000" in text
        assert "recall@50" in text and "[0.0100, 0.0900]" in text


def test_mf_and_random_rows_are_tuned_seeded_and_recorded() -> None:
    from experiments.replay.baselines import ImplicitMF
    from experiments.replay.models import CLASSICAL_MODELS, get_model_spec

    assert {"mf", "random"} <= set(CLASSICAL_MODELS)
    mf = get_model_spec("mf")
    assert mf.grid == ImplicitMF.param_grid() and not mf.deterministic
    res = bench.run_model(mf, stages(), [0, 1], progress=False)
    assert res.seed_time_s[1] > 0  # seeded model: run again for the second seed
    records = result_records("tiny", [res])
    for seed_tried, chosen in zip(records[0]["tuning"], records[0]["params"], strict=True):
        assert [t["fit"] for t in seed_tried] == ImplicitMF.param_grid()
        assert all(0.0 <= t["valid_ndcg@10"] <= 1.0 for t in seed_tried)
        assert chosen["fit"] in ImplicitMF.param_grid()
        best = max(t["valid_ndcg@10"] for t in seed_tried)
        assert chosen["fit"] == next(t["fit"] for t in seed_tried if t["valid_ndcg@10"] == best)
    rnd = get_model_spec("random")
    assert rnd.grid == [{}] and not rnd.deterministic
    a = bench.run_model(rnd, stages(), [5, 5, 6], progress=False)
    assert a.tuning == [[], [], []]  # nothing to tune: no validation pass
    assert a.per_seed[0] == a.per_seed[1]  # the same seed gives the same row
