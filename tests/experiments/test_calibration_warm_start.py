"""The warm-start log of a calibrated world (:mod:`experiments.calibration.warm_start`).

The exact frame of a toy history, its dtypes against a real episode's log, and what
every registered policy does with it: learns from it without error and serves the next
episode; ``popularity`` and ``itemknn`` learn what the consumptions say.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.calibration.warm_start import warm_start_frame
from policies import available_policies, make_policy
from sim.config import WorldConfig
from sim.log import episode_frame
from sim.types import FeedBatch, PolicyContext
from sim.world import build_world

CONFIG = {
    "catalog": {"n_items": 120, "n_topics": 6, "words_per_topic": 10, "generic_vocab_size": 8},
    "users": {"n_users": 40},
    "episode_length_days": 0.1,
}
#: OneFeed (and its ablations) small and quick: one fit epoch, short lists, few replays.
ONEFEED_FAST = {
    "min_fit_clicks": 5,
    "fit_epochs": 1,
    "enhance_budget": 200,
    "replay_users": 20,
    "list_len": 60,
    "content_candidates": 40,
}


def tiny_world(policy):
    return build_world(WorldConfig.model_validate(CONFIG), 0, policy)


def histories(n_users: int, n_items: int, seed: int = 0) -> list[np.ndarray]:
    """Random training sequences, a third of the users without any."""
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, n_items, rng.integers(1, 9)) if u % 3 else np.zeros(0, np.int64)
        for u in range(n_users)
    ]


def bound(name: str, **params) -> tuple[object, PolicyContext]:
    """A policy bound to a tiny world's catalogue and search engine (no world run)."""
    world = tiny_world(make_policy("random"))
    policy = make_policy(name, **params)
    context = PolicyContext(
        catalog=world.catalog_view(), search=world.index, n_users=world.n_users,
        slate_size=world.config.feed.slate_size,
        n_suggestions=world.config.suggestions.n_suggestions, rng=np.random.default_rng(3),
    )  # fmt: skip
    policy.bind(context)
    return policy, context


def first_page(policy, users: list[int], slate_size: int) -> np.ndarray:
    n = len(users)
    batch = FeedBatch(
        user_ids=np.array(users, np.int32), session_ids=np.arange(n, dtype=np.int64),
        page=np.zeros(n, np.int16), time_s=0.0, episode=0, slate_size=slate_size,
    )  # fmt: skip
    return np.asarray(policy.recommend(batch).slates)


# ---------------------------------------------------------------------------- the frame
def test_two_users_frame_row_by_row():
    frame = warm_start_frame([np.array([4, 2]), np.array([], np.int64), np.array([7])])
    assert list(frame.index) == list(range(10))
    expected = pd.DataFrame(
        {
            "user_id": [0, 0, 0, 0, 0, 0, 2, 2, 2, 2],
            "session_id": [-1, -1, -1, -1, -1, -1, -3, -3, -3, -3],
            "event": ["session_start", "impression", "click", "impression", "click",
                      "session_end", "session_start", "impression", "click", "session_end"],
            "item_id": [-1, 4, 4, 2, 2, -1, -1, 7, 7, -1],
            "position": [-1, 0, 0, 0, 0, -1, -1, 0, 0, -1],
            "time_s": [-6.0, -5.0, -4.0, -3.0, -2.0, -1.0, -4.0, -3.0, -2.0, -1.0],
        }
    )  # fmt: skip
    for column in expected:
        assert frame[column].astype(object).tolist() == expected[column].tolist(), column
    assert (frame["episode"] == -1).all()
    assert frame["dwell_s"].isna().all()
    assert (frame["query_id"] == -1).all()
    assert frame["query"].isna().all()
    assert (frame["origin"].astype(str) == "unknown").all()


def test_session_ids_and_times_follow_the_arguments():
    frame = warm_start_frame([np.array([1]), np.array([3, 5])], first_session_id=-10, end_s=-100)
    assert frame.groupby("user_id")["session_id"].unique().map(list).tolist() == [[-10], [-11]]
    assert frame["time_s"].max() < -100
    for _, rows in frame.groupby("user_id"):
        assert (np.diff(rows["time_s"].to_numpy()) > 0).all()


