"""Full Beauty bench (classical rows): the popularity-all protocol check (slow)."""

from __future__ import annotations

import pytest

from experiments.replay.bench import run_bench
from experiments.replay.data import load_beauty
from experiments.replay.models import CLASSICAL_MODELS
from experiments.replay.report import protocol_check
from tests.experiments.test_data_real import data_dir_or_skip


@pytest.mark.slow
def test_full_beauty_bench_protocol_check() -> None:
    ds = load_beauty(data_dir_or_skip("amazon-s3rec"), with_text=False)
    results = run_bench(ds, list(CLASSICAL_MODELS), [0], progress=False)
    check = protocol_check("beauty", results)
    assert check is not None and check["passed"], check
    by_name = {r.model: r for r in results}
    # the honest popularity baseline is below the leaky one (~10 % lower)
    assert by_name["popularity"].mean("recall@10") < by_name["popularity-all"].mean("recall@10")
    # classical baselines are strong on this file: well above popularity
    for name in ("transition", "cooc-knn", "ease"):
        assert by_name[name].mean("ndcg@10") > 3 * by_name["popularity-all"].mean("ndcg@10")
