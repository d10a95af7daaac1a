"""The OneFeed policy: log → behaviour, feedback log, ablations, determinism, conformance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from onefeed import EventType as B
from policies import make_policy
from policies.conformance import check_policy
from policies.onefeed_logs import ContentProfiles, ServedLists, UserHistories, feedback_log
from policies.onefeed_search import SearchClickStats, search_ranker
from sim.config import WorldConfig
from sim.events import Provenance
from sim.types import SearchBatch
from sim.world import build_world

COLUMNS = ["user_id", "time_s", "event", "item_id", "dwell_s", "query_id", "query", "origin"]


def log(rows: list[tuple]) -> pd.DataFrame:
    """A log slice from ``(user, time, event, item, dwell, query_id, query, origin)`` rows."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["event"] = pd.Categorical(frame["event"])
    frame["origin"] = pd.Categorical(frame["origin"])
    frame["dwell_s"] = frame["dwell_s"].astype(np.float32)
    return frame


NAN = float("nan")
WORDS = {"red": 0, "car": 1, "blue": 2}


def encode(text: str) -> np.ndarray:
    return np.array([WORDS[w] for w in (text or "").split() if w in WORDS], dtype=np.int64)


def test_log_to_behaviour_exact_sequences():
    events = log([
        (1, 5.0, "click", 7, 10.0, -1, None, "retrieval"),
        (0, 3.0, "skip", 4, NAN, -1, None, "retrieval"),
        (0, 1.0, "impression", 4, NAN, -1, None, "retrieval"),  # not behaviour
        (0, 2.0, "click", 3, 90.0, -1, None, "retrieval"),  # long dwell (>= 60 s)
        (0, 4.0, "query", -1, NAN, 11, "red car zzz", "unknown"),
        (0, 6.0, "search_click", 5, 20.0, 11, None, "search"),
        (2, 1.0, "session_start", -1, NAN, -1, None, "unknown"),
    ])  # fmt: skip
    hist = UserHistories(n_users=3, max_len=3, max_words=2)
    touched = hist.add_episode(events, encode, long_dwell_s=60.0)
    assert touched.tolist() == [0, 1]
    u0 = hist.sequences[0]
    # Time order 2 (long dwell 3), 3 (skip 4), 4 (query), 6 (search click 5); max_len 3.
    assert u0.items.tolist() == [4, -1, 5]
    assert u0.types.tolist() == [int(B.SKIP), int(B.QUERY), int(B.SEARCH_CLICK)]
    assert u0.query_words.tolist() == [[-1, -1], [0, 1], [-1, -1]]
    assert hist.sequences[1].items.tolist() == [7]
    assert hist.sequences[1].types.tolist() == [int(B.CLICK)]
    assert len(hist.sequences[2].items) == 0
    # A second episode appends and keeps the most recent max_len events.
    hist.add_episode(log([(1, 9.0, "click", 8, 70.0, -1, None, "retrieval")]), encode, 60.0)
    assert hist.sequences[1].items.tolist() == [7, 8]
    assert hist.sequences[1].types.tolist() == [int(B.CLICK), int(B.LONG_DWELL)]


def test_feedback_log_positives_negatives_and_query_credit():
    hist = UserHistories(2, 10, 4).sequences
    served = ServedLists(
        items=np.array([[10, 11, 12, 13], [20, 21, 22, 23]]),
        origin=np.full((2, 4), int(Provenance.RETRIEVAL), np.int8),
        query_of_item=np.array([[-1, -1, 0, -1], [-1, -1, -1, -1]]),
        queries=[["red car", "blue"], ["blue"]],
        histories=hist,
    )
    events = log([
        (0, 1.0, "impression", 10, NAN, -1, None, "retrieval"),
        (0, 1.0, "impression", 11, NAN, -1, None, "retrieval"),
        (0, 1.0, "impression", 12, NAN, -1, None, "query_expansion"),
        (0, 1.0, "impression", 13, NAN, -1, None, "exploration"),  # not generated
        (0, 2.0, "skip", 10, NAN, -1, None, "retrieval"),
        (0, 2.0, "click", 12, 80.0, -1, None, "query_expansion"),  # credited to query 0
        (0, 3.0, "suggestion_shown", -1, NAN, -1, "red car", "unknown"),
        (0, 3.0, "suggestion_shown", -1, NAN, -1, "blue", "unknown"),
        (0, 4.0, "suggestion_click", -1, NAN, 5, "blue", "unknown"),
        (0, 4.0, "query", -1, NAN, 5, "blue", "unknown"),
        (0, 5.0, "search_click", 30, 15.0, 5, None, "search"),
        (1, 1.0, "impression", 20, NAN, -1, None, "retrieval"),
        (1, 2.0, "click", 20, 5.0, -1, None, "retrieval"),
    ])  # fmt: skip
    fb = feedback_log(events, served, encode, 4, 60.0, ("retrieval", "query_expansion"))
    u0, u1 = fb.users
    assert u0.shown_items.tolist() == [10, 11, 12]
    assert u0.clicked.tolist() == [False, False, True]
    assert u0.long_dwell.tolist() == [False, False, True]
    assert u0.skipped.tolist() == [True, False, False]
    assert u0.shown_queries.tolist() == [[0, 1, -1, -1], [2, -1, -1, -1]]
    assert u0.query_clicked.tolist() == [False, True]
    # Result click of the clicked suggestion "blue" (index 1); feed click on the
    # expansion item 12 credited to "red car" (index 0).
    assert sorted(u0.query_result_clicks) == [(0, 12), (1, 30)]
    assert u1.shown_items.tolist() == [20]
    assert u1.clicked.tolist() == [True] and u1.long_dwell.tolist() == [False]
    assert u1.shown_queries.shape == (0, 4)


