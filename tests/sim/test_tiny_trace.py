"""The whole event trace of a tiny world (3 users, 5 items, seed 11), asserted exactly.

If a deliberate behaviour change alters this trace, regenerate it and review the diff:
every row should still make sense (sessions open and close, a click follows its
impression, query events share a query_id).
"""

import math

import pytest

from policies.registry import make_policy
from sim.config import WorldConfig
from sim.world import build_world

from . import helpers  # noqa: F401  (registers the baselines)

nan = math.nan
TITLES = ("nile dito dito", "pefe duvo", "duvo dito", "tosa goza pefe", "dope dope")

CONFIG = {
    # A trace of world model v1 (a v1 world keeps it exactly).
    "model_version": 1,
    "catalog": {
        "n_items": 5,
        "n_topics": 2,
        "words_per_topic": 4,
        "generic_vocab_size": 3,
        "title_len_min": 2,
        "title_len_max": 3,
    },
    "users": {"n_users": 3, "search_propensity_a": 1.0, "search_propensity_b": 2.0},
    "sessions": {"max_pages": 2},
    "feed": {"slate_size": 3},
    "intent": {"results_k": 3, "cascade_depth": 3},
    "episode_length_days": 0.3,
    # The trace predates the repeat penalty (default 3.0) and pins re-consumption off.
    "choice": {"repeat_penalty": 0.0},
}

