import io

import numpy as np
import pyarrow as pa
import pytest

from sim.events import EVENT_SCHEMA
from sim.world import TruthSnapshot

from .helpers import make_world, small_config


def _bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_same_seed_same_bytes_different_seed_different():
    cfg = small_config(100)
    a = make_world(cfg, seed=5).run_episode(0).events
    b = make_world(cfg, seed=5).run_episode(0).events
    c = make_world(cfg, seed=6).run_episode(0).events
    assert a.schema == EVENT_SCHEMA
    assert _bytes(a) == _bytes(b)
    assert _bytes(a) != _bytes(c)


def test_batch_window_changes_grouping_not_behaviour_statistics():
    small = make_world(small_config(150, serving={"batch_window_s": 1.0})).run_episode(0)
    large = make_world(small_config(150, serving={"batch_window_s": 600.0})).run_episode(0)
    assert abs(small.n_sessions - large.n_sessions) < 0.2 * small.n_sessions


@pytest.mark.parametrize("policy", ["random", "popularity"])
def test_baselines_run_through_the_serving_path(policy):
    world = make_world(small_config(150), policy=policy)
    for episode in range(2):
        result = world.run_episode(episode)
        df = result.events.to_pandas()
        world.policy.update(df)
        assert result.n_slates == (df.event == "impression").sum() // world.config.feed.slate_size
        assert result.n_sessions == (df.event == "session_start").sum()
        assert (df.event == "session_end").sum() == result.n_sessions
        assert set(df.episode) == {episode}
        assert isinstance(result.truth, TruthSnapshot)


def test_common_random_numbers_across_policies():
    cfg = small_config(150)
    a = make_world(cfg, seed=3, policy="random")
    b = make_world(cfg, seed=3, policy="popularity")
    assert a.catalog_view().titles == b.catalog_view().titles
    assert np.array_equal(a.population.interests, b.population.interests)
    da = a.run_episode(0).events.to_pandas()
    db = b.run_episode(0).events.to_pandas()
    first_a = da[da.event == "session_start"].groupby("user_id").time_s.min()
    first_b = db[db.event == "session_start"].groupby("user_id").time_s.min()
    assert first_a.equals(first_b)
    assert not da.equals(db)


def test_query_ids_link_query_events():
    cfg = small_config(300, suggestions={"n_suggestions": 3})
    world = make_world(cfg)
    world.policy.update(world.run_episode(0).events.to_pandas())
    df = world.run_episode(1).events.to_pandas()
    queries = df[df.event == "query"]
    assert queries.query_id.is_unique and (queries.query_id >= 0).all()
    assert queries["query"].notna().all()
    linked = df[df.event.isin(["search_impression", "search_click", "query_abandon",
                               "suggestion_click"])]  # fmt: skip
    assert len(linked) > 0
    assert set(linked.query_id) <= set(queries.query_id)
    q_session = queries.set_index("query_id").session_id
    assert (linked.session_id.to_numpy() == q_session.loc[linked.query_id].to_numpy()).all()
    sc = df[df.event == "suggestion_click"]
    assert len(sc) > 0
    assert (sc["query"].to_numpy() == queries.set_index("query_id").loc[sc.query_id, "query"]
            .to_numpy()).all()  # fmt: skip
    assert (df[df.event == "impression"].query_id == -1).all()


def test_sessions_are_self_contained_and_time_ordered_per_user():
    world = make_world(small_config(150))
    df = world.run_episode(0).events.to_pandas()
    for _, rows in df.groupby("session_id"):
        assert rows.event.iloc[0] == "session_start"
        assert rows.event.iloc[-1] == "session_end"
        assert (np.diff(rows.time_s.to_numpy()) >= 0).all()
    for _, rows in df.groupby("user_id"):
        assert (np.diff(rows.time_s.to_numpy()) >= 0).all()


def test_drift_split_adds_up_and_switches_off():
    world = make_world(small_config(100))
    initial = world.population.interests.copy()
    for e in range(2):
        truth = world.run_episode(e).truth
    total = initial + truth.drift_endogenous + truth.drift_exogenous
    assert truth.interests == pytest.approx(total, abs=1e-5)
    assert np.abs(truth.drift_endogenous).sum() > 0
    assert np.abs(truth.drift_exogenous).sum() > 0
    assert truth.interests.sum(axis=1) == pytest.approx(np.ones(100), abs=1e-5)

    no_endo = make_world(small_config(100, drift={"endogenous_rate": 0.0})).run_episode(0).truth
    assert np.abs(no_endo.drift_endogenous).max() < 1e-12
    no_exo = make_world(small_config(100, drift={"exogenous_sd_per_day": 0.0})).run_episode(0).truth
    assert np.abs(no_exo.drift_exogenous).max() < 1e-12


def test_new_items_arrive_and_policy_is_told():
    cfg = small_config(100, catalog={"new_items_rate_per_day": 200.0, "release_interval_hours": 6})
    world = make_world(cfg, policy="random")
    seen = []
    original = world.policy.on_catalog_change

    def spy(view):
        seen.append(view.n_items)
        original(view)

    world.policy.on_catalog_change = spy
    n0 = world.catalog_view().n_items
    world.run_episode(0)
    assert len(seen) >= 1 and seen == sorted(seen) and seen[-1] > n0
    assert world.catalog_view().n_items == seen[-1]
    assert world.catalog_view().available.all()


def test_episodes_must_run_in_order():
    world = make_world(small_config(10))
    with pytest.raises(ValueError, match="expected episode 0"):
        world.run_episode(1)