def small_config() -> WorldConfig:
    return WorldConfig.model_validate({
        "catalog": {"n_items": 300, "n_topics": 6, "words_per_topic": 12, "generic_vocab_size": 10},
        "users": {"n_users": 150},
        "episode_length_days": 1.0,
    })  # fmt: skip


FAST = {"min_fit_clicks": 5, "fit_epochs": 1, "enhance_budget": 200, "replay_users": 20}


def run(name: str, episodes: int = 3, seed: int = 0, **options):
    policy = make_policy(name, **{**FAST, **options})
    world = build_world(small_config(), seed, policy)
    logs = []
    snapshots = []
    for episode in range(episodes):
        events = world.run_episode(episode).events.to_pandas()
        logs.append(events)
        policy.update(events)
        snapshots.append(
            None if policy.model is None else {k: v.copy() for k, v in policy.model.params.items()}
        )
    return policy, logs, snapshots


@pytest.fixture(scope="module")
def full_run():
    return run("onefeed")


def test_full_policy_fits_expands_and_suggests(full_run):
    policy, logs, _ = full_run
    assert policy.model is not None
    last = logs[-1]
    kind = last["event"].astype(str)
    assert (kind == "suggestion_shown").any()
    assert (last.loc[kind == "impression", "origin"].astype(str) == "query_expansion").any()
    # This world has 6 x 12 topic words + 10 generic words for ~150 users x 3 queries
    # (~600 words), so distinct-1 is at most ~0.14; one query for everyone gives ~0.005.
    assert policy.health_metrics()["query_distinct_1"] > 0.03


def test_no_query_suggests_nothing_and_expands_nothing():
    policy, logs, _ = run("onefeed-no-query")
    assert policy.model is not None
    for events in logs:
        kind = events["event"].astype(str)
        assert not (kind == "suggestion_shown").any()
        assert not (events["origin"].astype(str) == "query_expansion").any()


def test_frozen_never_changes_parameters_after_first_fit():
    frozen, _, snapshots = run("onefeed-frozen")
    assert frozen.ranker.n_fits == 0  # the feed ranker is frozen too
    fitted = [s for s in snapshots if s is not None]
    assert len(fitted) >= 2
    for later in fitted[1:]:
        assert later.keys() == fitted[0].keys()
        assert all(np.array_equal(later[k], fitted[0][k]) for k in later)


def test_full_policy_changes_parameters_after_first_fit(full_run):
    _, _, snapshots = full_run
    fitted = [s for s in snapshots if s is not None]
    assert any(not np.array_equal(fitted[-1][k], fitted[0][k]) for k in fitted[0])