# (time_s, user_id, session_id, event, item_id, position, dwell_s, query_id, query, origin)
EXPECTED = [
    (1993.842, 1, 0, "session_start", -1, -1, nan, -1, None, "unknown"),
    (1993.842, 1, 0, "impression", 4, 0, nan, -1, None, "retrieval"),
    (1993.842, 1, 0, "impression", 2, 1, nan, -1, None, "retrieval"),
    (1993.842, 1, 0, "impression", 0, 2, nan, -1, None, "retrieval"),
    (1995.342, 1, 0, "skip", 4, 0, nan, -1, None, "retrieval"),
    (1996.842, 1, 0, "click", 2, 1, 50.672, -1, None, "retrieval"),
    (1998.342, 1, 0, "skip", 0, 2, nan, -1, None, "retrieval"),
    (2053.014, 1, 0, "query", -1, -1, nan, 0, "gize pure", "unknown"),
    (2053.014, 1, 0, "query_abandon", -1, -1, nan, 0, None, "unknown"),
    (2053.014, 1, 0, "session_end", -1, -1, nan, -1, None, "unknown"),
    (3562.001, 2, 1, "session_start", -1, -1, nan, -1, None, "unknown"),
    (3562.001, 2, 1, "impression", 4, 0, nan, -1, None, "retrieval"),
    (3562.001, 2, 1, "impression", 2, 1, nan, -1, None, "retrieval"),
    (3562.001, 2, 1, "impression", 0, 2, nan, -1, None, "retrieval"),
    (3563.501, 2, 1, "click", 4, 0, 57.539, -1, None, "retrieval"),
    (3566.501, 2, 1, "skip", 0, 2, nan, -1, None, "retrieval"),
    (3624.040, 2, 1, "session_end", -1, -1, nan, -1, None, "unknown"),
    (5787.078, 0, 2, "session_start", -1, -1, nan, -1, None, "unknown"),
    (5787.078, 0, 2, "impression", 4, 0, nan, -1, None, "retrieval"),
    (5787.078, 0, 2, "impression", 2, 1, nan, -1, None, "retrieval"),
    (5787.078, 0, 2, "impression", 0, 2, nan, -1, None, "retrieval"),
    (5788.578, 0, 2, "skip", 4, 0, nan, -1, None, "retrieval"),
    (5790.078, 0, 2, "click", 2, 1, 63.463, -1, None, "retrieval"),
    (5853.541, 0, 2, "impression", 3, 0, nan, -1, None, "retrieval"),
    (5853.541, 0, 2, "impression", 1, 1, nan, -1, None, "retrieval"),
    (5853.541, 0, 2, "impression", 4, 2, nan, -1, None, "retrieval"),
    (5855.041, 0, 2, "click", 3, 0, 35.410, -1, None, "retrieval"),
    (5890.451, 0, 2, "session_end", -1, -1, nan, -1, None, "unknown"),
    (10403.101, 2, 3, "session_start", -1, -1, nan, -1, None, "unknown"),
    (10403.101, 2, 3, "impression", 4, 0, nan, -1, None, "retrieval"),
    (10403.101, 2, 3, "impression", 2, 1, nan, -1, None, "retrieval"),
    (10403.101, 2, 3, "impression", 0, 2, nan, -1, None, "retrieval"),
    (10404.601, 2, 3, "click", 4, 0, 74.742, -1, None, "retrieval"),
    (10479.344, 2, 3, "impression", 3, 0, nan, -1, None, "retrieval"),
    (10479.344, 2, 3, "impression", 1, 1, nan, -1, None, "retrieval"),
    (10479.344, 2, 3, "impression", 4, 2, nan, -1, None, "retrieval"),
    (10480.844, 2, 3, "skip", 3, 0, nan, -1, None, "retrieval"),
    (10482.344, 2, 3, "click", 1, 1, 16.447, -1, None, "retrieval"),
    (10498.791, 2, 3, "session_end", -1, -1, nan, -1, None, "unknown"),
    (11772.222, 0, 4, "session_start", -1, -1, nan, -1, None, "unknown"),
    (11772.222, 0, 4, "impression", 4, 0, nan, -1, None, "retrieval"),
    (11772.222, 0, 4, "impression", 2, 1, nan, -1, None, "retrieval"),
    (11772.222, 0, 4, "impression", 0, 2, nan, -1, None, "retrieval"),
    (11773.722, 0, 4, "skip", 4, 0, nan, -1, None, "retrieval"),
    (11776.722, 0, 4, "skip", 0, 2, nan, -1, None, "retrieval"),
    (11780.722, 0, 4, "query", -1, -1, nan, 1, "pure dito", "unknown"),
    (11780.722, 0, 4, "search_impression", 0, 0, nan, 1, None, "search"),
    (11780.722, 0, 4, "search_impression", 2, 1, nan, 1, None, "search"),
    (11784.222, 0, 4, "query", -1, -1, nan, 2, "menu", "unknown"),
    (11788.222, 0, 4, "query", -1, -1, nan, 3, "dito menu", "unknown"),
    (11788.222, 0, 4, "search_impression", 0, 0, nan, 3, None, "search"),
    (11788.222, 0, 4, "search_impression", 2, 1, nan, 3, None, "search"),
    (11791.222, 0, 4, "search_click", 2, 1, 122.876, 3, None, "search"),
    (11914.098, 0, 4, "impression", 3, 0, nan, -1, None, "retrieval"),
    (11914.098, 0, 4, "impression", 1, 1, nan, -1, None, "retrieval"),
    (11914.098, 0, 4, "impression", 4, 2, nan, -1, None, "retrieval"),
    (11915.598, 0, 4, "click", 3, 0, 121.258, -1, None, "retrieval"),
    (11918.598, 0, 4, "skip", 4, 2, nan, -1, None, "retrieval"),
    (12039.856, 0, 4, "session_end", -1, -1, nan, -1, None, "unknown"),
    (17984.389, 0, 5, "session_start", -1, -1, nan, -1, None, "unknown"),
    (17984.389, 0, 5, "impression", 4, 0, nan, -1, None, "retrieval"),
    (17984.389, 0, 5, "impression", 2, 1, nan, -1, None, "retrieval"),
    (17984.389, 0, 5, "impression", 0, 2, nan, -1, None, "retrieval"),
    (17985.889, 0, 5, "click", 4, 0, 60.960, -1, None, "retrieval"),
    (17988.889, 0, 5, "skip", 0, 2, nan, -1, None, "retrieval"),
    (18049.848, 0, 5, "impression", 3, 0, nan, -1, None, "retrieval"),
    (18049.848, 0, 5, "impression", 1, 1, nan, -1, None, "retrieval"),
    (18049.848, 0, 5, "impression", 4, 2, nan, -1, None, "retrieval"),
    (18051.348, 0, 5, "skip", 3, 0, nan, -1, None, "retrieval"),
    (18054.348, 0, 5, "skip", 4, 2, nan, -1, None, "retrieval"),
    (18054.348, 0, 5, "session_end", -1, -1, nan, -1, None, "unknown"),
    (22740.885, 2, 6, "session_start", -1, -1, nan, -1, None, "unknown"),
    (22740.885, 2, 6, "impression", 4, 0, nan, -1, None, "retrieval"),
    (22740.885, 2, 6, "impression", 2, 1, nan, -1, None, "retrieval"),
    (22740.885, 2, 6, "impression", 0, 2, nan, -1, None, "retrieval"),
    (22742.385, 2, 6, "click", 4, 0, 39.799, -1, None, "retrieval"),
    (22782.184, 2, 6, "impression", 3, 0, nan, -1, None, "retrieval"),
    (22782.184, 2, 6, "impression", 1, 1, nan, -1, None, "retrieval"),
    (22782.184, 2, 6, "impression", 4, 2, nan, -1, None, "retrieval"),
    (22783.684, 2, 6, "skip", 3, 0, nan, -1, None, "retrieval"),
    (22783.684, 2, 6, "session_end", -1, -1, nan, -1, None, "unknown"),
    (24807.633, 2, 7, "session_start", -1, -1, nan, -1, None, "unknown"),
    (24807.633, 2, 7, "impression", 4, 0, nan, -1, None, "retrieval"),
    (24807.633, 2, 7, "impression", 2, 1, nan, -1, None, "retrieval"),
    (24807.633, 2, 7, "impression", 0, 2, nan, -1, None, "retrieval"),
    (24809.133, 2, 7, "click", 4, 0, 186.817, -1, None, "retrieval"),
    (24995.950, 2, 7, "session_end", -1, -1, nan, -1, None, "unknown"),
]


def test_tiny_world_trace_is_exact():
    world = build_world(WorldConfig.model_validate(CONFIG), 11, make_policy("popularity"))
    assert tuple(world.catalog_view().titles) == TITLES
    df = world.run_episode(0).events.to_pandas()
    assert len(df) == len(EXPECTED)
    for got, want in zip(df.itertuples(index=False), EXPECTED, strict=True):
        t, user, session, event, item, position, dwell, qid, query, origin = want
        assert got.time_s == pytest.approx(t, abs=1e-3)
        assert (got.user_id, got.session_id, got.event, got.item_id, got.position) == (
            user,
            session,
            event,
            item,
            position,
        )
        if math.isnan(dwell):
            assert math.isnan(got.dwell_s)
        else:
            assert got.dwell_s == pytest.approx(dwell, abs=1e-3)
        got_query = got.query if isinstance(got.query, str) else None
        assert (got.query_id, got_query, got.origin) == (qid, query, origin)
