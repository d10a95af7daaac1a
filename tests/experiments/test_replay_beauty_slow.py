"""Full Beauty bench (slow): the protocol check, and OneFeed against the best tuned baseline.

The bar is the best tuned classical row of the same run (SLIST, co-occurrence kNN, EASE,
transitions, their blend), not TIGER's published row: a OneFeed that were just the
transition baseline would fail it (transitions alone are the weakest of those rows).

Measured by the bench at c026444 (seed 0, the computation these tests repeat; see
docs/replay.md): ``onefeed`` N@10 0.0677, ``onefeed-dense-trans`` 0.0663 (onefeed minus it
+0.0014, paired 95% interval [+0.0003, +0.0024]), ``onefeed-dense`` 0.0594 (+0.0083
[+0.0068, +0.0097]). Run with ``pytest -m slow -n 0 tests/experiments/test_replay_beauty_slow.py``
(about 1 CPU-hour).
"""

from __future__ import annotations

import pytest

from experiments.replay.bench import run_bench
from experiments.replay.credit import paired_difference
from experiments.replay.data import load_beauty
from experiments.replay.models import CLASSICAL_MODELS
from experiments.replay.report import protocol_check
from tests.experiments.test_data_real import data_dir_or_skip

TUNED_BASELINES = ("transition", "cooc-knn", "ease", "slist", "blend")


@pytest.fixture(scope="module")
def beauty_results():
    ds = load_beauty(data_dir_or_skip("amazon-s3rec"))
    rows = [*CLASSICAL_MODELS, "onefeed", "onefeed-dense", "onefeed-dense-trans"]
    results = run_bench(ds, rows, [0], progress=False, report_seeds=[])
    return {r.model: r for r in results}


@pytest.mark.slow
def test_full_beauty_bench_protocol_check(beauty_results) -> None:
    check = protocol_check("beauty", list(beauty_results.values()))
    assert check is not None and check["passed"], check
    # the honest popularity baseline is below the leaky one (~10 % lower)
    pop, leaky = beauty_results["popularity"], beauty_results["popularity-all"]
    assert pop.mean("recall@10") < leaky.mean("recall@10")
    # classical baselines are strong on this file: well above popularity
    for name in TUNED_BASELINES:
        assert beauty_results[name].mean("ndcg@10") > 3 * leaky.mean("ndcg@10")
    # the tuned co-occurrence kNN and SLIST reach the published-protocol references
    # (DESIGN.md section 8: 0.0619 and 0.0621) within 5 %
    assert beauty_results["slist"].mean("ndcg@10") > 0.95 * 0.0621
    assert beauty_results["cooc-knn"].mean("ndcg@10") > 0.95 * 0.0619


@pytest.mark.slow
def test_beauty_onefeed_beats_the_best_tuned_baseline(beauty_results) -> None:
    best = max(TUNED_BASELINES, key=lambda n: beauty_results[n].mean("ndcg@10"))
    onefeed = beauty_results["onefeed"]
    assert onefeed.mean("ndcg@10") >= 0.066
    diff = paired_difference(onefeed, beauty_results[best])
    assert diff.mean > 0, (best, diff)
    # far above the transition baseline alone (a transition model in disguise would fail)
    assert onefeed.mean("ndcg@10") > 1.1 * beauty_results["transition"].mean("ndcg@10")


@pytest.mark.slow
def test_beauty_generative_parts_add_to_the_dense_head(beauty_results) -> None:
    onefeed = beauty_results["onefeed"]
    # the SID generator's share of the final ranking, on the same fitted model
    sid = paired_difference(onefeed, beauty_results["onefeed-dense-trans"])
    assert sid.low > 0, sid
    dense = paired_difference(onefeed, beauty_results["onefeed-dense"])
    assert dense.low > 0, dense
