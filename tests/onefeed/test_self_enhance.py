from __future__ import annotations

import numpy as np

from onefeed import FeedbackLog, OneFeedModel, UserFeedback
from onefeed.self_enhance import FeedbackWeights, feedback_examples

from .conftest import make_catalogue, make_sequences, tiny_config


def _log() -> FeedbackLog:
    return FeedbackLog(
        [
            UserFeedback(
                history=np.array([1, 2]),
                shown_items=np.array([5, 6, 7, 8]),
                clicked=np.array([True, False, False, True]),
                long_dwell=np.array([False, False, False, True]),
                skipped=np.array([False, True, False, False]),
                shown_queries=np.array([[3, 4, -1, -1], [5, -1, -1, -1], [6, 7, -1, -1]]),
                query_clicked=np.array([True, True, False]),
                query_result_clicks=[(0, 9)],
            )
        ]
    )


def test_feedback_weighting() -> None:
    iq = np.arange(40 * 4).reshape(40, 4) % 11
    fw = FeedbackWeights()
    ex = feedback_examples(_log(), max_len=5, item_query=iq, fw=fw)
    # 4 shown items + 1 query-reached click + 2 queries without result clicks
    assert len(ex) == 7
    assert ex.targets[:5].tolist() == [5, 6, 7, 8, 9]
    assert ex.weights[:5].tolist() == [fw.click, fw.skip, fw.ignore, fw.long_dwell, fw.query_item]
    assert ex.negative[:5].tolist() == [False, True, True, False, False]
    # clicked items learn their canonical query; query-reached item learns its query
    assert (ex.queries[0] == iq[5]).all()
    assert ex.queries[4].tolist() == [3, 4, -1, -1]
    # query 1 was clicked (positive, no result click), query 2 ignored (unlikelihood)
    assert ex.weights[5:].tolist() == [0.0, 0.0]
    assert ex.query_weights[5:].tolist() == [fw.query_click, fw.query_ignore]
    assert ex.query_negative[5:].tolist() == [False, True]
    assert ex.query_weights[1] == 0.0 and ex.query_weights[2] == 0.0
    # the context is the served history, right-aligned
    assert ex.items[0].tolist() == [-1, -1, -1, 1, 2]


def test_self_enhancement_round_warm_starts_and_moves_towards_clicks() -> None:
    texts, _ = make_catalogue(40)
    train = make_sequences(60, 40, seed=1)
    cfg = tiny_config(epochs=3, beam=40, blend_trans=0.0)
    m = OneFeedModel(cfg).fit(train, texts, seed=0)
    hist = np.array([0, 4])
    before = m.score_all([hist])[0]
    log = FeedbackLog(
        [
            UserFeedback(
                hist,
                np.array([33, 21]),
                np.array([True, False]),
                np.array([True, False]),
                np.array([False, True]),
            )
        ]
        * 20
    )
    p0 = {k: v.copy() for k, v in m.params.items()}
    losses = m.self_enhance(log, replay=None, epochs=3)
    assert losses
    after = m.score_all([hist])[0]
    assert after[33] - after[21] > before[33] - before[21]
    # warm start: parameters moved from, not re-initialised away from, the fitted ones
    moved = np.mean([np.abs(m.params[k] - p0[k]).mean() for k in p0])
    assert 0 < moved < 0.1
