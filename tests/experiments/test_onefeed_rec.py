"""The OneFeed replay rows: contract, shared fits, ablations, queries, self-enhancement."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from experiments.replay import onefeed_rec
from experiments.replay.bench import evaluate_model, run_model
from experiments.replay.models import ModelSpec, available_models, get_model_spec
from experiments.replay.onefeed_queries import Bm25, query_metrics, retrieving_queries
from experiments.replay.onefeed_rec import ONEFEED_ROWS, OneFeedRecommender, scoring_grid
from experiments.replay.onefeed_reports import beam_recall
from experiments.replay.onefeed_self_enhance import offline_self_enhancement
from experiments.replay.protocol import Recommender, ReplayDataset
from experiments.replay.split import make_stage
from onefeed import RankSettings
from tests.onefeed.conftest import tiny_config

TINY = tiny_config(epochs=8, beam=15, query_rows=0)
WORDS = ["red rose lipstick", "blue ocean shampoo", "green tea cream", "gold musk perfume"]


def _dataset(n_items: int = 30, n_users: int = 50, text: bool = True) -> ReplayDataset:
    rng = np.random.default_rng(0)
    texts = [f"{WORDS[i % 4]} brand{i % 5} item{i}" for i in range(n_items)]
    seqs = []
    for _ in range(n_users):
        s = [int(rng.integers(n_items))]
        for _ in range(int(rng.integers(4, 9))):
            s.append((s[-1] + 4) % n_items if rng.random() < 0.85 else int(rng.integers(n_items)))
        seqs.append(np.array(s, dtype=np.int64))
    return ReplayDataset("tiny", n_items, seqs, texts if text else None)


def test_rows_are_registered_and_follow_the_contract() -> None:
    assert set(ONEFEED_ROWS) <= set(available_models())
    ds = _dataset()
    stage = make_stage(ds, "test")
    rec = OneFeedRecommender("onefeed", TINY)
    assert isinstance(rec, Recommender)
    rec.fit(stage.train, seed=0)
    rec.set_score_params(beam=10, budget=12, w_dense=1.0, w_sid=0.5, w_trans=0.3)
    sc = rec.score(stage.histories[:7])
    assert sc.shape == (7, ds.n_items) and sc.dtype == np.float32
    assert (np.isfinite(sc).sum(1) <= 12).all()  # the candidate budget
    for h, row in zip(stage.histories[:7], sc, strict=True):
        assert np.isneginf(row[h]).all()  # history excluded from the candidates
    again = OneFeedRecommender("onefeed", TINY)
    onefeed_rec._FITS = onefeed_rec._FitCache()  # a fresh fit, not the cached one
    again.fit(stage.train, seed=0)
    again.set_score_params(beam=10, budget=12, w_dense=1.0, w_sid=0.5, w_trans=0.3)
    assert np.array_equal(sc, again.score(stage.histories[:7]))  # deterministic for a seed
    ((m, _),) = evaluate_model(rec, stage, progress=False)
    assert m["recall@10"] > 0.3  # the tiny cyclic task is learnt


def test_score_settings_equal_setting_then_scoring() -> None:
    ds = _dataset()
    stage = make_stage(ds, "test")
    rec = OneFeedRecommender("onefeed", TINY)
    rec.fit(stage.train, seed=0)
    sid_alone = {"beam": 10, "budget": None, "w_dense": 0.0, "w_sid": 1.0, "w_trans": 0.0}
    grid = [*rec.score_grid()[:5], sid_alone]
    many = list(rec.score_settings(stage.histories, grid))
    for setting, got in zip(grid, many, strict=True):
        rec.set_score_params(**setting)
        np.testing.assert_array_equal(got, rec.score(stage.histories))


def test_rows_sharing_a_training_variant_share_one_fit() -> None:
    ds = _dataset()
    stage = make_stage(ds, "test")
    onefeed_rec._FITS = onefeed_rec._FitCache()
    full = OneFeedRecommender("onefeed", TINY)
    full.fit(stage.train, 0)
    dense = OneFeedRecommender("onefeed-dense", TINY)
    dense.fit(stage.train, 0)
    assert dense.model is full.model and dense.fit_reused and not full.fit_reused
    no_sid = OneFeedRecommender("onefeed-no-sid-loss", TINY)
    no_sid.fit(stage.train, 0)
    assert no_sid.model is not full.model and no_sid.model.config.sid_weight == 0.0
    other_seed = OneFeedRecommender("onefeed", TINY)
    other_seed.fit(stage.train, 1)
    assert other_seed.model is not full.model


def test_ablation_scoring_variants_do_what_they_say() -> None:
    assert scoring_grid("dense") == [RankSettings(0, None, 1.0, 0.0, 0.0)]
    assert all(s.w_sid == 0 and s.beam == 0 for s in scoring_grid("dense-trans"))
    assert all(s.w_trans == 0 for s in scoring_grid("no-trans"))
    (sid_only,) = scoring_grid("sid-only")
    assert (sid_only.w_dense, sid_only.w_trans, sid_only.budget) == (0.0, 0.0, sid_only.beam)
    ds = _dataset()
    stage = make_stage(ds, "test")
    rec = OneFeedRecommender("onefeed-sid-only", TINY)
    rec.fit(stage.train, 0)
    rec.set_score_params(beam=5, budget=5, w_dense=0.0, w_sid=1.0, w_trans=0.0)
    sc = rec.score(stage.histories[:4])
    assert (np.isfinite(sc).sum(1) == 5).all()  # exactly the beam
    # beam order: the SID log-probabilities of the beam items, best first
    feats = rec.features(stage.histories[:4], [rec.settings])
    for r in range(4):
        beam = feats.beams[5][r]
        np.testing.assert_allclose(sc[r, beam], feats.sid[r, beam])
        assert (np.diff(sc[r, beam]) <= 1e-6).all()


def test_rows_needing_text_are_not_applicable_without_it() -> None:
    no_text = _dataset(text=False)
    assert get_model_spec("onefeed-no-query").not_applicable(no_text)
    assert get_model_spec("onefeed").not_applicable(no_text) is None
    stage = make_stage(no_text, "test")
    rec = OneFeedRecommender("onefeed", TINY)
    rec.fit(stage.train, 0)  # no text: query head and alignment switched off, no crash
    assert rec.model.config.query_weight == 0.0 and rec.model.config.align_weight == 0.0
    reports = rec.test_reports(stage)
    assert "not_applicable" in reports["query_head"]


def test_retrieving_queries_retrieve_their_item() -> None:
    # 12 distinct items, every word in 3 or 4 of them: one word never singles an item out
    texts = [f"{c} {p}" for c in ("red", "blue", "green", "gold") for p in ("gloss", "wax", "oil")]
    queries = retrieving_queries(texts, k=1, min_items=2)
    bm25 = Bm25(texts)
    for item, q in enumerate(queries):
        assert q and set(q.split()) <= set(texts[item].split())
        assert bm25.search([q], 1)[0].tolist() == [item]
        assert len(q.split()) == 2  # both words are needed


def test_query_metrics_and_beam_recall() -> None:
    ds = _dataset()
    stage = make_stage(ds, "test")
    rec = OneFeedRecommender("onefeed", TINY)
    rec.fit(stage.train, 0)
    settings = RankSettings(10, 12, 1.0, 0.5, 0.3)
    q = query_metrics(
        rec.model, settings, stage.histories, stage.targets, list(ds.item_text), budget=10,
        n_query_items=3,
    )  # fmt: skip
    assert 0.0 <= q["query_hit@10"] <= 1.0
    assert q["expansion_gain"] == pytest.approx(q["merged_recall"] - q["model_recall"])
    lo, hi = q["expansion_gain_ci95"]
    assert lo <= q["expansion_gain"] <= hi
    assert len(q["examples"]) == 5 and all(1 <= len(e["query"].split()) <= 4 for e in q["examples"])
    r = beam_recall(rec.model, stage.histories, stage.targets, widths=(5, 30))
    # a beam as wide as the catalogue holds every non-history item: it misses exactly the
    # users whose target repeats a history item (excluded from generation)
    fresh = np.mean([t not in h for h, t in zip(stage.histories, stage.targets, strict=True)])
    assert r["beam_recall"]["@30"] == pytest.approx(fresh) == r["sid_exact_recall"]["@30"]
    assert r["beam_recall"]["@5"] <= 1.0 and r["sid_exact_recall"]["@5"] >= 0.0


def test_offline_self_enhancement_control_gets_as_many_positives() -> None:
    ds = _dataset()
    valid = make_stage(ds, "valid")
    rec = OneFeedRecommender("onefeed", tiny_config(epochs=3, beam=15, query_rows=0))
    rec.fit(valid.train, 0)
    before = {k: v.copy() for k, v in rec.model.params.items()}
    settings = RankSettings(10, 10, 1.0, 0.5, 0.3)
    rows = offline_self_enhancement(rec.model, settings, ds, seed=0, rounds=2, shown=5)
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert rows[0]["feedback"] == rows[0]["control"]
    for r in rows[1:]:
        assert r["feedback_positives"] == r["control_positives"] > 0
        assert r["feedback_positives"] == r["feedback_item_clicks"] + r["feedback_query_clicks"]
    for k, v in rec.model.params.items():  # copied, never modified
        assert np.array_equal(v, before[k])
    assert set(rows[2]["control"]) == {"recall@5", "ndcg@5", "recall@10", "ndcg@10"}
    with pytest.raises(ValueError):
        offline_self_enhancement(rec.model, settings, ds, replay_fraction=0)


def test_bench_runs_a_onefeed_row_with_its_extras() -> None:
    ds = _dataset()
    stages = {s: make_stage(ds, s) for s in ("valid", "test")}
    spec = get_model_spec("onefeed")
    small = ModelSpec(
        spec.name, lambda p: OneFeedRecommender("onefeed", tiny_config(epochs=3)), [{}], False
    )
    res = run_model(small, stages, [0], progress=False, report_seeds=[])
    assert res.valid[0] is not None and len(res.tuning[0]) == len(scoring_grid("full"))
    extras = res.extras["per_seed"][0]
    assert {"beam_recall", "shares", "query_head"} <= set(extras)


def test_retrained_ablations_rank_with_the_onefeed_rows_chosen_setting() -> None:
    ds = _dataset()
    stages = {s: make_stage(ds, s) for s in ("valid", "test")}
    chosen_score = RankSettings(10, None, 1.0, 0.5, 0.35)
    chosen = {"onefeed": {"fit": {}, "score": asdict(chosen_score)}}
    # no-query keeps the whole setting; no-sid-loss drops the SID term and the beam
    assert onefeed_rec.ablation_settings("onefeed-no-query", chosen_score) == chosen_score
    assert onefeed_rec.ablation_settings("onefeed-no-sid-loss", chosen_score) == RankSettings(
        0, None, 1.0, 0.0, 0.35
    )
    spec = get_model_spec("onefeed-no-sid-loss")
    assert spec.needs == ("onefeed",)
    built = spec.bind(chosen)({})
    assert isinstance(built, onefeed_rec.FixedRanking)
    assert built.train_overrides["sid_weight"] == 0.0  # the row's switch wins
    with pytest.raises(ValueError, match="ranks with"):
        built.set_score_params(**asdict(chosen_score))

    def tiny(p: dict) -> onefeed_rec.FixedRanking:
        return onefeed_rec.FixedRanking(
            "onefeed-no-sid-loss", RankSettings(0, None, 1.0, 0.0, 0.35), config=TINY
        )

    small = ModelSpec(spec.name, tiny, [{}], False)
    res = run_model(small, stages, [0], progress=False)  # the first seed would report
    # no validation pass at all: nothing tried, no validation score, only the test fit
    assert res.tuning == [[]] and res.valid == [None]
    extras = res.extras["per_seed"][0]
    assert set(extras["timing"]) == {"test_s", "test_reports_s"}
    assert extras["ranking"] == asdict(RankSettings(0, None, 1.0, 0.0, 0.35))
