"""The whole event trace of a tiny world (3 users, 5 items, seed 11), asserted exactly.

If a deliberate behaviour change alters this trace, regenerate it and review the diff:
every row should still make sense (sessions open and close, a click follows its
impression, query events share a query_id). Regenerated when users' behaviour draws
became per-(user, request) counter streams and session and query ids per user
(``user + n_users * k``): user 1's sessions are 1, 4, ...; its queries 1, 4, 7, 10.
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
    (1993.842, 1, 1, "session_start", -1, -1, nan, -1, None, "unknown"),
    (1993.842, 1, 1, "impression", 4, 0, nan, -1, None, "retrieval"),
    (1993.842, 1, 1, "impression", 2, 1, nan, -1, None, "retrieval"),
    (1993.842, 1, 1, "impression", 0, 2, nan, -1, None, "retrieval"),
    (1995.342, 1, 1, "click", 4, 0, 174.496, -1, None, "retrieval"),
    (1998.342, 1, 1, "skip", 0, 2, nan, -1, None, "retrieval"),
    (2174.838, 1, 1, "query", -1, -1, nan, 1, "menu", "unknown"),
    (2178.838, 1, 1, "query", -1, -1, nan, 4, "nile dito", "unknown"),
    (2178.838, 1, 1, "search_impression", 0, 0, nan, 4, None, "search"),
    (2178.838, 1, 1, "search_impression", 2, 1, nan, 4, None, "search"),
    (2180.338, 1, 1, "search_click", 0, 0, 33.573, 4, None, "search"),
    (2213.911, 1, 1, "impression", 3, 0, nan, -1, None, "retrieval"),
    (2213.911, 1, 1, "impression", 1, 1, nan, -1, None, "retrieval"),
    (2213.911, 1, 1, "impression", 4, 2, nan, -1, None, "retrieval"),
    (2215.411, 1, 1, "click", 3, 0, 62.494, -1, None, "retrieval"),
    (2216.911, 1, 1, "skip", 1, 1, nan, -1, None, "retrieval"),
    (2281.405, 1, 1, "query", -1, -1, nan, 7, "gure", "unknown"),
    (2287.405, 1, 1, "query", -1, -1, nan, 10, "dito dope menu", "unknown"),
    (2287.405, 1, 1, "search_impression", 4, 0, nan, 10, None, "search"),
    (2287.405, 1, 1, "search_impression", 0, 1, nan, 10, None, "search"),
    (2287.405, 1, 1, "search_impression", 2, 2, nan, 10, None, "search"),
    (2290.405, 1, 1, "query_abandon", -1, -1, nan, 10, None, "unknown"),
    (2290.405, 1, 1, "session_end", -1, -1, nan, -1, None, "unknown"),
    (3562.001, 2, 2, "session_start", -1, -1, nan, -1, None, "unknown"),
    (3562.001, 2, 2, "impression", 4, 0, nan, -1, None, "retrieval"),
    (3562.001, 2, 2, "impression", 2, 1, nan, -1, None, "retrieval"),
    (3562.001, 2, 2, "impression", 0, 2, nan, -1, None, "retrieval"),
    (3563.501, 2, 2, "skip", 4, 0, nan, -1, None, "retrieval"),
    (3565.001, 2, 2, "click", 2, 1, 42.649, -1, None, "retrieval"),
    (3566.501, 2, 2, "skip", 0, 2, nan, -1, None, "retrieval"),
    (3609.150, 2, 2, "impression", 3, 0, nan, -1, None, "retrieval"),
    (3609.150, 2, 2, "impression", 1, 1, nan, -1, None, "retrieval"),
    (3609.150, 2, 2, "impression", 4, 2, nan, -1, None, "retrieval"),
    (3610.650, 2, 2, "skip", 3, 0, nan, -1, None, "retrieval"),
    (3612.150, 2, 2, "skip", 1, 1, nan, -1, None, "retrieval"),
    (3612.150, 2, 2, "session_end", -1, -1, nan, -1, None, "unknown"),
    (5787.078, 0, 0, "session_start", -1, -1, nan, -1, None, "unknown"),
    (5787.078, 0, 0, "impression", 4, 0, nan, -1, None, "retrieval"),
    (5787.078, 0, 0, "impression", 2, 1, nan, -1, None, "retrieval"),
    (5787.078, 0, 0, "impression", 0, 2, nan, -1, None, "retrieval"),
    (5788.578, 0, 0, "skip", 4, 0, nan, -1, None, "retrieval"),
    (5788.578, 0, 0, "impression", 3, 0, nan, -1, None, "retrieval"),
    (5788.578, 0, 0, "impression", 1, 1, nan, -1, None, "retrieval"),
    (5788.578, 0, 0, "impression", 4, 2, nan, -1, None, "retrieval"),
    (5790.078, 0, 0, "skip", 3, 0, nan, -1, None, "retrieval"),
    (5791.578, 0, 0, "skip", 1, 1, nan, -1, None, "retrieval"),
    (5795.578, 0, 0, "query", -1, -1, nan, 0, "dito dope", "unknown"),
    (5795.578, 0, 0, "search_impression", 4, 0, nan, 0, None, "search"),
    (5795.578, 0, 0, "search_impression", 0, 1, nan, 0, None, "search"),
    (5795.578, 0, 0, "search_impression", 2, 2, nan, 0, None, "search"),
    (5797.078, 0, 0, "search_click", 4, 0, 104.249, 0, None, "search"),
    (5901.327, 0, 0, "session_end", -1, -1, nan, -1, None, "unknown"),
    (22039.549, 2, 5, "session_start", -1, -1, nan, -1, None, "unknown"),
    (22039.549, 2, 5, "impression", 4, 0, nan, -1, None, "retrieval"),
    (22039.549, 2, 5, "impression", 2, 1, nan, -1, None, "retrieval"),
    (22039.549, 2, 5, "impression", 0, 2, nan, -1, None, "retrieval"),
    (22041.049, 2, 5, "skip", 4, 0, nan, -1, None, "retrieval"),
    (22042.549, 2, 5, "skip", 2, 1, nan, -1, None, "retrieval"),
    (22042.549, 2, 5, "impression", 3, 0, nan, -1, None, "retrieval"),
    (22042.549, 2, 5, "impression", 1, 1, nan, -1, None, "retrieval"),
    (22042.549, 2, 5, "impression", 4, 2, nan, -1, None, "retrieval"),
    (22044.049, 2, 5, "skip", 3, 0, nan, -1, None, "retrieval"),
    (22045.549, 2, 5, "skip", 1, 1, nan, -1, None, "retrieval"),
    (22045.549, 2, 5, "session_end", -1, -1, nan, -1, None, "unknown"),
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