def test_deterministic_for_a_seed(full_run):
    policy, logs, _ = full_run
    again, logs_again, _ = run("onefeed")
    for a, b in zip(logs, logs_again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert np.array_equal(policy._served.items, again._served.items)


@pytest.mark.parametrize(
    "name",
    [
        "onefeed",
        "onefeed-no-query",
        "onefeed-no-align",
        "onefeed-frozen",
        "onefeed-frozen-model",
        "onefeed-no-model",
    ],
)
def test_check_policy_with_a_fitted_model(name):
    # Episode 0 of this world has far more than min_fit_clicks positives, so the
    # policy's update inside check_policy fits the model.
    world = build_world(small_config(), 0, make_policy("popularity"))
    check_policy(make_policy(name, **FAST), world)


def test_consumed_items_are_never_served_again(full_run):
    policy, logs, _ = full_run
    clicks = pd.concat(logs)
    clicks = clicks[clicks["event"].astype(str).isin(["click", "search_click"])]
    served = policy._served.items
    for user, items in clicks.groupby("user_id")["item_id"]:
        assert policy.histories.consumed[int(user)].tolist() == sorted(set(items.tolist()))
        # Consumed items only as the last filler, after every other available item.
        again = np.isin(served[int(user)], items.to_numpy())
        if again.any():
            assert again[np.argmax(again) :].all()


def test_search_puts_consumed_items_last(full_run):
    policy = full_run[0]
    user = int(np.argmax([c.size for c in policy.histories.consumed]))
    consumed = policy.histories.consumed[user][:2]
    engaged = np.union1d(policy.histories.consumed[user], policy.histories.sequences[user].items)
    fresh = np.setdiff1d(np.arange(40), engaged)[:3]  # never clicked nor skipped
    cand = np.concatenate([consumed, fresh])[None, :]
    batch = SearchBatch(
        user_ids=np.array([user], np.int32), query_ids=np.zeros(1, np.int64),
        queries=["anything"], candidates=cand, scores=np.linspace(5, 1, cand.shape[1])[None],
        time_s=0.0, episode=3,
    )  # fmt: skip
    ranked = policy.rank_search(batch)[0]
    assert set(ranked[-2:].tolist()) == set(consumed.tolist())


def test_the_ranker_is_refitted_on_logged_feedback(full_run):
    policy, _, _ = full_run
    assert policy.ranker.n_fits >= 1
    start = make_policy("onefeed").ranker.weights
    assert not np.allclose(policy.ranker.weights, start)


def test_the_search_ranker_is_fitted_on_logged_search_feedback(full_run):
    policy, logs, _ = full_run
    fresh = search_ranker(memory_episodes=3)
    assert policy.search.ranker.n_fits >= 1
    assert not np.allclose(policy.search.ranker.weights, fresh.weights)
    assert 0.0 < policy.search.ranker.continue_prob < 1.0
    # Every search click fed the click text of the clicked item.
    clicks = pd.concat(logs)
    n_clicks = (clicks["event"].astype(str) == "search_click").sum()
    assert n_clicks > 0 and policy.search.stats.counts.nnz > 0


def test_a_frozen_policy_never_refits_its_search_ranker():
    policy, logs, _ = run("onefeed-frozen")
    assert policy.search.ranker.n_fits == 0
    # Its search statistics are those of the log it was fitted on (episode 0) only.
    first = SearchClickStats(policy.search.stats.n_items)
    first.add_episode(logs[0], policy.options.pop_decay)
    assert (policy.search.stats.counts != first.counts).nnz == 0
    assert np.array_equal(policy.search.stats.examined, first.examined)


@pytest.mark.parametrize("name", ["onefeed", "onefeed-frozen"])
def test_items_released_after_the_fit_do_not_break_the_model(name):
    # New items arrive every day; the model's tables only cover its last fit, so
    # behaviour on newer items must read as "no item" (a drift-v1 run once died here).
    config = small_config().model_copy(
        update={"catalog": small_config().catalog.model_copy(update={"new_items_rate_per_day": 30})}
    )
    policy = make_policy(name, **FAST)
    world = build_world(config, 0, policy)
    for episode in range(4):
        policy.update(world.run_episode(episode).events.to_pandas())
    assert policy.model is not None and policy.model.n_items == 300
    assert world.catalog_view().n_items > 300
    served = policy._served.items
    assert (served >= 300).any()  # new items are served (content/popular candidates)


def test_the_search_page_reads_the_latest_state():
    # What the search page reads is built once per episode; a catalogue change and an
    # update must both replace it, or search would rank with last episode's state.
    config = small_config().model_copy(
        update={"catalog": small_config().catalog.model_copy(update={"new_items_rate_per_day": 30})}
    )
    policy = make_policy("onefeed", **FAST)
    world = build_world(config, 0, policy)
    policy.update(world.run_episode(0).events.to_pandas())
    for episode in (1, 2):
        before = policy._search_inputs()
        events = world.run_episode(episode).events.to_pandas()  # new items arrive
        during = policy._search_inputs()
        assert during is not before
        assert during.popularity.shape[0] == world.catalog_view().n_items
        policy.update(events)
        after = policy._search_inputs()
        assert after is not during and after.states is policy._states
        popularity, quality = policy._item_prior_parts()
        assert np.array_equal(after.popularity, popularity)
        assert np.array_equal(after.quality, quality)
        assert after.search_rate is policy._search_rate


def test_new_items_join_the_existing_word_space():
    content = ContentProfiles(2, svd_dim=2, n_clusters=2, seed=0, n_init=1)
    titles = ["red car fast", "red car", "blue sky", "blue sky wide", "car red", "sky blue"]
    content.set_catalog(titles)
    items, words = content.item_emb.copy(), content.word_vecs.copy()
    content.extend_catalog([*titles, "red car brandnew", "zzz"])
    # Old items and the word groups are untouched (profiles live in this space).
    assert np.array_equal(content.item_emb[:6], items)
    assert np.array_equal(content.word_vecs, words)
    # A new item is the normalised sum of its known words; unknown words count zero.
    expected = words[content.word_index["red"]] + words[content.word_index["car"]]
    assert content.item_emb[6] == pytest.approx(expected / np.linalg.norm(expected))
    assert not content.item_emb[7].any()


def test_history_membership_of_user_item_pairs():
    hist = UserHistories(n_users=3, max_len=2, max_words=1)
    hist.add_episode(log([
        (0, 1.0, "click", 4, 10.0, -1, None, "retrieval"),
        (0, 2.0, "skip", 5, NAN, -1, None, "retrieval"),
        (0, 3.0, "skip", 6, NAN, -1, None, "retrieval"),  # max_len 2: item 4 leaves
        (2, 1.0, "search_click", 4, 5.0, 1, None, "search"),
    ]), None, 60.0)  # fmt: skip
    consumed, recent = hist.membership(
        np.array([0, 1, 2]), np.array([[4, 5, 6], [4, 5, -1], [4, 6, -1]])
    )
    assert consumed.tolist() == [[True, False, False], [False, False, False], [True, False, False]]
    assert recent.tolist() == [[False, True, True], [False, False, False], [True, False, False]]
    # A later episode invalidates the cached keys.
    hist.add_episode(log([(1, 9.0, "click", 5, 1.0, -1, None, "retrieval")]), None, 60.0)
    consumed, _ = hist.membership(np.array([1]), np.array([[5]]))
    assert consumed.tolist() == [[True]]


def test_every_served_item_carries_its_declared_source(full_run):
    policy, logs, _ = full_run
    names = {"sid_beam", "query_expansion", "content", "popular"}
    assert {Provenance(int(c)).name.lower() for c in policy.sources} == names
    impressions = logs[-1][logs[-1]["event"].astype(str) == "impression"]
    origins = set(impressions["origin"].astype(str))
    assert origins <= names and {"sid_beam", "content"} <= origins
    # The prepared lists say the same: a SID-beam item was generated by the beam.
    served = policy._served
    beam = served.origin == int(Provenance.SID_BEAM)
    assert beam.any() and (served.items[beam] >= 0).all()
    health = policy.health_metrics()
    shares = [health[f"list_share_{n}"] for n in sorted(names)]
    assert sum(shares) == pytest.approx(1.0)


def test_health_reports_the_learnt_ranker_weights(full_run):
    from policies.onefeed_ranker import FEATURES
    from policies.onefeed_search import SEARCH_FEATURES

    policy, _, _ = full_run
    health = policy.health_metrics()
    assert [health[f"ranker_w_{f}"] for f in FEATURES] == policy.ranker.weights.tolist()
    assert [health[f"search_w_{f}"] for f in SEARCH_FEATURES] == (
        policy.search.ranker.weights.tolist()
    )
    assert health["ranker_fits"] == policy.ranker.n_fits


def test_frozen_model_keeps_learning_everything_but_the_model():
    frozen_model, _, snapshots = run("onefeed-frozen-model", episodes=3)
    fitted = [s for s in snapshots if s is not None]
    assert len(fitted) >= 2
    assert all(np.array_equal(fitted[-1][k], fitted[0][k]) for k in fitted[0])
    # The ranker still learns after the first fit (onefeed-frozen's never refits: the
    # test of the frozen policy's search ranker above, and its feed ranker below).
    assert frozen_model.ranker.n_fits >= 1
    assert frozen_model.options.self_enhance is False
    assert frozen_model.options.freeze_scaffolding is False


def test_no_model_serves_the_same_stack_without_the_generative_model():
    policy, logs, snapshots = run("onefeed-no-model")
    assert policy.model is None and all(s is None for s in snapshots)
    last = logs[-1]
    kind = last["event"].astype(str)
    origins = set(last.loc[kind == "impression", "origin"].astype(str))
    assert "sid_beam" not in origins and "content" in origins
    # Expansion and suggestions still run, from profile-word queries.
    assert "query_expansion" in origins and (kind == "suggestion_shown").any()
    # The model's features are absent (zero) from every prepared item.
    from policies.onefeed_ranker import FEATURES

    feats = policy._served_features
    for name in ("model", "sid", "intent"):
        col = feats[..., FEATURES.index(name)]
        assert np.nan_to_num(col).max() == 0.0 == np.nan_to_num(col).min()
