"""Bench runner: tuning picks by validation, deterministic reuse, adapter extras."""

from __future__ import annotations

import types
from typing import ClassVar

import numpy as np

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
    assert res.params == [{"good": True}, {"good": True}]
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


def test_deterministic_models_are_run_once() -> None:
    Oracle.fits = []
    spec = ModelSpec("oracle", lambda p: Oracle(), [{}], True)
    res = bench.run_model(spec, stages(), [0, 1, 2], progress=False)
    assert Oracle.fits == [("test", 0)]  # single setting: no validation pass
    assert len(res.per_seed) == 3 and res.std("ndcg@10") == 0.0


def test_adapter_extras_are_called_with_the_arguments_they_name() -> None:
    module = types.SimpleNamespace(
        query_metrics=lambda model, dataset, seed, k=10: {"query_hit@10": 0.5, "seed": seed},
        offline_self_enhancement=lambda model, needs_unknown: None,
    )
    spec = ModelSpec("onefeed", lambda p: Oracle(), [{}], True, module)
    res = bench.run_model(spec, stages(), [4], progress=False)
    recs = result_records("tiny", [res])
    assert recs[0]["query_head"] == [{"seed": 4, "value": {"query_hit@10": 0.5, "seed": 4}}]
    assert "needs_unknown" in recs[0]["self_enhancement"][0]["value"]["error"]


def test_protocol_check_and_table() -> None:
    res = bench.ModelResult(
        "popularity-all",
        [0],
        [{"recall@5": 0.008, "ndcg@5": 0.0044, "recall@10": 0.0150, "ndcg@10": 0.0070}],
        [{}],
        [None],
        1.0,
        100.0,
    )
    check = protocol_check("beauty", [res])
    # |0.0150 - 0.0152| / 0.0152 = 1.3 %, |0.0070 - 0.0068| / 0.0068 = 2.9 % → pass
    assert check["passed"]
    assert abs(check["relative_gap"]["ndcg@10"] - 0.0002 / 0.0068) < 1e-12
    table = render_table("beauty", [res])
    assert "TIGER" in table and "PASS" in table and "popularity-all" in table
    assert protocol_check("ml-100k", [res]) is None


def test_self_enhancement_only_for_chosen_seeds_from_the_validation_model() -> None:
    """Self-enhancement forces a validation pass and gets that fitted model (no refit)."""
    Oracle.fits = []
    calls: list[tuple[int, str]] = []

    def self_enhance(valid_model, seed):
        calls.append((seed, valid_model.stage))
        return [{"round": 0}]

    class Staged(Oracle):
        def fit(self, data: TrainData, seed: int) -> None:
            super().fit(data, seed)
            self.stage = data.stage

    module = types.SimpleNamespace(
        query_metrics=lambda model, seed: {"query_hit@10": 0.25},
        offline_self_enhancement=self_enhance,
    )
    spec = ModelSpec("onefeed", lambda p: Staged(), [{}], False, module)
    res = bench.run_model(spec, stages(), [0, 1, 2], progress=False, self_enhance_seeds=[1])
    assert calls == [(1, "valid")]
    assert Oracle.fits == [("test", 0), ("valid", 1), ("test", 1), ("test", 2)]
    assert res.valid[1] is not None and res.valid[0] is None
    recs = result_records("tiny", [res])
    assert [q["seed"] for q in recs[0]["query_head"]] == [0, 1, 2]
    assert recs[0]["self_enhancement"] == [{"seed": 1, "value": [{"round": 0}]}]
    timing = {t["seed"]: t["value"] for t in recs[0]["timing"]}
    assert set(timing[1]) >= {"valid_fit_eval_s", "self_enhancement_s", "test_fit_eval_s"}
    assert len(recs[0]["seed_time_s"]) == 3
    # default: the first seed only
    calls.clear()
    bench.run_model(spec, stages(), [5, 6], progress=False)
    assert calls == [(5, "valid")]


def test_render_extras_shows_query_head_and_rounds() -> None:
    from experiments.replay.report import render_extras

    res = bench.ModelResult("onefeed", [0], [{}], [{}], [None])
    res.seed_time_s = [12.0]
    metrics = {"R@5": 0.01, "N@5": 0.01, "R@10": 0.02, "N@10": 0.015}
    res.extras["per_seed"] = [
        {
            "seed": 0,
            "query_head": {
                "query_hit@10": 0.1,
                "sid_recall@50": 0.2,
                "merged_recall@50": 0.25,
                "expansion_gain": 0.05,
                "examples": [{"last_item": "a", "query": "red rose", "target": "b", "hit": True}],
            },
            "self_enhancement": [
                {"round": 0, "feedback": metrics, "control": metrics, "clicks": 0, "time_s": 1},
                {"round": 1, "feedback": metrics, "control": metrics, "clicks": 9, "time_s": 2},
            ],
            "timing": {"test_fit_eval_s": 10.0},
        }
    ]
    for md in (False, True):
        text = render_extras([res], markdown=md, self_enhance_note="NOTE")
        assert "Query-Hit@10" in text and "0.0500" in text and "red rose" in text
        assert "control N@10" in text and "NOTE" in text and "12.0" in text