def test_dtypes_equal_a_real_episode_frame():
    world = tiny_world(make_policy("popularity"))
    real = episode_frame(world.run_episode(0).events)
    frame = warm_start_frame(histories(world.n_users, 120))
    assert list(frame.columns) == list(real.columns)
    assert frame.dtypes.to_dict() == real.dtypes.to_dict()  # categories included
    for column in ("event", "origin"):
        assert list(frame[column].cat.categories) == list(real[column].cat.categories)
    assert type(frame.index) is type(real.index)


@pytest.mark.parametrize("given", [[], [np.zeros(0, np.int64)], [np.array([]), np.array([])]])
def test_empty_histories_give_an_empty_frame_of_the_same_dtypes(given):
    frame = warm_start_frame(given)
    assert len(frame) == 0
    assert frame.dtypes.to_dict() == warm_start_frame([np.array([1])]).dtypes.to_dict()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="first_session_id"):
        warm_start_frame([np.array([1])], first_session_id=0)
    with pytest.raises(ValueError, match="item ids"):
        warm_start_frame([np.array([-1])])
    with pytest.raises(ValueError, match="integers"):
        warm_start_frame([np.array([1.5])])


# ------------------------------------------------------------------ every policy
@pytest.mark.filterwarnings("error::RuntimeWarning")  # e.g. a NaN statistic after it
@pytest.mark.parametrize("name", available_policies())
def test_every_policy_learns_from_the_warm_start_then_serves(name):
    params = ONEFEED_FAST if name.startswith("onefeed") else {}
    policy = make_policy(name, **params)
    if getattr(policy, "needs_ground_truth", False):
        pytest.skip("an upper bound reading ground truth: not warm-started")
    world = tiny_world(policy)  # binds the policy
    policy.update(warm_start_frame(histories(world.n_users, world.catalog_view().n_items)))
    result = world.run_episode(0)  # the serving layer validates every slate
    assert result.events.num_rows > 0
    policy.update(episode_frame(result.events))  # and it goes on learning from the run


def test_onefeed_reads_no_click_rates_from_the_warm_start():
    policy = make_policy("onefeed", **ONEFEED_FAST)
    world = tiny_world(policy)
    frame = warm_start_frame(histories(world.n_users, world.catalog_view().n_items))
    policy.update(frame)
    assert policy.model is not None  # fitted on the warm-start sequences
    assert policy._examined.sum() == 0 and policy._feed_clicks.sum() == 0
    assert policy._clicks.sum() == (frame["event"] == "click").sum()  # consumptions count
    popularity, quality = policy._item_prior_parts()
    assert np.isfinite(popularity).all() and (quality == 0).all()


# ----------------------------------------------------------------------- behaviour
def test_popularity_serves_the_most_consumed_items_first():
    policy, context = bound("popularity")
    # item 9: 4 consumptions, item 5: 3, item 2: 2, items 0, 1: 1 each
    warm = [np.array([9, 5, 2]), np.array([9, 5]), np.array([9, 2, 0]), np.array([9, 5, 1])]
    policy.update(warm_start_frame(warm))
    slates = first_page(policy, [0, 7, 30], context.slate_size)
    assert (slates[:, :3] == [9, 5, 2]).all()


def test_itemknn_serves_an_item_co_consumed_with_the_history():
    policy, context = bound("itemknn")
    warm = [np.array([1, 2])] * 3 + [np.array([3, 4])] * 2 + [np.array([1]), np.array([3])]
    policy.update(warm_start_frame(warm))
    slates = first_page(policy, [5, 6], context.slate_size)
    assert slates[0, 0] == 2  # consumed with 1 by users 0-2; 1 itself was consumed
    assert slates[1, 0] == 4  # consumed with 3 by users 3-4
    assert 1 not in slates[0] and 3 not in slates[1]
